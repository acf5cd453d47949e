package audit

// The IAM actions keyaudit calls are listed here once. template.yaml grants
// exactly these, and a test (lambda/template_test.go) holds the two together.

// MemberActions are called inside each audited account, through the member
// role: the audit itself, and CloudTrail for --trail and whois.
var MemberActions = []string{
	"iam:GenerateCredentialReport",
	"iam:GetCredentialReport",
	"iam:GetAccountSummary",
	"iam:ListAccessKeys",
	"iam:GetAccessKeyLastUsed",
	"iam:GetAccountAuthorizationDetails", // the kill-first ranking's blast radius
	"iam:GetPolicy",                      // an attached AWS-managed policy not in inventory.ManagedPolicies
	"iam:GetPolicyVersion",
	"cloudtrail:LookupEvents",
	// Real time: one principal judged when an event names it (keyaudit
	// event, the event function), read one by one: the credential report
	// may be 4 hours old, and GetAccountAuthorizationDetails is the whole
	// account (docs/event.md).
	"iam:GetUser",
	"iam:GetLoginProfile",
	"iam:ListMFADevices",
	"iam:ListAttachedUserPolicies",
	"iam:ListUserPolicies",
	"iam:GetUserPolicy",
	"iam:ListGroupsForUser",
	"iam:ListAttachedGroupPolicies",
	"iam:ListGroupPolicies",
	"iam:GetGroupPolicy",
}

// AuditorActions are called by the nightly Lambda function's own role. It
// audits its own account through the member role too, so it needs no IAM
// read access itself. sts:GetCallerIdentity needs no permission.
var AuditorActions = []string{
	"organizations:ListAccounts",
	// The event function's check that an event's account is in the
	// organization: one call per account, not a listing.
	// Service control policies along each account's path (SCPs); the
	// blast radius is judged without them when these are not granted.
	"organizations:DescribeOrganization",
	"organizations:ListParents",
	"organizations:ListPoliciesForTarget",
	"organizations:DescribePolicy",
	"sts:AssumeRole",                // the member role; the remediation role with a Lambda policy on
	"s3:GetObject",                  // the previous latest.json, and a config file in S3
	"s3:PutObject",                  // the reports
	"secretsmanager:GetSecretValue", // the Slack webhook URL or bot token
	"ssm:GetParameter",              // a config in Parameter Store
}

// EventFunctionActions are called by the event function's own role
// (template.yaml, RealTime=Enabled): the nightly role's, but each event's
// account is looked up (is it in the organization?) rather than the
// organization listed.
var EventFunctionActions = []string{
	"organizations:DescribeAccount",
	"organizations:DescribeOrganization",
	"organizations:ListParents",
	"organizations:ListPoliciesForTarget",
	"organizations:DescribePolicy",
	"sts:AssumeRole",
	"s3:GetObject",
	"s3:PutObject",
	"secretsmanager:GetSecretValue",
	"ssm:GetParameter",
}

// RemediationActions are called by keyaudit apply and undo in each account,
// through the remediation role (template.yaml, Remediation=Enabled): the
// changes, and the reads that decide them (the exemption tag, the key's
// status and last use, whether the quarantine policy is attached). Attach
// and detach are granted for AWS's quarantine policy only.
var RemediationActions = []string{
	"iam:ListUserTags",
	"iam:ListAccessKeys",
	"iam:GetAccessKeyLastUsed",
	"iam:ListAttachedUserPolicies",
	"iam:UpdateAccessKey",
	"iam:AttachUserPolicy",
	"iam:DetachUserPolicy",
}

// RemediationDeleteActions are granted to the remediation role only with
// RemediationDeletion=Enabled: apply --delete-after.
var RemediationDeleteActions = []string{"iam:DeleteAccessKey"}
