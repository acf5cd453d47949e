package moto

import (
	"context"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// One server for the whole test: the accounts model, the CLI and the
// cleanup are checked against it.
func TestServer(t *testing.T) {
	Require(t, "moto_server", "aws")
	ctx := context.Background()
	var pgid int
	t.Run("running", func(t *testing.T) {
		srv := Start(t)
		pgid = srv.pgid
		require.NoError(t, syscall.Kill(-pgid, 0), "moto_server's process group runs while the test does")

		id, err := sts.NewFromConfig(srv.Config(Management)).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		require.NoError(t, err, "get caller identity with the management key")
		assert.Equal(t, ManagementAccount, aws.ToString(id.Account), "the management key acts in moto's default account")

		org := organizations.NewFromConfig(srv.Config(Management))
		_, err = org.CreateOrganization(ctx, &organizations.CreateOrganizationInput{})
		require.NoError(t, err, "create organization")
		acct, err := org.CreateAccount(ctx, &organizations.CreateAccountInput{
			AccountName: aws.String("member"), Email: aws.String("member@example.com"),
		})
		require.NoError(t, err, "create account")
		member := aws.ToString(acct.CreateAccountStatus.AccountId)

		creds := srv.AssumeRole(ctx, t, "arn:aws:iam::"+member+":role/OrganizationAccountAccessRole")
		_, err = iam.NewFromConfig(srv.Config(creds)).CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("in-member")})
		require.NoError(t, err, "create a user in the member account")

		res := srv.Shell(ctx, t.TempDir(), creds, "aws sts get-caller-identity --query Account --output text && aws iam list-users --query 'Users[].UserName' --output text")
		require.NoError(t, res.Err, "aws CLI in the member account: %s", res.Stderr)
		assert.Equal(t, member+"\nin-member\n", res.Stdout, "assumed-role credentials act in the member account")

		res = srv.Shell(ctx, t.TempDir(), Management, "aws iam list-users --query 'Users[].UserName' --output text")
		require.NoError(t, res.Err, "aws CLI in the management account: %s", res.Stderr)
		assert.NotContains(t, res.Stdout, "in-member", "the member's users are not the management account's")

		srv.EnforceIAM(t, true)
		res = srv.Shell(ctx, t.TempDir(), creds, "aws iam list-users")
		assert.Contains(t, res.Stderr, "AccessDenied", "with IAM enforced, a role moto gave no policy is denied")
		srv.EnforceIAM(t, false)
		res = srv.Shell(ctx, t.TempDir(), creds, "aws iam list-users")
		assert.NoError(t, res.Err, "with IAM no longer enforced, the same call is allowed: %s", res.Stderr)

		res = srv.Shell(ctx, t.TempDir(), Management, "aws iam delete-user --user-name nobody")
		assert.Error(t, res.Err, "a failing aws command reports its exit status")
		assert.True(t, strings.Contains(res.Stderr, "NoSuchEntity"), "the CLI's error reaches the test: %q", res.Stderr)
	})
	require.NotZero(t, pgid, "the server started")
	assert.ErrorIs(t, syscall.Kill(-pgid, 0), syscall.ESRCH, "no moto_server process is left after the test")
}

// TestClock: keys created and used on a moved clock carry the moved time,
// and a signed call with a key sets its LastUsedDate, so plans that wait
// and confirm idleness can be executed by moving the clock.
func TestClock(t *testing.T) {
	ctx := context.Background()
	srv := StartWithClock(t)
	admin := iam.NewFromConfig(srv.Config(Management))
	day := 24 * time.Hour
	srv.SetClock(t, -200*day)
	_, err := admin.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("old")})
	require.NoError(t, err, "create user")
	key, err := admin.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("old")})
	require.NoError(t, err, "create key")
	id := aws.ToString(key.AccessKey.AccessKeyId)
	near := func(want, got time.Time, what string) {
		t.Helper()
		assert.WithinDuration(t, want, got, time.Minute, what)
	}
	near(time.Now().Add(-200*day), aws.ToTime(key.AccessKey.CreateDate), "the key is created 200 days ago")

	lastUsed := func() time.Time {
		t.Helper()
		out, err := admin.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: aws.String(id)})
		require.NoError(t, err, "get last used")
		return aws.ToTime(out.AccessKeyLastUsed.LastUsedDate)
	}
	use := func() {
		t.Helper()
		_, err := iam.NewFromConfig(srv.Config(aws.Credentials{AccessKeyID: id, SecretAccessKey: "x"})).ListUsers(ctx, &iam.ListUsersInput{})
		require.NoError(t, err, "use the key")
	}
	use()
	near(time.Now().Add(-200*day), lastUsed(), "used on the moved clock")
	srv.Advance(t, 199*day)
	assert.WithinDuration(t, time.Now().Add(-day), srv.Now(), time.Minute, "Now follows the offset")
	use()
	near(time.Now().Add(-day), lastUsed(), "used again a day ago")
}
