package report_test

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyaudit/keyaudit/audit/inventory"
	"github.com/keyaudit/keyaudit/internal/golden"
	"github.com/keyaudit/keyaudit/report"
	"github.com/keyaudit/keyaudit/report/reporttest"
	"github.com/keyaudit/keyaudit/rules"
)

const (
	acctA = "111111111111"
	acctB = "222222222222"
	acctC = "333333333333"
)

func TestDiff(t *testing.T) {
	a1, a2 := reporttest.FindingIn(acctA, "a1", rules.High), reporttest.FindingIn(acctA, "a2", rules.Medium)
	b1, c1 := reporttest.FindingIn(acctB, "b1", rules.Critical), reporttest.FindingIn(acctC, "c1", rules.Low)
	for _, tt := range []struct {
		name            string
		prev, cur       *report.Report
		compared        bool
		added, resolved []string
	}{
		{"no earlier run: nothing is new, nothing compared", nil, reporttest.RunOf(map[string]inventory.Status{acctA: "ok"}, a1), false, []string{}, []string{}},
		{"unchanged", reporttest.RunOf(map[string]inventory.Status{acctA: "ok"}, a1), reporttest.RunOf(map[string]inventory.Status{acctA: "ok"}, a1), true, []string{}, []string{}},
		{"a new finding", reporttest.RunOf(map[string]inventory.Status{acctA: "ok"}, a1), reporttest.RunOf(map[string]inventory.Status{acctA: "ok"}, a1, a2), true, []string{"a2"}, []string{}},
		{"a resolved finding", reporttest.RunOf(map[string]inventory.Status{acctA: "ok"}, a1, a2), reporttest.RunOf(map[string]inventory.Status{acctA: "ok"}, a2), true, []string{}, []string{"a1"}},
		{"an account in error last time: its findings are not news",
			reporttest.RunOf(map[string]inventory.Status{acctA: "ok", acctB: "error"}, a1), reporttest.RunOf(map[string]inventory.Status{acctA: "ok", acctB: "ok"}, a1, b1), true, []string{}, []string{}},
		{"an account skipped last time: its findings are not news",
			reporttest.RunOf(map[string]inventory.Status{acctA: "ok", acctB: "skipped"}, a1), reporttest.RunOf(map[string]inventory.Status{acctA: "ok", acctB: "ok"}, a1, b1), true, []string{}, []string{}},
		{"an account in error tonight resolves nothing",
			reporttest.RunOf(map[string]inventory.Status{acctA: "ok", acctB: "ok"}, a1, b1), reporttest.RunOf(map[string]inventory.Status{acctA: "ok", acctB: "error"}, a1), true, []string{}, []string{}},
		{"an account never listed before: its findings are new",
			reporttest.RunOf(map[string]inventory.Status{acctA: "ok"}, a1), reporttest.RunOf(map[string]inventory.Status{acctA: "ok", acctC: "ok"}, a1, c1), true, []string{"c1"}, []string{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ch := report.Diff(tt.prev, tt.cur)
			assert.Equal(t, tt.compared, ch.Compared, "case %s: compared", tt.name)
			assert.Equal(t, tt.added, reporttest.Fingerprints(ch.Added), "case %s: added", tt.name)
			assert.Equal(t, tt.resolved, reporttest.Fingerprints(ch.Resolved), "case %s: resolved", tt.name)
		})
	}
}

// TestBaselineCarriesLastOKState follows an announcement baseline over
// nights where an account fails and a single-account run happens: news is
// only what no ok run of that account had.
func TestBaselineCarriesLastOKState(t *testing.T) {
	a1, a2 := reporttest.FindingIn(acctA, "a1", rules.High), reporttest.FindingIn(acctA, "a2", rules.Medium)
	b1, b2 := reporttest.FindingIn(acctB, "b1", rules.Critical), reporttest.FindingIn(acctB, "b2", rules.Low)
	both := map[string]inventory.Status{acctA: "ok", acctB: "ok"}
	nights := []struct {
		name            string
		cur             *report.Report
		added, resolved []string
	}{
		{"first night", reporttest.RunOf(both, a1, b1), []string{}, []string{}},
		{"B in error", reporttest.RunOf(map[string]inventory.Status{acctA: "ok", acctB: "error"}, a1), []string{}, []string{}},
		{"B back with one more finding", reporttest.RunOf(both, a1, b1, b2), []string{"b2"}, []string{}},
		{"a manual run of A alone", reporttest.RunOf(map[string]inventory.Status{acctA: "ok"}, a1, a2), []string{"a2"}, []string{}},
		{"the next full night", reporttest.RunOf(both, a1, a2, b1), []string{}, []string{"b2"}},
	}
	var base *report.Report
	for _, n := range nights {
		ch := report.Diff(base, n.cur)
		if base != nil {
			assert.Equal(t, n.added, reporttest.Fingerprints(ch.Added), "night %q: added", n.name)
			assert.Equal(t, n.resolved, reporttest.Fingerprints(ch.Resolved), "night %q: resolved", n.name)
		}
		base = report.Baseline(base, n.cur)
		require.NotNil(t, base, "night %q", n.name)
	}
	assert.Equal(t, []string{"a1", "a2", "b1"}, reporttest.Fingerprints(base.Findings), "final baseline findings")
	assert.Equal(t, 2, base.Summary.Accounts["ok"], "final baseline accounts")
}

func TestBaselineLeavesOutAccountsNeverOK(t *testing.T) {
	c1 := reporttest.FindingIn(acctC, "c1", rules.High)
	base := report.Baseline(nil, reporttest.RunOf(map[string]inventory.Status{acctA: "ok", acctC: "error"}))
	assert.Equal(t, []string{acctA}, accountIDs(base), "an account never audited ok is not in the baseline")
	ch := report.Diff(base, reporttest.RunOf(map[string]inventory.Status{acctA: "ok", acctC: "ok"}, c1))
	assert.Equal(t, []string{"c1"}, reporttest.Fingerprints(ch.Added), "its findings are new when it is first audited ok")
}

func accountIDs(r *report.Report) []string {
	var out []string
	for _, a := range r.Accounts {
		out = append(out, a.ID)
	}
	return out
}

func TestSuppressionIsNotResolution(t *testing.T) {
	a1 := reporttest.FindingIn(acctA, "a1", rules.High)
	ok := map[string]inventory.Status{acctA: "ok"}
	muted := a1
	muted.Suppressed = &rules.Suppress{Reason: "INC-42"}
	ch := report.Diff(reporttest.RunOf(ok, a1), reporttest.RunOf(ok, muted))
	assert.Empty(t, ch.Resolved, "a newly suppressed finding is not resolved")
	assert.Equal(t, []string{"a1"}, reporttest.Fingerprints(ch.Suppressed), "a newly suppressed finding is reported as suppressed")
	assert.Empty(t, ch.Added, "nothing new")

	ch = report.Diff(reporttest.RunOf(ok, muted), reporttest.RunOf(ok, muted))
	assert.Empty(t, ch.Suppressed, "a finding suppressed both times is no news")
	ch = report.Diff(reporttest.RunOf(ok, muted), reporttest.RunOf(ok, a1))
	assert.Equal(t, []string{"a1"}, reporttest.Fingerprints(ch.Added), "a finding whose suppression ended is open again: new")
}

func readPrevious(t *testing.T, name string) *report.Report {
	t.Helper()
	f, err := os.Open(golden.Path(name))
	require.NoError(t, err, "open %s", name)
	defer f.Close()
	r, err := report.ReadReport(f)
	require.NoError(t, err, "read %s", name)
	return r
}

func TestNewerSchemaIsNotCompared(t *testing.T) {
	// A report of schema_version 1, as keyaudit wrote before any bump: every
	// later version still reads and compares it.
	v1 := readPrevious(t, "slack/previous-v1.json")
	cur := *v1
	cur.SchemaVersion = report.SchemaVersion
	ch := report.Diff(v1, &cur)
	assert.NoError(t, ch.Refused, "schema_version 1 is readable")
	assert.True(t, ch.Compared, "schema_version 1 is compared")
	assert.Empty(t, ch.Added, "the same findings are not new")

	// "10" is newer than any version this keyaudit writes, compared as a
	// number, although "10" < "2" as text; its shape does not even decode.
	newer := readPrevious(t, "slack/previous-v10.json")
	assert.Equal(t, "10", newer.SchemaVersion, "the version is kept")
	ch = report.Diff(newer, fixture())
	require.ErrorIs(t, ch.Refused, report.ErrNewerSchema, "a newer schema_version is refused")
	assert.False(t, ch.Compared, "not compared")
	assert.Empty(t, ch.Added, "nothing new without a comparison")
	assert.Contains(t, ch.Refused.Error(), `schema_version "10"`, "the refusal names the version")

	for _, v := range []string{"", "one", "0"} {
		prev := fixture()
		prev.SchemaVersion = v
		assert.Error(t, report.Diff(prev, fixture()).Refused, "schema_version %q is refused", v)
	}
	base := report.Baseline(newer, fixture())
	assert.Equal(t, report.SchemaVersion, base.SchemaVersion, "a baseline over a newer one is this version's")
	assert.Equal(t, []string{"111111111111"}, accountIDs(base), "nothing is carried from a newer baseline")

	_, err := report.ReadReport(strings.NewReader("[1, 2]"))
	assert.ErrorContains(t, err, "not a keyaudit JSON report", "an array")
}

// endless is a reader that never ends, of one byte repeated.
type endless byte

func (e endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(e)
	}
	return len(p), nil
}

// Issue 25 item 7: every report file was read with io.ReadAll, so
// risk --report /dev/zero grew without bound.
func TestReadReportIsBounded(t *testing.T) {
	_, err := report.ReadReport(endless(0))
	assert.ErrorContains(t, err, "not a keyaudit JSON report: invalid character", "/dev/zero fails at its first byte")

	_, err = report.ReadReportUpTo(endless(' '), 1<<20)
	assert.ErrorIs(t, err, report.ErrTooLarge, "endless white space stops at the limit")
	assert.ErrorContains(t, err, "is too large to be a keyaudit report (more than 1 MiB)", "the error names the limit")

	f, err := os.ReadFile(golden.Path("slack/previous-v1.json"))
	require.NoError(t, err, "read a report")
	r, err := report.ReadReportUpTo(strings.NewReader(string(f)), int64(len(f)))
	require.NoError(t, err, "a report of exactly the limit is read")
	assert.Equal(t, "1", r.SchemaVersion, "its version")
	_, err = report.ReadReportUpTo(strings.NewReader(string(f)), int64(len(f))-1)
	assert.ErrorIs(t, err, report.ErrTooLarge, "one byte past the limit is refused")

	_, err = report.ReadReport(strings.NewReader(string(f) + "{}"))
	assert.ErrorContains(t, err, "not a keyaudit JSON report: more follows the report", "a second value after the report")
}
