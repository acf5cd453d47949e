package report_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/keyaudit/keyaudit/report"
	"github.com/keyaudit/keyaudit/report/reporttest"
	"github.com/keyaudit/keyaudit/rules"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ReadFindings keeps of a report what the next run carries over, and
// steps over the plans and the ranking, most of a large report.
func TestReadFindings(t *testing.T) {
	full := reporttest.WithActions(fixture())
	require.NotEmpty(t, full.Actions, "the fixture has plans")
	require.NotEmpty(t, full.Risk, "the fixture has a ranking")
	data := render(t, report.JSONWriter{}, full)

	r, err := report.ReadFindings(bytes.NewReader(data))
	require.NoError(t, err)
	assert.Equal(t, full.SchemaVersion, r.SchemaVersion)
	assert.True(t, full.AsOf.Equal(r.AsOf), "as of")
	assert.Equal(t, full.Accounts, r.Accounts, "accounts")
	require.Len(t, r.Findings, len(full.Findings), "findings")
	for i := range full.Findings {
		assert.Equal(t, full.Findings[i].Fingerprint, r.Findings[i].Fingerprint, "finding %d", i)
		assert.Equal(t, full.Findings[i].Message, r.Findings[i].Message, "finding %d", i)
	}
	assert.Nil(t, r.Actions, "plans are not kept")
	assert.Nil(t, r.Risk, "the ranking is not kept")
	whole, err := report.ReadReport(bytes.NewReader(data))
	require.NoError(t, err)
	assert.Equal(t, report.Diff(whole, full), report.Diff(r, full), "the diff is the same as with the whole report")

	newer := strings.Replace(string(data), `"schema_version": "`+full.SchemaVersion+`"`, `"schema_version": "99"`, 1)
	r, err = report.ReadFindings(strings.NewReader(newer))
	require.NoError(t, err, "a newer version is returned, not refused")
	assert.Equal(t, "99", r.SchemaVersion)
	assert.Empty(t, r.Findings, "nothing but the version of a newer report")

	for name, bad := range map[string]string{
		"zeros":               "\x00\x00\x00",
		"not an object":       "[1, 2]",
		"trailing":            string(data) + "{}",
		"no version":          `{"findings": []}`,
		"cut short":           string(data[:len(data)/2]),
		"findings not a list": `{"schema_version": "2", "findings": {}}`,
	} {
		_, err := report.ReadFindings(strings.NewReader(bad))
		assert.Error(t, err, "case %s", name)
	}
}

// ReadRanking keeps the ranking without its factors, and only the
// findings asked for: what an event's judgement needs of a night.
func TestReadRanking(t *testing.T) {
	full := reporttest.WithActions(fixture())
	require.NotEmpty(t, full.Risk, "the fixture has a ranking")
	require.Greater(t, len(full.Findings), 1, "the fixture has several findings")
	want := full.Findings[1]
	data := render(t, report.JSONWriter{}, full)

	r, err := report.ReadRanking(bytes.NewReader(data), func(f *rules.Finding) bool { return f.Fingerprint == want.Fingerprint })
	require.NoError(t, err)
	require.Len(t, r.Findings, 1, "only the finding asked for")
	assert.Equal(t, want.Fingerprint, r.Findings[0].Fingerprint)
	require.Len(t, r.Risk, len(full.Risk), "every ranked key")
	for i, k := range full.Risk {
		got := r.Risk[i]
		assert.Equal(t, []any{k.Rank, k.AccountID, k.Principal, k.AccessKeyID, k.KeySlot, k.Score},
			[]any{got.Rank, got.AccountID, got.Principal, got.AccessKeyID, got.KeySlot, got.Score}, "ranked key %d", i)
		assert.Nil(t, got.Factors, "factors are not kept")
	}
	assert.Nil(t, r.Actions, "plans are not kept")

	_, err = report.ReadRanking(strings.NewReader(`{"schema_version": "2", "risk": {}}`), nil)
	assert.Error(t, err, "a ranking that is not a list")
}
