package pipeline_test

import (
	"context"
	"os"
	"testing"

	"github.com/keyaudit/keyaudit/audit/inventory"
	"github.com/keyaudit/keyaudit/internal/awssim"
	"github.com/keyaudit/keyaudit/internal/event"
	"github.com/keyaudit/keyaudit/internal/golden"
	"github.com/keyaudit/keyaudit/internal/pipeline"
	"github.com/keyaudit/keyaudit/report"
	"github.com/keyaudit/keyaudit/rules"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// demoOrg serves the demo organization (the events in testdata/events
// name its accounts, users and keys), changed by change, and dials its
// management account.
func demoOrg(t *testing.T, change func(*awssim.World)) (*awssim.Server, *pipeline.Conn) {
	t.Helper()
	w := demo(t)
	if change != nil {
		change(w)
	}
	return dial(t, w, pipeline.Selection{Org: true})
}

func sampleEvent(t *testing.T, name string) event.Event {
	t.Helper()
	data, err := os.ReadFile(golden.Path("events/" + name))
	require.NoError(t, err)
	ev, err := event.Parse(data)
	require.NoError(t, err, name)
	return ev
}

// of keeps the findings and actions about one principal of one account.
func of(r *report.Report, account, principal string) ([]rules.Finding, []rules.Action) {
	var fs []rules.Finding
	var as []rules.Action
	for _, f := range r.Findings {
		if f.AccountID == account && f.Principal == principal {
			fs = append(fs, f)
		}
	}
	for _, a := range r.Actions {
		if a.AccountID == account && a.Principal == principal {
			as = append(as, a)
		}
	}
	return fs, as
}

// TestJudgeAsNightly: the one principal an event names is judged as the
// nightly run judges it: the same findings (fingerprints, rules,
// severities, messages) and the same plans, read without the credential
// report.
func TestJudgeAsNightly(t *testing.T) {
	srv, conn := demoOrg(t, nil)
	opts := options()
	nightly := pipeline.Live(context.Background(), opts, conn.Targets, conn.IAM)
	for _, tc := range []struct {
		file          string
		account, user string   // instead of the sample's
		rules         []string // the rules the principal must get, so the comparison is not of nothing
	}{
		{"create-access-key.json", "", "", []string{rules.KeyWithoutMFA}},
		{"update-access-key-active.json", "", "", []string{rules.KeyInactive}},
		{"create-login-profile.json", "", "", nil},
		{"deactivate-mfa.json", "", "", nil},
		{"attach-user-policy.json", "", "", []string{rules.KeyRotation}},
		// A console user with MFA and a key, in a group.
		{"attach-user-policy.json", "328475610934", "carol", nil},
		// Permissions through a group only (deployers, a customer-managed policy).
		{"attach-user-policy.json", "739104582266", "ci-deploy", nil},
	} {
		t.Run(tc.file+" "+tc.user, func(t *testing.T) {
			ev := sampleEvent(t, tc.file)
			if tc.user != "" {
				ev.Account, ev.User = tc.account, tc.user
			}
			before := srv.Calls().ByAccount[ev.Account]
			r, err := pipeline.Judge(context.Background(), opts, conn, ev)
			require.NoError(t, err)
			require.Len(t, r.Accounts, 1, "the event's account only")
			assert.Equal(t, ev.Account, r.Accounts[0].ID)
			assert.Equal(t, inventory.StatusOK, inventory.Status(r.Accounts[0].Status), r.Accounts[0].Error)
			assert.NotEmpty(t, r.Accounts[0].Name, "named from Organizations")
			for _, f := range r.Findings {
				assert.Equal(t, ev.User, f.Principal, "findings about the event's principal only")
			}
			wantF, wantA := of(nightly, ev.Account, ev.User)
			var got []string
			for _, f := range r.Findings {
				got = append(got, f.Rule)
			}
			for _, rule := range tc.rules {
				assert.Contains(t, got, rule, "rules fired on %s", ev.User)
			}
			require.Len(t, r.Findings, len(wantF), "findings on %s: %v", ev.User, got)
			for i, f := range r.Findings {
				w := wantF[i]
				assert.Equal(t, w.Fingerprint, f.Fingerprint, "finding %s: the same ID as the nightly run's (Security Hub)", f.Rule)
				assert.Equal(t, w.Severity, f.Severity, "severity of %s", f.Rule)
				assert.Equal(t, w.Message, f.Message, "message of %s", f.Rule)
				assert.NotEmpty(t, f.AccessKeyID, "finding %s names its key", f.Rule)
			}
			require.Len(t, r.Actions, len(wantA), "actions on %s", ev.User)
			for i, a := range r.Actions {
				assert.Equal(t, wantA[i].Plan, a.Plan, "plan for %s", a.AccessKeyID)
			}
			for _, k := range r.Risk {
				for _, w := range nightly.Risk {
					if w.AccessKeyID == k.AccessKeyID {
						assert.Equal(t, w.BlastRadius, k.BlastRadius, "blast radius of %s", k.AccessKeyID)
						assert.Equal(t, w.Factors, k.Factors, "why %s ranks where it does", k.AccessKeyID)
						assert.Equal(t, w.Score, k.Score, "score of %s", k.AccessKeyID)
					}
				}
			}
			after := srv.Calls().ByAccount[ev.Account]
			assert.Equal(t, before["iam:GetCredentialReport"], after["iam:GetCredentialReport"], "the credential report is not read: it may be hours old")
			assert.Equal(t, before["iam:GetAccountAuthorizationDetails"], after["iam:GetAccountAuthorizationDetails"], "one user's policies, not the account's")
		})
	}
}

func TestJudgeNewKeyOfConsoleUserWithoutMFA(t *testing.T) {
	_, conn := demoOrg(t, func(w *awssim.World) {
		// alice's key created a minute ago, never used: invisible to a
		// credential report generated earlier.
		a := w.Account("482917365012")
		a.Users[0].Keys[0].CreatedDaysAgo, a.Users[0].Keys[0].LastUsedDaysAgo = 0.001, nil
	})
	ev := sampleEvent(t, "create-access-key.json")
	r, err := pipeline.Judge(context.Background(), options(), conn, ev)
	require.NoError(t, err)
	require.Len(t, r.Findings, 1, "findings: %+v", r.Findings)
	f := r.Findings[0]
	assert.Equal(t, rules.KeyWithoutMFA, f.Rule)
	assert.Equal(t, "AKIAXA4A6GUKAXPOYXNF", f.AccessKeyID, "the new key, by ID")
	assert.True(t, f.Details.LastUseConfirmed, "last use read now, not from a credential report")
	require.Len(t, r.Actions, 1)
	assert.NotEmpty(t, r.Actions[0].Plan, "a plan to follow")
	require.Len(t, r.Risk, 1, "the key is ranked")
	assert.Equal(t, "AKIAXA4A6GUKAXPOYXNF", r.Risk[0].AccessKeyID)
	assert.Equal(t, inventory.ClassAdmin, r.Risk[0].BlastRadius, "blast radius read from alice's policies (AdministratorAccess)")
}

func TestJudgeRootKeyCreated(t *testing.T) {
	_, conn := demoOrg(t, nil)
	ev := sampleEvent(t, "root-create-access-key.json")
	r, err := pipeline.Judge(context.Background(), options(), conn, ev)
	require.NoError(t, err)
	require.Len(t, r.Findings, 1, "findings: %+v", r.Findings)
	f := r.Findings[0]
	assert.Equal(t, rules.RootAccessKey, f.Rule)
	assert.Equal(t, rules.Critical, f.Severity)
	assert.Equal(t, inventory.RootName, f.Principal)
	assert.Equal(t, "AKIAY6QOH6ZQQXPOYXNF", f.AccessKeyID, "the key the event names")
	require.Len(t, r.Actions, 1)
	assert.Equal(t, "AKIAY6QOH6ZQQXPOYXNF", r.Actions[0].AccessKeyID)
	assert.NotEmpty(t, r.Actions[0].Plan)
}

func TestJudgeExposedKeyIsLeaked(t *testing.T) {
	_, conn := demoOrg(t, nil)
	ev := sampleEvent(t, "health-credentials-exposed.json")
	r, err := pipeline.Judge(context.Background(), options(), conn, ev)
	require.NoError(t, err)
	var leaked *rules.Finding
	for i, f := range r.Findings {
		assert.Equal(t, "ci-deploy", f.Principal, "the key's user, named by IAM")
		if f.Rule == rules.KeyLeaked {
			leaked = &r.Findings[i]
		}
	}
	require.NotNil(t, leaked, "key-leaked among %+v", r.Findings)
	assert.Equal(t, "AKIA2YFQQ5J5AXPOYXNF", leaked.AccessKeyID)
	assert.Equal(t, rules.Critical, leaked.Severity, "an active key, exposed")
	var action *rules.Action
	for i, a := range r.Actions {
		if a.AccessKeyID == ev.KeyID {
			action = &r.Actions[i]
		}
	}
	require.NotNil(t, action, "an action for the exposed key")
	assert.Contains(t, action.Rules, rules.KeyLeaked)
	assert.Contains(t, action.Plan[1].Command+action.Plan[0].Command, "update-access-key", "deactivate now: %+v", action.Plan)
	assert.Contains(t, action.Plan[1].Command+action.Plan[0].Command, "Inactive")
}

func TestJudgeOutsideOrUnreachable(t *testing.T) {
	_, conn := demoOrg(t, nil)
	ev := sampleEvent(t, "create-access-key.json")
	ev.Account = "999999999999"
	_, err := pipeline.Judge(context.Background(), options(), conn, ev)
	require.ErrorIs(t, err, pipeline.ErrNotTargeted)
	assert.Contains(t, err.Error(), "999999999999")

	// acme-sandbox has no audit role: the account is reported in error.
	ev.Account = "904172638451"
	r, err := pipeline.Judge(context.Background(), options(), conn, ev)
	require.NoError(t, err)
	require.Len(t, r.Accounts, 1)
	assert.Equal(t, inventory.StatusError, inventory.Status(r.Accounts[0].Status))
	assert.Contains(t, r.Accounts[0].Error, "KeyAuditRole")
	assert.False(t, r.Complete(), "an account not judged leaves the report incomplete")
}

func TestJudgeUserGone(t *testing.T) {
	_, conn := demoOrg(t, func(w *awssim.World) {
		a := w.Account("482917365012")
		a.Users, a.Events = a.Users[1:], nil // alice deleted after the event
	})
	r, err := pipeline.Judge(context.Background(), options(), conn, sampleEvent(t, "create-access-key.json"))
	require.NoError(t, err)
	assert.Empty(t, r.Findings)
	assert.Equal(t, inventory.StatusOK, inventory.Status(r.Accounts[0].Status))
	assert.Contains(t, r.Warnings, `account 482917365012: user "alice" no longer exists: nothing to judge`)
}
