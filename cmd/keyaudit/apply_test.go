package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyaudit/keyaudit/internal/moto"
	"github.com/keyaudit/keyaudit/internal/remediate"
	"github.com/keyaudit/keyaudit/report"
	"github.com/keyaudit/keyaudit/rules"
)

// motoUser creates a user with one key in moto's management account; used
// makes one IAM call with the key, which moto records as its last use.
func motoUser(ctx context.Context, t *testing.T, srv *moto.Server, client *iam.Client, name string, used bool, tags ...types.Tag) string {
	t.Helper()
	_, err := client.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(name), Tags: tags})
	require.NoError(t, err, "create user %s", name)
	k, err := client.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(name)})
	require.NoError(t, err, "create a key for %s", name)
	if used {
		own := iam.NewFromConfig(srv.Config(aws.Credentials{AccessKeyID: *k.AccessKey.AccessKeyId, SecretAccessKey: *k.AccessKey.SecretAccessKey}))
		_, err := own.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String(name)})
		require.NoError(t, err, "use the key of %s", name)
	}
	return *k.AccessKey.AccessKeyId
}

// plan is an action as scan writes it, with the commands of its plan.
func plan(rule string, sev rules.Severity, user, key string, commands ...string) rules.Action {
	a := rules.Action{AccountID: moto.ManagementAccount, Principal: user, AccessKeyID: key, Severity: sev, Rules: []string{rule}, Summary: rule}
	for _, c := range commands {
		a.Plan = append(a.Plan, rules.Step{Command: c})
	}
	return a
}

func deactivateCmd(user, key string) string {
	return fmt.Sprintf("aws iam update-access-key --user-name %s --access-key-id %s --status Inactive", user, key)
}

const quarantine = "arn:aws:iam::aws:policy/" + remediate.QuarantinePolicy

// The moto suite: apply on a selection, dry run first, then --yes; the
// key states in moto; undo; the states restored. An exempt key and a key
// in use are refused, each with one line.
func TestApplyAndUndoAgainstMoto(t *testing.T) {
	ctx := context.Background()
	srv := moto.Start(t)
	client := iam.NewFromConfig(srv.Config(moto.Management))
	idle := motoUser(ctx, t, srv, client, "idle", false)
	leaked := motoUser(ctx, t, srv, client, "leaky", true)
	busy := motoUser(ctx, t, srv, client, "busy", true)
	kept := motoUser(ctx, t, srv, client, "kept", false, types.Tag{Key: aws.String("keyaudit:exempt"), Value: aws.String("true")})
	rotate := motoUser(ctx, t, srv, client, "old", true)

	r := report.Report{SchemaVersion: report.SchemaVersion, Actions: []rules.Action{
		plan(rules.KeyLeaked, rules.Critical, "leaky", leaked, deactivateCmd("leaky", leaked), "aws iam attach-user-policy --user-name leaky --policy-arn "+quarantine,
			"aws iam detach-user-policy --user-name leaky --policy-arn "+quarantine),
		plan(rules.KeyUnused, rules.Medium, "idle", idle, "aws iam get-access-key-last-used --access-key-id "+idle, deactivateCmd("idle", idle)),
		plan(rules.KeyUnused, rules.Medium, "busy", busy, deactivateCmd("busy", busy)),
		plan(rules.KeyUnused, rules.Medium, "kept", kept, deactivateCmd("kept", kept)),
		plan(rules.KeyRotation, rules.Medium, "old", rotate, "read -r NEW_KEY_ID NEW_SECRET_ACCESS_KEY < <(aws iam create-access-key --user-name old)", deactivateCmd("old", rotate)),
		plan(rules.KeyUnused, rules.Low, "idle", idle, deactivateCmd("idle", idle)),
	}}
	r.Actions[5].AccountID = "210987654321" // not selected: --account
	dir := t.TempDir()
	reportFile, journal := filepath.Join(dir, "report.json"), filepath.Join(dir, "journal.jsonl")
	b, err := json.Marshal(r)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(reportFile, b, 0o600))

	state := func() map[string]string {
		got := map[string]string{}
		for user, key := range map[string]string{"idle": idle, "leaky": leaked, "busy": busy, "kept": kept, "old": rotate} {
			out, err := client.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String(user)})
			require.NoError(t, err)
			require.Len(t, out.AccessKeyMetadata, 1)
			require.Equal(t, key, aws.ToString(out.AccessKeyMetadata[0].AccessKeyId))
			got[user] = string(out.AccessKeyMetadata[0].Status)
		}
		pol, err := client.ListAttachedUserPolicies(ctx, &iam.ListAttachedUserPoliciesInput{UserName: aws.String("leaky")})
		require.NoError(t, err)
		got["leaky policies"] = fmt.Sprint(len(pol.AttachedPolicies))
		return got
	}
	before := map[string]string{"idle": "Active", "leaky": "Active", "busy": "Active", "kept": "Active", "old": "Active", "leaky policies": "0"}
	require.Equal(t, before, state(), "the seeded state")
	env := srv.Env(dir, moto.Management)
	args := []string{"apply", "--report", reportFile, "--severity", "medium", "--account", moto.ManagementAccount, "--journal", journal}

	code, stdout, stderr := exe(t, env, args...)
	assert.Equal(t, 3, code, "refusals make the run incomplete\n%s", stderr)
	assert.Equal(t, "Dry run: nothing was changed. With --yes, keyaudit would make these calls:\n"+
		"  "+deactivateCmd("leaky", leaked)+"    # account 123456789012: key-leaked\n"+
		"  aws iam attach-user-policy --user-name leaky --policy-arn "+quarantine+"    # account 123456789012: key-leaked\n"+
		"  "+deactivateCmd("idle", idle)+"    # account 123456789012: key-unused\n", stdout, "the dry run prints exactly the calls")
	assert.Regexp(t, `(?m)^refused: deactivate key `+busy+` of user "busy" in account 123456789012: the key is in use: last used \S+, 0 days ago, within unused_days \(45\); move its applications first$`, stderr, "the key in use")
	assert.Contains(t, stderr, "refused: deactivate key "+kept+` of user "kept" in account 123456789012: user "kept" is tagged keyaudit:exempt=true`+"\n", "the exempt key")
	assert.Contains(t, stderr, "not applied: old "+rotate+" in account 123456789012: the plan has no reversible step", "the rotation waits for a person")
	assert.Equal(t, before, state(), "the dry run changed nothing")
	_, err = os.Stat(journal)
	assert.ErrorIs(t, err, os.ErrNotExist, "the dry run wrote no journal")

	code, stdout, stderr = exe(t, env, append(args, "--yes")...)
	assert.Equal(t, 3, code, "refusals make the run incomplete\n%s", stderr)
	assert.Equal(t, map[string]string{"idle": "Inactive", "leaky": "Inactive", "busy": "Active", "kept": "Active", "old": "Active", "leaky policies": "1"}, state(),
		"the selected keys deactivated, the leaked key's user quarantined, the refused keys untouched\n%s", stdout)
	m := regexp.MustCompile(`To undo: keyaudit undo (\S+) --journal`).FindStringSubmatch(stdout)
	require.Len(t, m, 2, "apply prints the undo command:\n%s", stdout)

	code, stdout, stderr = exe(t, env, "undo", m[1], "--journal", journal)
	require.Equal(t, 0, code, "undo\n%s\n%s", stdout, stderr)
	assert.Equal(t, before, state(), "undo restored every change")
	assert.Contains(t, stdout, "changed: aws iam detach-user-policy --user-name leaky --policy-arn "+quarantine, "undo says what it restored")

	code, _, stderr = exe(t, env, "undo", m[1], "--journal", journal)
	assert.Equal(t, 0, code, "a second undo\n%s", stderr)
	assert.Contains(t, stderr, "nothing to undo", "a second undo finds every change undone")

	recs, err := remediate.File{Path: journal}.Records(ctx)
	require.NoError(t, err)
	require.Len(t, recs, 12, "three changes and three restores, two records each")
	assert.Equal(t, remediate.Started, recs[0].Status, "each change is journaled before it is made")
	assert.Equal(t, "Active", recs[0].Previous, "with its previous state")
}
