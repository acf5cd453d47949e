package report_test

import (
	"bytes"
	"encoding/csv"
	"strconv"
	"strings"
	"testing"

	"github.com/keyaudit/keyaudit/report"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// csvRows renders r as CSV and returns its rows by column name.
func csvRows(t *testing.T, r *report.Report) []map[string]string {
	t.Helper()
	rows, err := csv.NewReader(bytes.NewReader(render(t, report.CSVWriter{}, r))).ReadAll()
	require.NoError(t, err, "read the CSV")
	require.NotEmpty(t, rows, "the header")
	var out []map[string]string
	for _, row := range rows[1:] {
		m := map[string]string{}
		for i, h := range rows[0] {
			m[h] = row[i]
		}
		out = append(out, m)
	}
	return out
}

// Issue 19.6: one voice per key. Where a finding belongs to an action, its
// recommendation is the action's summary, so the two columns never
// disagree (ci-deploy's older key is retired, not rotated).
func TestCSVOneVoicePerKey(t *testing.T) {
	rows := csvRows(t, actionsFixture())
	require.NotEmpty(t, rows, "findings")
	sawRetire := false
	for _, row := range rows {
		require.NotEmpty(t, row["action"], "finding %s on %s has no action", row["rule"], row["principal"])
		assert.Equal(t, row["action"], row["recommendation"], "finding %s on %s: two voices", row["rule"], row["principal"])
		if row["principal"] == "ci-deploy" && row["rule"] == "key-rotation" {
			sawRetire = true
			assert.True(t, strings.HasPrefix(row["recommendation"], "Retire this key"), "ci-deploy's older key: %q", row["recommendation"])
		}
	}
	assert.True(t, sawRetire, "no key-rotation row for ci-deploy")
}

// Issue 22.7: a spreadsheet reads 1.10 as the number 1.1; every CIS id is
// written so that it stays text.
func TestCSVKeepsCISIDsAsText(t *testing.T) {
	rows := csvRows(t, actionsFixture())
	saw := false
	for _, row := range rows {
		for _, col := range []string{"cis_v4.0.1", "cis_v5.0.0", "cis_v6.0.0"} {
			id := row[col]
			if id == "" {
				continue
			}
			_, err := strconv.ParseFloat(id, 64)
			assert.Error(t, err, "%s of %s reads as a number: %q", col, row["rule"], id)
		}
		if row["rule"] == "key-without-mfa" {
			saw = true
			assert.Equal(t, "CIS 1.10", row["cis_v4.0.1"], "key-without-mfa in CIS v4.0.1")
		}
	}
	assert.True(t, saw, "no key-without-mfa row")
}
