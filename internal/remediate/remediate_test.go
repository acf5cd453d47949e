package remediate

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyaudit/keyaudit/rules"
)

const quarantineARN = "arn:aws:iam::aws:policy/" + QuarantinePolicy

func unusedAction(account, user, key string) rules.Action {
	return rules.Action{AccountID: account, Principal: user, AccessKeyID: key, Severity: rules.Medium, Rules: []string{rules.KeyUnused},
		Plan: []rules.Step{
			{Command: "test \"$(aws sts get-caller-identity --query Account --output text)\" = " + account},
			{Command: "aws iam get-access-key-last-used --access-key-id " + key},
			{Command: "aws iam update-access-key --user-name " + user + " --access-key-id " + key + " --status Inactive"},
			{Command: "aws iam delete-access-key --user-name " + user + " --access-key-id " + key},
		}}
}

func leakedAction(account, user, key string) rules.Action {
	return rules.Action{AccountID: account, Principal: user, AccessKeyID: key, Severity: rules.Critical, Rules: []string{rules.KeyLeaked},
		Plan: []rules.Step{
			{Command: "aws iam update-access-key --user-name " + user + " --access-key-id " + key + " --status Inactive"},
			{Command: "aws iam attach-user-policy --user-name " + user + " --policy-arn " + quarantineARN},
			{Command: "aws iam detach-user-policy --user-name " + user + " --policy-arn " + quarantineARN},
			{Command: "aws iam delete-access-key --user-name " + user + " --access-key-id " + key},
		}}
}

func TestSelectTakesOnlyReversibleStepsBeforeANewKey(t *testing.T) {
	rotate := rules.Action{AccountID: "111111111111", Principal: "terraform", AccessKeyID: "AKIAROTATE", Severity: rules.Medium, Rules: []string{rules.KeyRotation},
		Plan: []rules.Step{
			{Command: "read -r NEW_KEY_ID NEW_SECRET_ACCESS_KEY < <(aws iam create-access-key --user-name terraform --query 'AccessKey.[AccessKeyId,SecretAccessKey]' --output text)"},
			{Command: "aws iam update-access-key --user-name terraform --access-key-id AKIAROTATE --status Inactive"},
		}}
	root := rules.Action{AccountID: "111111111111", Principal: "<root_account>", Severity: rules.Critical, Rules: []string{rules.RootAccessKey}}
	all := []rules.Action{unusedAction("111111111111", "old", "AKIAUNUSED"), leakedAction("222222222222", "leaky", "AKIALEAKED"), rotate, root}

	changes, skips := Select(all, Selection{})
	require.Len(t, changes, 3, "every reversible step of every plan")
	assert.Equal(t, Change{Op: Deactivate, AccountID: "111111111111", User: "old", AccessKeyID: "AKIAUNUSED",
		Finding: Finding{Rules: []string{rules.KeyUnused}, Severity: rules.Medium}}, changes[0], "the unused key is deactivated, not deleted")
	assert.Equal(t, []Op{Deactivate, Quarantine}, []Op{changes[1].Op, changes[2].Op}, "the leaked key: deactivate, then quarantine; never the detach or delete")
	assert.True(t, changes[1].InUseAllowed, "the leak plan deactivates a key in use")
	assert.Equal(t, quarantineARN, changes[2].PolicyARN, "the policy ARN of the plan")
	assert.False(t, changes[0].InUseAllowed, "an unused key's plan does not deactivate a key in use")
	require.Len(t, skips, 2, "the rotation and the root key have nothing apply may do")
	assert.Equal(t, "AKIAROTATE", skips[0].Action.AccessKeyID, "the rotation's deactivation waits for a new key")

	changes, _ = Select(all, Selection{Severity: rules.Critical})
	assert.Len(t, changes, 2, "--severity critical: the leak only")
	changes, _ = Select(all, Selection{Keys: []string{"AKIAUNUSED"}})
	assert.Len(t, changes, 1, "--key")
	changes, _ = Select(all, Selection{Accounts: []string{"222222222222"}, Rules: []string{rules.KeyUnused}})
	assert.Empty(t, changes, "--account and --rule together")
}

// Every change is journaled before the call, and completed after it.
func TestJournalWrittenBeforeEachChange(t *testing.T) {
	f, j, r, clock := setup(t)
	f.addKey("leaky", "AKIALEAKED", "Active", clock.now.Add(-time.Hour))
	changes, _ := Select([]rules.Action{leakedAction("111111111111", "leaky", "AKIALEAKED")}, Selection{})

	results := r.Apply(context.Background(), changes)
	for _, res := range results {
		assert.Equal(t, Changed, res.Outcome, "%s: %s", res.Change.Op, res.Reason)
	}
	assert.Equal(t, []string{
		"journal started deactivate AKIALEAKED", "call update AKIALEAKED Inactive", "journal complete deactivate AKIALEAKED",
		"journal started quarantine AKIALEAKED", "call attach leaky", "journal complete quarantine AKIALEAKED",
	}, *j.log, "each change between its two journal records")

	recs, err := j.Records(context.Background())
	require.NoError(t, err)
	require.Len(t, recs, 4)
	assert.Equal(t, Record{JournalID: "J1", Seq: 1, Status: Started, Time: clock.now, Actor: "tester", Op: Deactivate, AccountID: "111111111111",
		Principal: "leaky", AccessKeyID: "AKIALEAKED", Previous: "Active", New: "Inactive",
		Finding: &Finding{Rules: []string{rules.KeyLeaked}, Severity: rules.Critical}}, recs[0], "the record says who changed what from what to what, and why")
	assert.Equal(t, "detached", recs[2].Previous, "the policy was not attached before")
}

// A journal that cannot be written stops the change; a change whose
// outcome was not recorded stays incomplete, and undo reads the key.
func TestIncompleteRecordAndUndo(t *testing.T) {
	ctx := context.Background()
	t.Run("no journal, no change", func(t *testing.T) {
		f, j, r, _ := setup(t)
		f.addKey("old", "AKIAUNUSED", "Active", time.Time{})
		j.failAt[1] = true
		res := r.Apply(ctx, []Change{{Op: Deactivate, AccountID: "111111111111", User: "old", AccessKeyID: "AKIAUNUSED"}})
		assert.Equal(t, Failure, res[0].Outcome, "the change fails")
		assert.Contains(t, res[0].Reason, "not changed, the journal could not be written", "and says why")
		assert.Equal(t, "Active", f.status("old", "AKIAUNUSED"), "the key is untouched")
	})
	t.Run("made, outcome not recorded", func(t *testing.T) {
		f, j, r, _ := setup(t)
		f.addKey("old", "AKIAUNUSED", "Active", time.Time{})
		j.failAt[2] = true
		res := r.Apply(ctx, []Change{{Op: Deactivate, AccountID: "111111111111", User: "old", AccessKeyID: "AKIAUNUSED"}})
		assert.Equal(t, Failure, res[0].Outcome, "an unrecorded outcome is a failure")
		assert.Contains(t, res[0].Reason, "change 1 left incomplete")
		require.Equal(t, "Inactive", f.status("old", "AKIAUNUSED"), "the change was made")
		recs, err := j.Records(ctx)
		require.NoError(t, err)
		require.Len(t, recs, 1, "only the started record")
		assert.Equal(t, Started, recs[0].Status, "the record is incomplete")

		r.JournalID = "J2"
		undone, err := r.Undo(ctx, func(rec Record) bool { return rec.JournalID == "J1" })
		require.NoError(t, err)
		require.Len(t, undone, 1)
		assert.Equal(t, Changed, undone[0].Outcome, "undo restores the incomplete change it finds made: %s", undone[0].Reason)
		assert.Equal(t, "Active", f.status("old", "AKIAUNUSED"), "the key is active again")
	})
	t.Run("journaled, never made", func(t *testing.T) {
		f, j, r, clock := setup(t)
		f.addKey("old", "AKIAUNUSED", "Active", time.Time{})
		require.NoError(t, j.File.Append(ctx, Record{JournalID: "J1", Seq: 1, Status: Started, Time: clock.now, Op: Deactivate, AccountID: "111111111111",
			Principal: "old", AccessKeyID: "AKIAUNUSED", Previous: "Active", New: "Inactive"}))
		r.JournalID = "J2"
		undone, err := r.Undo(ctx, func(rec Record) bool { return rec.JournalID == "J1" })
		require.NoError(t, err)
		require.Len(t, undone, 1)
		assert.Equal(t, Unchanged, undone[0].Outcome, "nothing to restore")
		assert.Contains(t, undone[0].Reason, "the change was never made")
		assert.Empty(t, *j.log, "no call, no record")
	})
}

func TestApplyRefusesExemptAndInUseKeys(t *testing.T) {
	ctx := context.Background()
	f, j, r, clock := setup(t)
	f.addKey("svc", "AKIAINUSE", "Active", clock.now.Add(-3*24*time.Hour))
	f.addKey("kept", "AKIAEXEMPT", "Active", time.Time{})
	f.tags["kept"] = map[string]string{DefaultExemptTag: "true"}
	f.addKey("pair", "AKIAONE", "Active", time.Time{})
	f.addKey("pair", "AKIATWO", "Active", time.Time{})
	f.tags["pair"] = map[string]string{DefaultExemptTag: "AKIAONE"}
	f.addKey("leaky", "AKIALEAKED", "Active", clock.now.Add(-time.Hour))

	res := r.Apply(ctx, []Change{
		{Op: Deactivate, AccountID: "1", User: "svc", AccessKeyID: "AKIAINUSE"},
		{Op: Deactivate, AccountID: "1", User: "kept", AccessKeyID: "AKIAEXEMPT"},
		{Op: Deactivate, AccountID: "1", User: "pair", AccessKeyID: "AKIAONE"},
		{Op: Deactivate, AccountID: "1", User: "pair", AccessKeyID: "AKIATWO"},
		{Op: Deactivate, AccountID: "1", User: "leaky", AccessKeyID: "AKIALEAKED", InUseAllowed: true},
	})
	require.Len(t, res, 5)
	assert.Equal(t, Refused, res[0].Outcome, "a key used 3 days ago")
	assert.Contains(t, res[0].Reason, "the key is in use: last used")
	assert.Equal(t, Refused, res[1].Outcome, "a user tagged exempt")
	assert.Equal(t, `user "kept" is tagged keyaudit:exempt=true`, res[1].Reason)
	assert.Equal(t, Refused, res[2].Outcome, "the key the tag names")
	assert.Equal(t, Changed, res[3].Outcome, "the user's other key: %s", res[3].Reason)
	assert.Equal(t, Changed, res[4].Outcome, "a leaked key in use: the plan says so: %s", res[4].Reason)
	assert.Equal(t, "Active", f.status("svc", "AKIAINUSE"))
	assert.Equal(t, "Active", f.status("kept", "AKIAEXEMPT"))
	assert.Len(t, *j.log, 6, "two changes, two records each")

	r.ExemptTag = "team:keep"
	f.tags["svc"] = map[string]string{"team:keep": ""}
	res = r.Apply(ctx, []Change{{Op: Deactivate, AccountID: "1", User: "svc", AccessKeyID: "AKIAINUSE"}})
	assert.Equal(t, `user "svc" is tagged team:keep=`, res[0].Reason, "the tag name is configurable")
}

func TestDryRunChangesNothing(t *testing.T) {
	f, j, r, _ := setup(t)
	f.addKey("old", "AKIAUNUSED", "Active", time.Time{})
	r.Yes = false
	res := r.Apply(context.Background(), []Change{{Op: Deactivate, AccountID: "1", User: "old", AccessKeyID: "AKIAUNUSED"}})
	assert.Equal(t, WouldChange, res[0].Outcome)
	assert.Equal(t, "Active", f.status("old", "AKIAUNUSED"))
	assert.Empty(t, *j.log, "no journal, no call")
}

func TestUndoSaysWhatItCannotRestore(t *testing.T) {
	ctx := context.Background()
	f, _, r, _ := setup(t)
	for _, k := range []string{"AKIAGONE", "AKIABYHAND", "AKIABACK"} {
		f.addKey("u", k, "Active", time.Time{})
	}
	f.addKey("leaky", "AKIALEAKED", "Active", time.Time{})
	changes, _ := Select([]rules.Action{leakedAction("1", "leaky", "AKIALEAKED")}, Selection{})
	changes = append(changes, Change{Op: Deactivate, AccountID: "1", User: "u", AccessKeyID: "AKIAGONE"},
		Change{Op: Deactivate, AccountID: "1", User: "u", AccessKeyID: "AKIABYHAND"},
		Change{Op: Deactivate, AccountID: "1", User: "u", AccessKeyID: "AKIABACK"})
	for _, res := range r.Apply(ctx, changes) {
		require.Equal(t, Changed, res.Outcome, res.Reason)
	}
	delete(f.keys["u"], "AKIAGONE")
	f.keys["u"]["AKIABYHAND"].status = "Active"

	r.JournalID = "J2"
	res, err := r.Undo(ctx, func(rec Record) bool { return rec.JournalID == "J1" })
	require.NoError(t, err)
	var got []string
	for _, x := range res {
		got = append(got, x.Change.AccessKeyID+" "+string(x.Change.Op)+" "+string(x.Outcome))
	}
	assert.Equal(t, []string{
		"AKIABACK deactivate changed", "AKIABYHAND deactivate not restored", "AKIAGONE deactivate not restored",
		"AKIALEAKED quarantine changed", "AKIALEAKED deactivate changed",
	}, got, "newest first")
	assert.Contains(t, res[1].Reason, "changed by hand since")
	assert.Contains(t, res[2].Reason, "the key was deleted since")
	assert.Equal(t, "Active", f.status("leaky", "AKIALEAKED"))
	assert.Empty(t, f.attached["leaky"], "the quarantine policy is detached")

	again, err := r.Undo(ctx, func(rec Record) bool { return rec.JournalID == "J1" })
	require.NoError(t, err)
	assert.Len(t, again, 2, "what was restored is not undone twice; what could not be is said again")
}

func TestDeleteAfterOnlyOnEvidence(t *testing.T) {
	ctx := context.Background()
	f, _, r, clock := setup(t)
	for _, k := range []string{"AKIAOK", "AKIAREACT", "AKIAUSED", "AKIAUNDONE"} {
		f.addKey("u", k, "Active", time.Time{})
	}
	var changes []Change
	for _, k := range []string{"AKIAOK", "AKIAREACT", "AKIAUSED", "AKIAUNDONE"} {
		changes = append(changes, Change{Op: Deactivate, AccountID: "1", User: "u", AccessKeyID: k})
	}
	for _, res := range r.Apply(ctx, changes) {
		require.Equal(t, Changed, res.Outcome, res.Reason)
	}
	r.JournalID = "J2"
	_, err := r.Undo(ctx, func(rec Record) bool { return rec.AccessKeyID == "AKIAUNDONE" })
	require.NoError(t, err)
	f.keys["u"]["AKIAUNDONE"].status = "Inactive" // deactivated by hand since

	clock.now = clock.now.Add(10 * 24 * time.Hour)
	r.JournalID = "J3"
	res, err := r.DeleteAfter(ctx, 14, Selection{})
	require.NoError(t, err)
	require.Len(t, res, 4)
	for _, x := range res {
		assert.Equal(t, Refused, x.Outcome, "%s after 10 days: %s", x.Change.AccessKeyID, x.Reason)
	}

	clock.now = clock.now.Add(5 * 24 * time.Hour)
	f.keys["u"]["AKIAREACT"].status = "Active"
	f.keys["u"]["AKIAUSED"].lastUsed = clock.now.Add(-24 * time.Hour)
	res, err = r.DeleteAfter(ctx, 14, Selection{})
	require.NoError(t, err)
	got := map[string]Result{}
	for _, x := range res {
		got[x.Change.AccessKeyID] = x
	}
	assert.Equal(t, Changed, got["AKIAOK"].Outcome, got["AKIAOK"].Reason)
	assert.Equal(t, "deletion cannot be undone", got["AKIAOK"].Reason)
	assert.Equal(t, Refused, got["AKIAREACT"].Outcome, "reactivated by hand")
	assert.Equal(t, Refused, got["AKIAUSED"].Outcome, "used since")
	assert.Equal(t, Refused, got["AKIAUNDONE"].Outcome, "undone")
	assert.Equal(t, stateDeleted, f.status("u", "AKIAOK"))
	assert.Equal(t, "Inactive", f.status("u", "AKIAUSED"))

	res, err = r.Undo(ctx, func(rec Record) bool { return rec.JournalID == "J3" })
	require.NoError(t, err)
	require.Len(t, res, 1)
	assert.Equal(t, NotRestored, res[0].Outcome, "undo cannot bring a deleted key back")
}

func TestFailedCallIsRecorded(t *testing.T) {
	f, j, r, _ := setup(t)
	f.addKey("old", "AKIAUNUSED", "Active", time.Time{})
	f.fail = errors.New("AccessDenied")
	res := r.Apply(context.Background(), []Change{{Op: Deactivate, AccountID: "1", User: "old", AccessKeyID: "AKIAUNUSED"}})
	assert.Equal(t, Failure, res[0].Outcome)
	recs, err := j.Records(context.Background())
	require.NoError(t, err)
	require.Len(t, recs, 2)
	assert.Equal(t, Failed, recs[1].Status)
	assert.Contains(t, recs[1].Error, "AccessDenied")
}
