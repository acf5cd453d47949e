package audit

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	smithyhttp "github.com/aws/smithy-go/transport/http"
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

// moto's own IAM enforcement as a second opinion on the blast radius: a
// key classed none or read-only must be refused the write actions it was
// judged unable to call (creating a bucket, a user, an access key), and a
// key classed write, as a control, is allowed the write its policy grants.
// moto evaluates identity policies, Deny and NotAction, not permissions
// boundaries or SCPs: the cases are those it applies to.
func TestBlastRadiusAgainstMotoEnforcement(t *testing.T) {
	moto.Require(t, "moto_server")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	ctx := context.Background()
	srv := moto.Start(t)
	admin := iam.NewFromConfig(srv.Config(moto.Management))
	must := func(_ any, err error) { t.Helper(); require.NoError(t, err) }
	inline := map[string]string{
		"reader":  `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ec2:Describe*","s3:List*","iam:Get*","iam:List*"],"Resource":"*"}]}`,
		"nothing": "",
		"denied":  `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","Action":"*","Resource":"*"}]}`,
		"writer":  `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:CreateBucket","iam:GetUser"],"Resource":"*"}]}`,
		// A Deny on one bucket takes nothing else away.
		"scoped-deny": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","Action":"*","Resource":"arn:aws:s3:::elsewhere"}]}`,
	}
	want := map[string]inventory.Class{"reader": inventory.ClassReadOnly, "nothing": inventory.ClassNone, "denied": inventory.ClassNone,
		"writer": inventory.ClassWrite, "scoped-deny": inventory.ClassAdmin}
	acct := &inventory.Account{ID: moto.ManagementAccount}
	keys := map[string]aws.Credentials{}
	for _, name := range []string{"reader", "nothing", "denied", "writer", "scoped-deny"} {
		must(admin.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(name)}))
		if inline[name] != "" {
			must(admin.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String(name), PolicyName: aws.String(name), PolicyDocument: aws.String(inline[name])}))
		}
		k, err := admin.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(name)})
		require.NoError(t, err, "key of %s", name)
		keys[name] = aws.Credentials{AccessKeyID: aws.ToString(k.AccessKey.AccessKeyId), SecretAccessKey: aws.ToString(k.AccessKey.SecretAccessKey)}
		acct.Users = append(acct.Users, inventory.User{Name: name})
	}
	require.NoError(t, permissions(ctx, NewCollector(), admin, acct))
	for _, u := range acct.Users {
		require.NotNil(t, u.Permissions, "user %s: read", u.Name)
	}

	srv.EnforceIAM(t, true)
	t.Cleanup(func() { srv.EnforceIAM(t, false) })
	writes := map[string]func(aws.Config) error{
		"s3:CreateBucket": func(cfg aws.Config) error {
			_, err := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true }).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("second-opinion-" + strings.ToLower(cfg.Credentials.(credentials.StaticCredentialsProvider).Value.AccessKeyID))})
			return err
		},
		"iam:CreateUser": func(cfg aws.Config) error {
			_, err := iam.NewFromConfig(cfg).CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("made-by-" + cfg.Credentials.(credentials.StaticCredentialsProvider).Value.AccessKeyID)})
			return err
		},
		"iam:CreateAccessKey": func(cfg aws.Config) error {
			_, err := iam.NewFromConfig(cfg).CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("writer")})
			return err
		},
	}
	// moto answers IAM's refusals with a 403 whose body the SDK does not
	// parse (UnknownError); the writer's allowed IAM call shows that its
	// key signs IAM calls that moto accepts.
	refused := func(err error) bool {
		var re *smithyhttp.ResponseError
		return Classify(err) == ClassPermission || (errors.As(err, &re) && re.HTTPStatusCode() == http.StatusForbidden)
	}
	_, err := iam.NewFromConfig(srv.Config(keys["writer"])).GetUser(ctx, &iam.GetUserInput{UserName: aws.String("writer")})
	require.NoError(t, err, "control: the writer's key may read its user")
	_, err = s3.NewFromConfig(srv.Config(keys["writer"]), func(o *s3.Options) { o.UsePathStyle = true }).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("writers-bucket")})
	require.NoError(t, err, "control: the writer's key may create a bucket")
	judged := 0
	for _, u := range acct.Users {
		if c := u.Permissions.Class; c != inventory.ClassNone && c != inventory.ClassReadOnly {
			continue
		}
		judged++
		cfg := srv.Config(keys[u.Name])
		for action, call := range writes {
			err := call(cfg)
			assert.True(t, refused(err), "user %s (%s) must be refused %s: %v", u.Name, u.Permissions.Class, action, err)
		}
	}
	assert.Equal(t, 3, judged, "users classed none or read-only")
	for _, u := range acct.Users {
		assert.Equal(t, want[u.Name], u.Permissions.Class, "user %s: %v", u.Name, u.Permissions.Grants)
	}
}
