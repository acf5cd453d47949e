package pipeline_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/keyaudit/keyaudit/audit"
	"github.com/keyaudit/keyaudit/audit/inventory"
	"github.com/keyaudit/keyaudit/internal/event"
	"github.com/keyaudit/keyaudit/internal/golden"
	"github.com/keyaudit/keyaudit/internal/moto"
	"github.com/keyaudit/keyaudit/internal/pipeline"
	"github.com/keyaudit/keyaudit/rules"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The oracle for the real-time path: in moto, written by others, a member
// account's console user without MFA gets a new key; the CreateAccessKey
// event for it (the real key ID, in the shape of testdata/events) is
// judged through the member role, and the report names the key with
// key-without-mfa and its plan. The per-user collector's picture of the
// user is held to moto's own credential report of it.
func TestJudgeAgainstMoto(t *testing.T) {
	moto.Require(t, "moto_server")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	ctx := context.Background()
	srv := moto.Start(t)
	member := srv.Organization(ctx, t, "member")[0]
	// moto creates OrganizationAccountAccessRole in a new account: the
	// member role here.
	const roleName = "OrganizationAccountAccessRole"
	admin := iam.NewFromConfig(srv.Config(srv.AssumeRole(ctx, t, "arn:aws:iam::"+member+":role/"+roleName)))

	const user = "console-user"
	_, err := admin.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(user)})
	require.NoError(t, err)
	_, err = admin.CreateLoginProfile(ctx, &iam.CreateLoginProfileInput{UserName: aws.String(user), Password: aws.String("Moto-console-1")})
	require.NoError(t, err)
	_, err = admin.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String(user), PolicyArn: aws.String("arn:aws:iam::aws:policy/ReadOnlyAccess")})
	require.NoError(t, err)
	key, err := admin.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(user)})
	require.NoError(t, err)
	keyID := aws.ToString(key.AccessKey.AccessKeyId)

	// The event as EventBridge delivers it, with the real IDs.
	data, err := os.ReadFile(golden.Path("events/create-access-key.json"))
	require.NoError(t, err)
	data = bytes.ReplaceAll(data, []byte("AKIAXA4A6GUKAXPOYXNF"), []byte(keyID))
	data = bytes.ReplaceAll(data, []byte("482917365012"), []byte(member))
	data = bytes.ReplaceAll(data, []byte(`"alice"`), []byte(`"`+user+`"`))
	ev, err := event.Parse(data)
	require.NoError(t, err, "the event")
	require.Equal(t, keyID, ev.KeyID)

	cfg := srv.Config(moto.Management)
	conn, err := pipeline.Dial(ctx, cfg, pipeline.Selection{Org: true, Role: audit.RoleSpec{Name: roleName, Path: "/", SessionName: "keyaudit-moto"}})
	require.NoError(t, err, "dial moto")
	opts := options()
	opts.Now, opts.Started = time.Now().UTC(), time.Now().UTC()
	r, err := pipeline.Judge(ctx, opts, conn, ev)
	require.NoError(t, err)
	require.Len(t, r.Accounts, 1)
	require.Equal(t, inventory.StatusOK, inventory.Status(r.Accounts[0].Status), r.Accounts[0].Error)
	require.Len(t, r.Findings, 1, "findings: %+v", r.Findings)
	f := r.Findings[0]
	assert.Equal(t, rules.KeyWithoutMFA, f.Rule)
	assert.Equal(t, keyID, f.AccessKeyID, "the new key, by ID")
	assert.Equal(t, user, f.Principal)
	require.Len(t, r.Actions, 1)
	a := r.Actions[0]
	assert.Equal(t, keyID, a.AccessKeyID)
	var commands []string
	for _, s := range a.Plan {
		commands = append(commands, s.Command)
	}
	assert.Contains(t, strings.Join(commands, "\n"), "aws iam list-mfa-devices --user-name "+user, "the plan: %+v", a.Plan)
	require.Len(t, r.Risk, 1)
	assert.Equal(t, inventory.ClassData, r.Risk[0].BlastRadius, "blast radius from moto's ReadOnlyAccess (reads every S3 object)")

	// The collector's picture of the user, against moto's credential report.
	client := iam.NewFromConfig(srv.Config(srv.AssumeRole(ctx, t, "arn:aws:iam::"+member+":role/"+roleName)))
	got, err := audit.NewCollector().CollectUser(ctx, client, member, user)
	require.NoError(t, err)
	require.Len(t, got.Users, 1)
	_, err = client.GenerateCredentialReport(ctx, &iam.GenerateCredentialReportInput{})
	require.NoError(t, err)
	var report *iam.GetCredentialReportOutput
	require.Eventually(t, func() bool {
		report, err = client.GetCredentialReport(ctx, &iam.GetCredentialReportInput{})
		var notReady *types.CredentialReportNotReadyException
		return err == nil || !errors.As(err, &notReady)
	}, 10*time.Second, 50*time.Millisecond)
	require.NoError(t, err)
	fromReport, err := inventory.ParseCredentialReport("moto", bytes.NewReader(report.Content))
	require.NoError(t, err)
	var want *inventory.User
	for i := range fromReport.Users {
		if fromReport.Users[i].Name == user {
			want = &fromReport.Users[i]
		}
	}
	require.NotNil(t, want, "moto's credential report lists the user")
	u := got.Users[0]
	assert.Equal(t, want.ARN, u.ARN, "ARN")
	assert.Equal(t, want.PasswordEnabled, u.PasswordEnabled, "password enabled")
	assert.Equal(t, want.MFAActive, u.MFAActive, "MFA")
	assert.Equal(t, want.CreatedAt, u.CreatedAt.Truncate(time.Second), "created")
	require.Len(t, u.Keys, len(want.Keys), "keys")
	for i, k := range u.Keys {
		w := want.Keys[i]
		assert.Equal(t, keyID, k.ID, "the key named")
		assert.Equal(t, w.Slot, k.Slot, "slot")
		assert.Equal(t, w.Active, k.Active, "active")
		assert.Equal(t, w.CreatedAt, k.CreatedAt.Truncate(time.Second), "created (last_rotated)")
		assert.Equal(t, w.LastUsed.Never, k.LastUsed.Never, "never used")
		assert.True(t, k.LastUsed.Confirmed, "last use read now")
	}
}
