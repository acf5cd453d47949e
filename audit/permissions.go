package audit

// MemberActions are the IAM actions keyaudit calls inside an audited
// account. template.yaml grants exactly these to the member role, and a test
// holds the two together.
var MemberActions = []string{
	"iam:GenerateCredentialReport",
	"iam:GetCredentialReport",
	"iam:GetAccountSummary",
	"iam:ListAccessKeys",
	"iam:GetAccessKeyLastUsed",
	"cloudtrail:LookupEvents",
}
