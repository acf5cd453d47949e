package report_test

import (
	"testing"
	"time"

	"github.com/keyaudit/keyaudit/audit/inventory"
	"github.com/keyaudit/keyaudit/internal/golden"
	"github.com/keyaudit/keyaudit/report"
	"github.com/keyaudit/keyaudit/report/reporttest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Issue 19 observation 10: a finding's age does not reset every night. The
// next run keeps when each finding was first seen, and knows what the
// previous run had that it no longer has.
func TestCarryOver(t *testing.T) {
	ok := map[string]inventory.Status{acctA: "ok", acctB: "ok"}
	earlier := asOf.AddDate(0, 0, -30)
	prev := reporttest.RunOf(ok, reporttest.FindingIn(acctA, "kept", "medium"), reporttest.FindingIn(acctA, "fixed", "medium"), reporttest.FindingIn(acctB, "old", "high"))
	prev.AsOf = asOf.AddDate(0, 0, -1)
	prev.Findings[2].FirstSeen = earlier
	r := reporttest.RunOf(ok, reporttest.FindingIn(acctA, "kept", "medium"), reporttest.FindingIn(acctB, "old", "high"), reporttest.FindingIn(acctB, "new", "low"))

	report.CarryOver(prev, r)
	first := map[string]time.Time{}
	for _, f := range r.Findings {
		first[f.Fingerprint] = f.FirstSeen
	}
	assert.Equal(t, prev.AsOf, first["kept"], "a finding the previous run had is first seen at that run")
	assert.Equal(t, earlier, first["old"], "a first-seen date the previous run carried is kept")
	assert.Equal(t, r.AsOf, first["new"], "a new finding is first seen now")
	if assert.Len(t, r.Resolved, 1, "resolved since the previous run") {
		assert.Equal(t, "fixed", r.Resolved[0].Fingerprint)
	}

	again := reporttest.RunOf(ok, reporttest.FindingIn(acctA, "kept", "medium"))
	newer := reporttest.RunOf(ok, reporttest.FindingIn(acctA, "kept", "medium"))
	newer.SchemaVersion = "99"
	report.CarryOver(newer, again)
	assert.True(t, again.Findings[0].FirstSeen.IsZero(), "a report that cannot be compared carries nothing")
	report.CarryOver(nil, again)
	assert.Nil(t, again.Resolved, "no previous run: nothing resolved")
}

// OCSF: a finding first seen tonight is created, one an earlier run
// reported is updated with its first-seen time, and one the previous run
// had is closed as resolved; every event still matches the class.
func TestOCSFActivities(t *testing.T) {
	ok := map[string]inventory.Status{acctA: "ok"}
	prev := reporttest.RunOf(ok, reporttest.FindingIn(acctA, "kept", "medium"), reporttest.FindingIn(acctA, "fixed", "medium"))
	prev.AsOf = asOf.AddDate(0, 0, -3)
	r := reporttest.RunOf(ok, reporttest.FindingIn(acctA, "kept", "medium"), reporttest.FindingIn(acctA, "new", "low"))
	report.CarryOver(prev, r)

	events, inst := ocsfEvents(t, r)
	require.Len(t, events, 3, "one event per open finding and one per resolved")
	byUID := map[string]map[string]any{}
	for _, ev := range events {
		byUID[ev["finding_info"].(map[string]any)["uid"].(string)] = ev
	}
	want := map[string]struct {
		activity string
		status   string
		created  time.Time
	}{
		"keyaudit-kept":  {"Update", "New", prev.AsOf},
		"keyaudit-new":   {"Create", "New", r.AsOf},
		"keyaudit-fixed": {"Close", "Resolved", prev.AsOf},
	}
	for uid, w := range want {
		ev := byUID[uid]
		require.NotNil(t, ev, "event %s", uid)
		assert.Equal(t, w.activity, ev["activity_name"], "activity of %s", uid)
		assert.Equal(t, w.status, ev["status"], "status of %s", uid)
		assert.Equal(t, float64(w.created.UnixMilli()), ev["finding_info"].(map[string]any)["created_time"], "created time of %s", uid)
	}
	sch := golden.OCSFSchema(t)
	for i, ev := range inst {
		assert.NoError(t, sch.Validate(ev), "event %d matches Detection Finding", i)
	}
}
