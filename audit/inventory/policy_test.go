package inventory_test

import (
	"net/url"
	"testing"

	"github.com/keyaudit/keyaudit/audit/inventory"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func doc(statements string) string { return `{"Version":"2012-10-17","Statement":` + statements + `}` }

func TestClassifyPolicies(t *testing.T) {
	admin := inventory.ManagedPolicies["arn:aws:iam::aws:policy/AdministratorAccess"]
	cases := []struct {
		name     string
		policies []inventory.Policy
		boundary *inventory.Policy
		scps     []inventory.SCPLevel
		want     inventory.Class
		check    func(t *testing.T, p inventory.Permissions)
	}{
		{name: "no policy", want: inventory.ClassNone},
		{name: "star on star", want: inventory.ClassAdmin,
			policies: []inventory.Policy{{Name: "all", Document: doc(`{"Effect":"Allow","Action":"*","Resource":"*"}`)}}},
		{name: "admin only through a group", want: inventory.ClassAdmin,
			policies: []inventory.Policy{
				{Name: "AdministratorAccess", ARN: "arn:aws:iam::aws:policy/AdministratorAccess", Via: "admins", Document: admin},
				{Name: "self", Document: doc(`[{"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::logs"}]`)},
			},
			check: func(t *testing.T, p inventory.Permissions) {
				assert.True(t, p.FromGroups, "case admin through group: from groups")
				assert.Equal(t, []string{`"*" on "*" via group admins: AdministratorAccess`}, p.Grants, "case admin through group: grants")
			}},
		{name: "star on one bucket is not admin", want: inventory.ClassEscalation,
			policies: []inventory.Policy{{Name: "p", Document: doc(`{"Effect":"Allow","Action":"*","Resource":"arn:aws:s3:::bucket"}`)}}},
		{name: "iam wildcard escalates", want: inventory.ClassEscalation,
			policies: []inventory.Policy{{Name: "p", Document: doc(`{"Effect":"Allow","Action":"iam:Put*","Resource":"arn:aws:iam::111111111111:user/*"}`)}},
			check: func(t *testing.T, p inventory.Permissions) {
				assert.Equal(t, []string{"iam:PutUserPolicy via p", "iam:PutGroupPolicy via p", "iam:PutRolePolicy via p"}, p.Grants, "case iam:Put*: grants")
			}},
		{name: "pass role alone is write", want: inventory.ClassWrite,
			policies: []inventory.Policy{{Name: "p", Document: doc(`{"Effect":"Allow","Action":"iam:PassRole","Resource":"*"}`)}}},
		{name: "pass role with run instances escalates", want: inventory.ClassEscalation,
			policies: []inventory.Policy{
				{Name: "pass", Document: doc(`{"Effect":"Allow","Action":"iam:PassRole","Resource":"arn:aws:iam::111111111111:role/app"}`)},
				{Name: "ec2", Via: "ops", Document: doc(`{"Effect":"Allow","Action":["ec2:RunInstances","ec2:Describe*"],"Resource":"*"}`)},
			},
			check: func(t *testing.T, p inventory.Permissions) {
				assert.Equal(t, []string{"iam:PassRole with ec2:RunInstances via group ops: ec2"}, p.Grants, "case pass role: grants")
				assert.True(t, p.FromGroups, "case pass role: needs the group")
			}},
		{name: "assume role on every role", want: inventory.ClassEscalation,
			policies: []inventory.Policy{{Name: "p", Document: doc(`{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"arn:aws:iam::*:role/*"}`)}}},
		{name: "assume role on one role is write", want: inventory.ClassWrite,
			policies: []inventory.Policy{{Name: "p", Document: doc(`{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"arn:aws:iam::111111111111:role/deploy"}`)}}},
		{name: "get object on every bucket", want: inventory.ClassData,
			policies: []inventory.Policy{{Name: "p", Document: doc(`{"Effect":"Allow","Action":"s3:Get*","Resource":"arn:aws:s3:::*/*"}`)}}},
		{name: "get object on one bucket is read-only", want: inventory.ClassReadOnly,
			policies: []inventory.Policy{{Name: "p", Document: doc(`{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::bucket/*"}`)}}},
		{name: "secrets on every secret", want: inventory.ClassData,
			policies: []inventory.Policy{{Name: "p", Document: doc(`{"Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":"arn:aws:secretsmanager:*:111111111111:secret:*"}`)}}},
		{name: "not action grants the rest", want: inventory.ClassEscalation,
			policies: []inventory.Policy{{Name: "PowerUserAccess", Document: inventory.ManagedPolicies["arn:aws:iam::aws:policy/PowerUserAccess"]}},
			check: func(t *testing.T, p inventory.Permissions) {
				assert.Equal(t, 1, p.NotActions, "case NotAction: counted")
				assert.Equal(t, []string{"lambda:UpdateFunctionCode via PowerUserAccess", "glue:UpdateDevEndpoint via PowerUserAccess", "ssm:SendCommand via PowerUserAccess",
					"ec2-instance-connect:SendSSHPublicKey via PowerUserAccess", `sts:AssumeRole on "*" via PowerUserAccess`}, p.Grants, "case NotAction: grants")
			}},
		{name: "not resource is broad", want: inventory.ClassData,
			policies: []inventory.Policy{{Name: "p", Document: doc(`{"Effect":"Allow","Action":"kms:Decrypt","NotResource":"arn:aws:kms:eu-west-1:111111111111:key/one"}`)}}},
		{name: "a condition counts as granted", want: inventory.ClassEscalation,
			policies: []inventory.Policy{{Name: "p", Document: doc(`{"Effect":"Allow","Action":"iam:CreateAccessKey","Resource":"*","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}}`)}},
			check: func(t *testing.T, p inventory.Permissions) {
				assert.Equal(t, 1, p.Conditions, "case condition: counted")
			}},
		{name: "an unconditional deny is subtracted", want: inventory.ClassWrite,
			policies: []inventory.Policy{{Name: "p", Document: doc(`[{"Effect":"Allow","Action":["iam:*"],"Resource":"*"},{"Effect":"Deny","Action":["iam:Create*","iam:Update*","iam:Attach*","iam:Put*","iam:Set*","iam:AddUserToGroup"],"Resource":"*"}]`)}}},
		{name: "a conditional deny is only counted", want: inventory.ClassAdmin,
			policies: []inventory.Policy{{Name: "p", Document: admin}, {Name: "d", Document: doc(`{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}`)}},
			check: func(t *testing.T, p inventory.Permissions) {
				assert.Equal(t, 1, p.Denies, "case conditional deny: counted")
			}},
		{name: "read verbs only", want: inventory.ClassReadOnly,
			policies: []inventory.Policy{{Name: "ViewOnlyAccess", Document: inventory.ManagedPolicies["arn:aws:iam::aws:policy/job-function/ViewOnlyAccess"]}}},
		{name: "a boundary lowers the class", want: inventory.ClassReadOnly,
			policies: []inventory.Policy{{Name: "AdministratorAccess", Document: admin}},
			boundary: &inventory.Policy{Name: "readers", ARN: "arn:aws:iam::111111111111:policy/readers", Document: doc(`{"Effect":"Allow","Action":["ec2:Describe*"],"Resource":"*"}`)},
			check: func(t *testing.T, p inventory.Permissions) {
				assert.True(t, p.BoundaryCapped, "case boundary: capped")
				assert.Equal(t, "arn:aws:iam::111111111111:policy/readers", p.Boundary, "case boundary: noted")
			}},
		// Issue 19 observation 5.
		{name: "star-colon-star on star is admin", want: inventory.ClassAdmin,
			policies: []inventory.Policy{{Name: "p", Document: doc(`{"Effect":"Allow","Action":"*:*","Resource":"*"}`)}}},
		{name: "allow star minus an unconditional deny star is none", want: inventory.ClassNone,
			policies: []inventory.Policy{{Name: "p", Document: admin}, {Name: "d", Document: doc(`{"Effect":"Deny","Action":"*","Resource":"*"}`)}}},
		{name: "a boundary intersects: what it does not allow is not granted", want: inventory.ClassNone,
			policies: []inventory.Policy{{Name: "p", Document: doc(`{"Effect":"Allow","Action":"iam:CreateAccessKey","Resource":"*"}`)}},
			boundary: &inventory.Policy{Name: "s3-only", ARN: "arn:aws:iam::111111111111:policy/s3-only", Document: doc(`{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}`)}},
		{name: "a boundary intersects: what both allow stays", want: inventory.ClassData,
			policies: []inventory.Policy{{Name: "p", Document: admin}},
			boundary: &inventory.Policy{Name: "s3-only", ARN: "arn:aws:iam::111111111111:policy/s3-only", Document: doc(`{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}`)}},
		// Escalation paths in Rhino Security Labs' list
		// (rhinosecuritylabs.com/aws/aws-privilege-escalation-methods-mitigation),
		// cloudsplaining's PRIVILEGE_ESCALATION_METHODS and pmapper's edge
		// checkers (lambda, glue, ssm, ec2-instance-connect, datapipeline,
		// codebuild, sagemaker, ecs).
		{name: "lambda update function code escalates", want: inventory.ClassEscalation,
			policies: []inventory.Policy{{Name: "p", Document: doc(`{"Effect":"Allow","Action":"lambda:UpdateFunctionCode","Resource":"*"}`)}}},
		{name: "glue update dev endpoint escalates", want: inventory.ClassEscalation,
			policies: []inventory.Policy{{Name: "p", Document: doc(`{"Effect":"Allow","Action":"glue:UpdateDevEndpoint","Resource":"*"}`)}}},
		{name: "ssm send command escalates", want: inventory.ClassEscalation,
			policies: []inventory.Policy{{Name: "p", Document: doc(`{"Effect":"Allow","Action":"ssm:SendCommand","Resource":"*"}`)}}},
		{name: "ec2 instance connect escalates", want: inventory.ClassEscalation,
			policies: []inventory.Policy{{Name: "p", Document: doc(`{"Effect":"Allow","Action":"ec2-instance-connect:SendSSHPublicKey","Resource":"*"}`)}}},
		{name: "pass role with datapipeline escalates", want: inventory.ClassEscalation,
			policies: []inventory.Policy{{Name: "p", Document: doc(`{"Effect":"Allow","Action":["iam:PassRole","datapipeline:CreatePipeline"],"Resource":"*"}`)}}},
		{name: "pass role with codebuild escalates", want: inventory.ClassEscalation,
			policies: []inventory.Policy{{Name: "p", Document: doc(`{"Effect":"Allow","Action":["iam:PassRole","codebuild:CreateProject"],"Resource":"*"}`)}}},
		{name: "pass role with sagemaker escalates", want: inventory.ClassEscalation,
			policies: []inventory.Policy{{Name: "p", Document: doc(`{"Effect":"Allow","Action":["iam:PassRole","sagemaker:CreateNotebookInstance"],"Resource":"*"}`)}}},
		{name: "pass role with ecs escalates", want: inventory.ClassEscalation,
			policies: []inventory.Policy{{Name: "p", Document: doc(`{"Effect":"Allow","Action":["iam:PassRole","ecs:RunTask"],"Resource":"*"}`)}}},
		{name: "ssm parameters everywhere are data", want: inventory.ClassData,
			policies: []inventory.Policy{{Name: "p", Document: doc(`{"Effect":"Allow","Action":"ssm:GetParameter*","Resource":"*"}`)}}},
		// Service control policies along the account's path: every level
		// must allow an action, a Deny at any level subtracts it.
		{name: "an SCP denying iam in an OU caps escalation", want: inventory.ClassNone,
			policies: []inventory.Policy{{Name: "p", Document: doc(`{"Effect":"Allow","Action":"iam:*","Resource":"*"}`)}},
			scps:     []inventory.SCPLevel{root(), denyIAM()},
			check: func(t *testing.T, p inventory.Permissions) {
				assert.True(t, p.SCPCapped, "case SCP deny iam: capped")
				assert.False(t, p.BoundaryCapped, "case SCP deny iam: not the boundary")
				assert.Equal(t, []string{"within service control policies ou-ab12-cdef3456: DenyIAM"}, p.Grants, "case SCP deny iam: grants")
			}},
		{name: "an SCP denying iam leaves the rest", want: inventory.ClassEscalation,
			policies: []inventory.Policy{{Name: "AdministratorAccess", Document: admin}},
			scps:     []inventory.SCPLevel{root(), denyIAM()},
			check: func(t *testing.T, p inventory.Permissions) {
				assert.True(t, p.SCPCapped, "case admin under deny iam: capped below administrator")
				assert.NotContains(t, p.Grants, "iam:CreateAccessKey via AdministratorAccess", "case admin under deny iam: no iam action")
				assert.Contains(t, p.Grants, "lambda:UpdateFunctionCode via AdministratorAccess", "case admin under deny iam: lambda stays")
			}},
		{name: "full access at every level caps nothing", want: inventory.ClassEscalation,
			policies: []inventory.Policy{{Name: "p", Document: doc(`{"Effect":"Allow","Action":"iam:CreateAccessKey","Resource":"*"}`)}},
			scps:     []inventory.SCPLevel{root(), {Target: "111111111111", Policies: []inventory.Policy{fullAccess()}}},
			check: func(t *testing.T, p inventory.Permissions) {
				assert.False(t, p.SCPCapped, "case full access: not capped")
			}},
		{name: "an allow-list SCP intersects", want: inventory.ClassReadOnly,
			policies: []inventory.Policy{{Name: "AdministratorAccess", Document: admin}},
			scps: []inventory.SCPLevel{root(), {Target: "ou-ab12-cdef3456", Policies: []inventory.Policy{
				{Name: "ReadOnly", Document: doc(`{"Effect":"Allow","Action":["ec2:Describe*","s3:List*"],"Resource":"*"}`)}}}}},
		{name: "the boundary and the SCPs both cap", want: inventory.ClassNone,
			policies: []inventory.Policy{{Name: "AdministratorAccess", Document: admin}},
			boundary: &inventory.Policy{Name: "iam-only", ARN: "arn:aws:iam::111111111111:policy/iam-only", Document: doc(`{"Effect":"Allow","Action":"iam:*","Resource":"*"}`)},
			scps:     []inventory.SCPLevel{root(), denyIAM()},
			check: func(t *testing.T, p inventory.Permissions) {
				assert.True(t, p.BoundaryCapped, "case both: boundary capped")
				assert.True(t, p.SCPCapped, "case both: SCP capped")
			}},
		{name: "an unreadable policy is named", want: inventory.ClassNone,
			policies: []inventory.Policy{{Name: "vendor", ARN: "arn:aws:iam::aws:policy/Vendor"}, {Name: "broken", Document: "{"}},
			check: func(t *testing.T, p inventory.Permissions) {
				assert.Equal(t, []string{"vendor", "broken"}, p.Unread, "case unreadable: named")
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := inventory.ClassifyPolicies(c.policies, c.boundary, c.scps)
			assert.Equal(t, c.want, got.Class, "case %s: %v", c.name, got.Grants)
			if c.check != nil {
				c.check(t, got)
			}
		})
	}
}

func fullAccess() inventory.Policy {
	return inventory.Policy{Name: "FullAWSAccess", ARN: "arn:aws:organizations::aws:policy/service_control_policy/p-FullAWSAccess",
		Document: doc(`{"Effect":"Allow","Action":"*","Resource":"*"}`)}
}

func root() inventory.SCPLevel {
	return inventory.SCPLevel{Target: "r-ab12", Policies: []inventory.Policy{fullAccess()}}
}

func denyIAM() inventory.SCPLevel {
	return inventory.SCPLevel{Target: "ou-ab12-cdef3456", Policies: []inventory.Policy{fullAccess(),
		{Name: "DenyIAM", Document: doc(`{"Effect":"Deny","Action":"iam:*","Resource":"*"}`)}}}
}

func TestDecodeDocument(t *testing.T) {
	raw := doc(`{"Effect":"Allow","Action":"*","Resource":"*"}`)
	got, err := inventory.DecodeDocument(url.QueryEscape(raw))
	require.NoError(t, err, "case encoded")
	assert.Equal(t, raw, got, "case encoded")
	got, err = inventory.DecodeDocument(raw)
	require.NoError(t, err, "case plain")
	assert.Equal(t, raw, got, "case plain")
}

func TestClassRank(t *testing.T) {
	assert.Greater(t, inventory.ClassAdmin.Rank(), inventory.ClassEscalation.Rank(), "case admin over escalation")
	assert.Greater(t, inventory.ClassReadOnly.Rank(), inventory.ClassNone.Rank(), "case read-only over none")
	assert.Zero(t, inventory.Class("bogus").Rank(), "case unknown")
}
