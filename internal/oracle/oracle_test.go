package oracle

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/keyaudit/keyaudit/internal/moto"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// asOfDays puts the scan's clock this far after the seed, so every key is
// old enough for key-rotation (90), key-unused (45) and key-inactive (30)
// without faking a date in moto.
const asOfDays = 200

// TestPlans is the independent oracle of issue 9: one moto_server for the
// package, an organization seeded through the SDK, the built keyaudit
// binary scanning it, and every plan it prints executed with the aws CLI.
// One subtest per case, so -run 'TestPlans/two-active-keys' works.
func TestPlans(t *testing.T) {
	ctx := context.Background()
	srv := moto.Start(t)
	bin := buildKeyaudit(t)
	o := seed(ctx, t, srv)
	asOf := o.seeded.Add(asOfDays * 24 * time.Hour).UTC().Format(time.RFC3339)

	// The scan runs as the operator with IAM enforced: in every account it
	// has only what the template's member role grants.
	srv.EnforceIAM(t, true)
	// moto lacks CloudTrail LookupEvents (it answers 500, which the SDK
	// retries patiently): the ranking profiles no key here.
	config := filepath.Join(t.TempDir(), "keyaudit.yaml")
	require.NoError(t, os.WriteFile(config, []byte("risk:\n  trail_keys: 0\n"), 0o600), "write the config")
	stdout, code := keyaudit(t, srv, o.operator, bin, "scan", "--org", "--assume-role-in-caller-account", "--role-name", memberRole,
		"--external-id", externalID, "--format", "json", "--as-of", asOf, "--quiet", "--config", config)
	srv.EnforceIAM(t, false)
	var rep report
	require.NoError(t, json.Unmarshal(stdout, &rep), "the scan's JSON report parses")

	t.Run("accounts-audited", func(t *testing.T) {
		assert.Equal(t, 0, code, "the scan is complete (exit 3: an account could not be audited)")
		var got []string
		for _, a := range rep.Accounts {
			assert.Equal(t, "ok", a.Status, "account %s is audited (error: %s)", a.ID, a.Error)
			got = append(got, a.ID)
		}
		var want []string
		for _, id := range o.accounts {
			want = append(want, id)
		}
		assert.ElementsMatch(t, want, got, "the scan covers the management account and every member")
	})

	t.Run("findings-name-real-key-ids", func(t *testing.T) {
		seeded := map[string]bool{}
		for _, ids := range o.keys {
			for _, id := range ids {
				seeded[id] = true
			}
		}
		named := map[string]bool{}
		for _, f := range rep.Findings {
			if assert.NotEmpty(t, f.KeyID, "finding %s on %s in %s names its key ID", f.Rule, f.Principal, f.AccountID) {
				assert.True(t, seeded[f.KeyID], "finding %s names %s, a key the seed created", f.Rule, f.KeyID)
				named[f.KeyID] = true
			}
		}
		for _, c := range cases {
			for i, id := range o.keys[c.name] {
				assert.True(t, named[id], "case %s: key %d (%s) is old and has a finding", c.name, i+1, id)
			}
		}
	})

	all := rep.actions()
	require.NotEmpty(t, all, "the scan prints plans")

	t.Run("every-plan-is-executed", func(t *testing.T) {
		for _, a := range all {
			mine := slices.ContainsFunc(cases, func(c userCase) bool { return o.accounts[c.account] == a.AccountID && c.user == a.Principal })
			assert.True(t, mine, "%s in account %s belongs to a case, so the oracle runs it", a.label, a.AccountID)
		}
	})

	t.Run("wrong-account-guard", func(t *testing.T) {
		// The one-key user's plan, run by mistake with the credentials of an
		// account that has a user of the same name, must stop at once.
		c, decoy := cases[0], o.accounts[decoyAccount]
		for _, a := range actionsFor(all, o.accounts[c.account], c.user) {
			first := firstExecutable(a)
			if first == "" {
				continue
			}
			before := len(o.userKeys(ctx, t, decoy, c.user))
			res := srv.Shell(ctx, t.TempDir(), o.creds[decoy], first)
			assert.Error(t, res.Err, "%s: its first step, run with the credentials of account %s, must fail (a guard on the account): %s", a.label, decoy, first)
			assert.Len(t, o.userKeys(ctx, t, decoy, c.user), before, "%s: the same-named user in account %s is untouched", a.label, decoy)
		}
	})

	t.Run("oracle-accepts-a-correct-plan", func(t *testing.T) { referencePlan(ctx, t, o) })
	// Before the parallel cases below: the operator's key, which they rotate, runs whois.
	t.Run("leaked-key", func(t *testing.T) { leakPlan(ctx, t, o, bin) })

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			account := o.accounts[c.account]
			mine := actionsFor(all, account, c.user)
			require.NotEmpty(t, mine, "case %s: the scan prints a plan for %s", c.name, c.user)
			var created, ran []string
			for _, a := range mine {
				checkedBeforeChange(t, a)
				creds, ok := o.creds[a.AccountID]
				require.True(t, ok, "case %s: %s names account %q, which is not in the organization", c.name, a.label, a.AccountID)
				ex := run(ctx, t, srv, creds, a, func(id string) { o.use(ctx, t, id) })
				for _, s := range ex.skipped {
					t.Logf("skipped %s", s)
				}
				created = append(created, ex.created...)
				ran = append(ran, ex.ran...)
			}
			checkEndState(ctx, t, o, c, created)
			if c.console {
				assert.Contains(t, ran, "aws iam list-mfa-devices --user-name "+c.user, "case %s: a plan lists the console user's MFA devices", c.name)
			}
		})
	}

	t.Run("offline-report", func(t *testing.T) { offlinePlan(ctx, t, o, bin, asOf) })
	t.Run("root-key-plan-text", func(t *testing.T) { rootPlan(ctx, t, o, bin, asOf) })
}

// checkEndState: the old keys are gone; a user whose plans created a key
// has exactly one key, that one, active and young.
func checkEndState(ctx context.Context, t *testing.T, o *org, c userCase, created []string) {
	t.Helper()
	keys := o.userKeys(ctx, t, o.accounts[c.account], c.user)
	var left []string
	for _, k := range keys {
		left = append(left, aws.ToString(k.AccessKeyId))
	}
	for i, id := range o.keys[c.name] {
		assert.NotContains(t, left, id, "case %s: old key %d (%s) is gone", c.name, i+1, id)
	}
	if len(created) == 0 {
		assert.Empty(t, left, "case %s: no plan created a key, so the user has none left", c.name)
		return
	}
	if assert.Len(t, keys, 1, "case %s: the rotated user has exactly one key (created: %v, left: %v)", c.name, created, left) {
		k := keys[0]
		assert.Equal(t, types.StatusTypeActive, k.Status, "case %s: the remaining key is active", c.name)
		assert.True(t, aws.ToTime(k.CreateDate).After(o.seeded), "case %s: the remaining key is young", c.name)
		assert.Contains(t, created, aws.ToString(k.AccessKeyId), "case %s: the remaining key is the one a plan created", c.name)
	}
}

// referencePlan runs a hand-written plan of the shape issue 9 asks for
// through the same executor and end-state check as the scan's plans, so a
// failure of the suite is the plans' and not the oracle's. It also shows
// the placeholder and the checks the oracle understands.
func referencePlan(ctx context.Context, t *testing.T, o *org) {
	c := userCase{name: "reference", account: "member-b", user: "reference", keys: []keySeed{{active: true, used: true}}}
	account := o.accounts[c.account]
	o.keys[c.name] = o.seedUser(ctx, t, account, c)
	old := o.keys[c.name][0]
	a := action{label: "reference plan", AccountID: account, Principal: c.user, KeyID: old, Plan: []step{
		{Action: "Guard: stop unless these credentials act in account " + account + ".",
			Command: `test "$(aws sts get-caller-identity --query Account --output text)" = ` + account},
		{Action: "Create the new key.", Command: "aws iam create-access-key --user-name " + c.user},
		{Action: "Move every application.", Command: "aws cloudtrail lookup-events --region us-east-1 --lookup-attributes AttributeKey=AccessKeyId,AttributeValue=" + old},
		{Action: "Confirm the new key is in use.",
			Command: "aws iam get-access-key-last-used --access-key-id <NEW-KEY-ID> --query AccessKeyLastUsed.LastUsedDate --output text | grep -qv None"},
		{Action: "Confirm the old key is idle.", Command: "aws iam get-access-key-last-used --access-key-id " + old},
		{Action: "Deactivate the old key.", Command: "aws iam update-access-key --user-name " + c.user + " --access-key-id " + old + " --status Inactive"},
		{Action: "Wait 7 days.", Command: "sleep 604800"},
		{Action: "Delete the old key.", Command: "aws iam delete-access-key --user-name " + c.user + " --access-key-id " + old},
	}}
	checkedBeforeChange(t, a)
	wrong := o.srv.Shell(ctx, t.TempDir(), o.creds[moto.ManagementAccount], firstExecutable(a))
	assert.Error(t, wrong.Err, "the reference guard fails with another account's credentials")
	ex := run(ctx, t, o.srv, o.creds[account], a, func(id string) { o.use(ctx, t, id) })
	assert.Len(t, ex.skipped, 2, "the reference plan's CloudTrail lookup and wait are skipped")
	assert.Len(t, ex.created, 1, "the reference plan creates one key")
	checkEndState(ctx, t, o, c, ex.created)
}

func actionsFor(all []action, account, user string) []action {
	var out []action
	for _, a := range all {
		if a.AccountID == account && a.Principal == user {
			out = append(out, a)
		}
	}
	return out
}

func firstExecutable(a action) string {
	for _, s := range a.Plan {
		if skipReason(s.Command) == "" {
			return s.Command
		}
	}
	return ""
}

// rootPlan: moto cannot give the root user an access key, so the root case
// runs offline on moto's own credential report of the management account
// with a root row added, and checks the plan's text: a root key is deleted
// by the root user, never rotated through IAM.
func rootPlan(ctx context.Context, t *testing.T, o *org, bin, asOf string) {
	content := credentialReport(ctx, t, o.iam(moto.ManagementAccount))
	header, rows, _ := strings.Cut(string(content), "\n")
	require.True(t, strings.HasPrefix(header, "user,arn,"), "moto's report starts with its header: %q", header)
	created := o.seeded.UTC().Format("2006-01-02T15:04:05+00:00")
	root := "<root_account>,arn:aws:iam::" + moto.ManagementAccount + ":root," + created +
		",not_supported," + created + ",not_supported,not_supported,true,true," + created +
		",N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A"
	file := filepath.Join(t.TempDir(), "credential-report.csv")
	require.NoError(t, os.WriteFile(file, []byte(header+"\n"+root+"\n"+rows), 0o600), "write the report")

	var rep report
	out, code := keyaudit(t, o.srv, moto.Management, bin, "scan", "--credential-report", file, "--format", "json", "--as-of", asOf)
	require.Equal(t, 0, code, "the offline scan of moto's credential report is complete")
	require.NoError(t, json.Unmarshal(out, &rep), "the offline scan's JSON report parses")
	var plans []action
	for _, a := range rep.actions() {
		if a.Principal == "<root_account>" {
			plans = append(plans, a)
		}
	}
	require.NotEmpty(t, plans, "the root key gets a plan")
	for _, a := range plans {
		var text []string
		for _, s := range a.Plan {
			text = append(text, s.Action, s.Command)
			assert.NotContains(t, s.Command, "create-access-key", "%s: a root key is deleted, not rotated", a.label)
			assert.NotContains(t, s.Command, "--user-name root", "%s: the root user is not an IAM user named root", a.label)
		}
		all := strings.ToLower(strings.Join(text, "\n"))
		assert.Contains(t, all, moto.ManagementAccount, "%s names the account", a.label)
		assert.Contains(t, all, "root user", "%s says the root user must act", a.label)
		assert.Contains(t, all, "delete", "%s says to delete the key", a.label)
	}
}

// buildKeyaudit builds the CLI as a person installs it.
func buildKeyaudit(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "keyaudit")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/keyaudit/keyaudit/cmd/keyaudit").CombinedOutput()
	require.NoError(t, err, "go build ./cmd/keyaudit: %s", out)
	return bin
}

// keyaudit runs the binary against moto with creds and returns its
// standard output and exit code. Exit 3 (incomplete) still writes a report,
// which says what failed; any other failure stops the test.
func keyaudit(t *testing.T, srv *moto.Server, creds aws.Credentials, bin string, args ...string) ([]byte, int) {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command(bin, args...)
	cmd.Env = srv.Env(dir, creds)
	cmd.Dir = dir
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if exit := (*exec.ExitError)(nil); errors.As(err, &exit) && exit.ExitCode() == 3 {
		t.Logf("keyaudit %s exited 3 (incomplete); stderr: %s", strings.Join(args, " "), stderr.String())
		return out, 3
	}
	require.NoError(t, err, "keyaudit %s\nstderr: %s", strings.Join(args, " "), stderr.String())
	return out, 0
}
