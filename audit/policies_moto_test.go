package audit

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/keyaudit/keyaudit/audit/inventory"
	"github.com/keyaudit/keyaudit/internal/moto"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The oracle for the blast radius: moto_server, written by others, serves
// GetAccountAuthorizationDetails and the AWS-managed policies as it models
// them; the collector must classify a user with AdministratorAccess,
// directly or only through a group, as administrator.
func TestPermissionsAgainstMoto(t *testing.T) {
	moto.Require(t, "moto_server")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	ctx := context.Background()
	srv := moto.Start(t)
	client := iam.NewFromConfig(srv.Config(moto.Management))
	must := func(_ any, err error) { t.Helper(); require.NoError(t, err) }
	admin := aws.String("arn:aws:iam::aws:policy/AdministratorAccess")
	for _, name := range []string{"direct-admin", "group-admin", "dynamo", "reader", "nothing"} {
		must(client.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(name)}))
	}
	must(client.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("direct-admin"), PolicyArn: admin}))
	must(client.CreateGroup(ctx, &iam.CreateGroupInput{GroupName: aws.String("admins")}))
	must(client.AttachGroupPolicy(ctx, &iam.AttachGroupPolicyInput{GroupName: aws.String("admins"), PolicyArn: admin}))
	must(client.AddUserToGroup(ctx, &iam.AddUserToGroupInput{GroupName: aws.String("admins"), UserName: aws.String("group-admin")}))
	// An AWS-managed policy outside the built-in table, read from moto: it
	// grants lambda:CreateFunction and iam:PassRole under a condition
	// (iam:PassedToService), which is not evaluated: escalation, conservatively.
	must(client.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("dynamo"), PolicyArn: aws.String("arn:aws:iam::aws:policy/AmazonDynamoDBFullAccess")}))
	pol, err := client.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("describe"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ec2:Describe*","s3:List*"],"Resource":"*"}]}`)})
	require.NoError(t, err)
	must(client.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("reader"), PolicyArn: pol.Policy.Arn}))

	acct := &inventory.Account{ID: moto.ManagementAccount}
	for _, name := range []string{"direct-admin", "group-admin", "dynamo", "reader", "nothing"} {
		acct.Users = append(acct.Users, inventory.User{Name: name})
	}
	require.NoError(t, permissions(ctx, NewCollector(), client, acct))
	want := map[string]inventory.Class{"direct-admin": inventory.ClassAdmin, "group-admin": inventory.ClassAdmin,
		"dynamo": inventory.ClassEscalation, "reader": inventory.ClassReadOnly, "nothing": inventory.ClassNone}
	for _, u := range acct.Users {
		require.NotNil(t, u.Permissions, "user %s: read", u.Name)
		assert.Equal(t, want[u.Name], u.Permissions.Class, "user %s: %v", u.Name, u.Permissions.Grants)
		assert.Empty(t, u.Permissions.Unread, "user %s: every policy read", u.Name)
	}
	assert.True(t, acct.Users[1].Permissions.FromGroups, "group-admin: through the group only")
	assert.False(t, acct.Users[0].Permissions.FromGroups, "direct-admin: directly")
	assert.Positive(t, acct.Users[2].Permissions.Conditions, "dynamo: the PassRole condition is counted as not evaluated")
	assert.Empty(t, acct.Warnings, "warnings")
}
