package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/keyaudit/keyaudit/report"
	"github.com/keyaudit/keyaudit/rules"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Issue 21 observation 7: a report that could not be stored goes to the
// log in lines Lambda keeps whole (it cuts an event past 256 KB), and every
// account and finding can be read back from them, in order.
func TestLogReportInLinesLambdaKeeps(t *testing.T) {
	const lambdaLimit = 256 << 10
	r := &report.Report{Summary: report.Summary{Findings: 5000, Accounts: map[string]int{"ok": 3000}}, Incomplete: "the listing failed"}
	for i := range 3000 {
		r.Accounts = append(r.Accounts, report.Account{ID: fmt.Sprintf("%012d", i), Status: "ok"})
	}
	for i := range 5000 {
		r.Findings = append(r.Findings, rules.Finding{Rule: "key-rotation", AccountID: fmt.Sprintf("%012d", i%3000),
			Principal: fmt.Sprintf("user-%d", i), Message: strings.Repeat("an access key older than the rotation threshold ", 4)})
	}
	var out bytes.Buffer
	require.NoError(t, logReport(slog.New(slog.NewJSONHandler(&out, nil)), r, errors.New("put report.json: access denied")), "log the report")

	var accounts []report.Account
	var findings []rules.Finding
	lines := 0
	sc := bufio.NewScanner(&out)
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		lines++
		assert.Less(t, len(sc.Bytes()), lambdaLimit, "line %d fits in one Lambda log event", lines)
		var line struct {
			Msg      string           `json:"msg"`
			Error    string           `json:"error"`
			Summary  *report.Summary  `json:"summary"`
			Accounts []report.Account `json:"accounts"`
			Findings []rules.Finding  `json:"findings"`
		}
		require.NoError(t, json.Unmarshal(sc.Bytes(), &line), "line %d is JSON", lines)
		if lines == 1 {
			assert.Equal(t, "put report.json: access denied", line.Error, "the first line says why")
			assert.Equal(t, r.Summary, *line.Summary, "and gives the summary")
		}
		accounts = append(accounts, line.Accounts...)
		findings = append(findings, line.Findings...)
	}
	require.NoError(t, sc.Err(), "read the log")
	assert.Greater(t, lines, 3, "the findings take several lines")
	assert.Equal(t, r.Accounts, accounts, "every account, in order")
	principals := func(fs []rules.Finding) []string {
		var out []string
		for _, f := range fs {
			out = append(out, f.AccountID+"/"+f.Principal)
		}
		return out
	}
	assert.Equal(t, principals(r.Findings), principals(findings), "every finding, in order")
}

func TestLogParts(t *testing.T) {
	tests := []struct {
		name  string
		items []string
		max   int
		want  [][]string
	}{
		{"nothing", nil, 10, nil},
		{"all in one", []string{"a", "b"}, 100, [][]string{{"a", "b"}}},
		{"cut where the next would not fit", []string{"aaa", "bbb", "ccc"}, 14, [][]string{{"aaa", "bbb"}, {"ccc"}}},
		{"an item above the limit is a part of its own", []string{"a", strings.Repeat("x", 20), "b"}, 10, [][]string{{"a"}, {strings.Repeat("x", 20)}, {"b"}}},
	}
	for _, tt := range tests {
		got, err := logParts(tt.items, tt.max)
		require.NoError(t, err, tt.name)
		assert.Equal(t, tt.want, got, tt.name)
		for _, p := range got {
			if data, _ := json.Marshal(p); len(p) > 1 {
				assert.LessOrEqual(t, len(data), tt.max, "%s: a part of several items stays under the limit", tt.name)
			}
		}
	}
}
