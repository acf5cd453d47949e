package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/keyaudit/keyaudit/rules"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// demoReport writes the JSON report of the demo organization and returns its path.
func demoReport(t *testing.T) string {
	t.Helper()
	code, stdout, stderr := exe(t, nil, "scan", "--demo", "--format", "json", "--quiet", "--as-of", asOf)
	require.Equal(t, exitIncomplete, code, "exit code of the demo scan (one account lacks the role); stderr: %s", stderr)
	path := filepath.Join(t.TempDir(), "report.json")
	require.NoError(t, os.WriteFile(path, []byte(stdout), 0o600), "write the demo report")
	return path
}

func TestBinaryRiskShowsTheRankingAlone(t *testing.T) {
	t.Parallel()
	path := demoReport(t)

	code, stdout, stderr := exe(t, nil, "risk", "--report", path, "--top", "3", "--format", "table")
	require.Equal(t, exitOK, code, "case table: exit code; stderr: %s", stderr)
	assert.Contains(t, stdout, "Kill first: the top 3 of ", "case table: heading")
	assert.Contains(t, stdout, "Blast radius: identity policies only", "case table: notes")
	assert.NotContains(t, stdout, "key-rotation", "case table: the ranking alone, no findings")
	assert.Len(t, regexp.MustCompile(`(?m)^  \d+ +\d+ `).FindAllString(stdout, -1), 3, "case table: rows shown with --top 3:\n%s", stdout)

	// Not a terminal: JSON, the risk array in rank order.
	code, stdout, stderr = exe(t, nil, "risk", "--report", path, "--top", "0")
	require.Equal(t, exitOK, code, "case json: exit code; stderr: %s", stderr)
	var ranked []rules.Risk
	require.NoError(t, json.Unmarshal([]byte(stdout), &ranked), "case json: a risk array:\n%s", stdout)
	require.Greater(t, len(ranked), 3, "case json: --top 0 shows every key")
	for i, k := range ranked {
		assert.Equal(t, i+1, k.Rank, "case json: rank of entry %d", i)
		assert.NotEmpty(t, k.Factors, "case json: factors of %s", k.Principal)
	}
	assert.Contains(t, stdout, `"<root_account>"`, "case json: names unescaped")
}

func TestBinaryRiskRejectsWhatItCannotRank(t *testing.T) {
	t.Parallel()
	path := demoReport(t)
	data, err := os.ReadFile(path)
	require.NoError(t, err, "read the demo report")
	var doc map[string]any
	require.NoError(t, json.Unmarshal(data, &doc), "decode the demo report")
	delete(doc, "risk")
	old, err := json.Marshal(doc)
	require.NoError(t, err, "encode the report without a ranking")
	oldPath := filepath.Join(t.TempDir(), "old.json")
	require.NoError(t, os.WriteFile(oldPath, old, 0o600), "write the report without a ranking")
	notJSON := filepath.Join(t.TempDir(), "report.csv")
	require.NoError(t, os.WriteFile(notJSON, []byte("user,arn\n"), 0o600), "write a CSV")

	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no report", []string{"risk"}, "--report is required"},
		{"missing file", []string{"risk", "--report", filepath.Join(t.TempDir(), "none.json")}, "--report: open"},
		{"not JSON", []string{"risk", "--report", notJSON}, "not a keyaudit JSON report"},
		{"no ranking", []string{"risk", "--report", oldPath}, "holds no kill-first ranking"},
		{"bad top", []string{"risk", "--report", path, "--top", "-1"}, "--top must be 0"},
		{"bad format", []string{"risk", "--report", path, "--format", "csv"}, `--format "csv": use table or json`},
		// Issue 25 item 7: it grew by about 70 MB/s without limit.
		{"endless file", []string{"risk", "--report", "/dev/zero"}, "--report /dev/zero: not a keyaudit JSON report: invalid character '\\x00'"},
	}
	for _, tt := range tests {
		start := time.Now()
		code, _, stderr := exe(t, nil, tt.args...)
		assert.Equal(t, exitUsage, code, "case %s: exit code", tt.name)
		assert.Contains(t, stderr, tt.want, "case %s: message", tt.name)
		assert.Equal(t, 1, strings.Count(stderr, "\n"), "case %s: one line: %q", tt.name, stderr)
		assert.Less(t, time.Since(start), 10*time.Second, "case %s: refused at once", tt.name)
	}
}

func TestRiskReadsStandardInput(t *testing.T) {
	code, report, stderr := keyaudit(t, "", "scan", "--credential-report", realistic(), "--format", "json", "--as-of", asOf)
	require.Equal(t, exitOK, code, "offline scan; stderr: %s", stderr)
	code, stdout, stderr := keyaudit(t, report, "risk", "--report", "-", "--format", "table")
	require.Equal(t, exitOK, code, "case stdin: exit code; stderr: %s", stderr)
	assert.Contains(t, stdout, "Kill first: the top", "case stdin: heading")
	// The note wraps at the table's width (80 columns off a terminal).
	assert.Contains(t, strings.Join(strings.Fields(stdout), " "), "credential reports hold neither IAM policies nor CloudTrail events", "case stdin: offline note")
}
