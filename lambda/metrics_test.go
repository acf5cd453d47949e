package main

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/keyaudit/keyaudit/report"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// emfLine decodes one Embedded Metric Format line and checks it against
// the rules CloudWatch applies before it extracts anything: one line, a
// millisecond timestamp, every declared dimension a top-level string and
// every declared metric a top-level number. It returns the metrics' values.
func emfLine(t *testing.T, out []byte) (directive map[string]any, values map[string]float64, top map[string]any) {
	t.Helper()
	require.Equal(t, 1, bytes.Count(out, []byte("\n")), "one line:\n%s", out)
	require.True(t, bytes.HasSuffix(out, []byte("\n")), "the line ends the output")
	require.NoError(t, json.Unmarshal(out, &top), "the line is one JSON object")
	aws, ok := top["_aws"].(map[string]any)
	require.True(t, ok, "the line has its _aws metadata")
	_, ok = aws["Timestamp"].(float64)
	require.True(t, ok, "_aws.Timestamp is a number (epoch milliseconds)")
	directives, ok := aws["CloudWatchMetrics"].([]any)
	require.True(t, ok && len(directives) == 1, "one metric directive")
	directive = directives[0].(map[string]any)
	for _, set := range directive["Dimensions"].([]any) {
		for _, dim := range set.([]any) {
			_, ok := top[dim.(string)].(string)
			assert.True(t, ok, "dimension %s has a top-level string value", dim)
		}
	}
	values = map[string]float64{}
	for _, m := range directive["Metrics"].([]any) {
		name := m.(map[string]any)["Name"].(string)
		v, ok := top[name].(float64)
		assert.True(t, ok, "metric %s has a top-level number", name)
		values[name] = v
	}
	return directive, values, top
}

func TestRunMetricsEMF(t *testing.T) {
	at := time.Date(2026, 11, 24, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name   string
		report report.Report
		want   map[string]float64
	}{
		{"a good night", report.Report{RunID: "20261124T030000Z-8476a536",
			Summary: report.Summary{Findings: 7, Accounts: map[string]int{"ok": 3}}},
			map[string]float64{"AccountsOK": 3, "AccountsError": 0, "AccountsSkipped": 0, "ListingIncomplete": 0, "Findings": 7}},
		{"every account in error, the listing cut short", report.Report{RunID: "20261124T030000Z-8476a536",
			Summary:    report.Summary{Accounts: map[string]int{"error": 4, "skipped": 2}},
			Incomplete: "the organization's listing failed after its first page"},
			map[string]float64{"AccountsOK": 0, "AccountsError": 4, "AccountsSkipped": 2, "ListingIncomplete": 1, "Findings": 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			n, err := newRunMetrics("keyaudit-KeyAuditFunction-abc", &tt.report, at).WriteTo(&out)
			require.NoError(t, err, "write the metrics")
			assert.Equal(t, int64(out.Len()), n, "WriteTo counts what it wrote")
			directive, values, top := emfLine(t, out.Bytes())
			assert.Equal(t, metricsNamespace, directive["Namespace"], "the namespace the alarms watch")
			assert.Equal(t, []any{[]any{metricsDimension}}, directive["Dimensions"], "one dimension set: the function")
			assert.Equal(t, "keyaudit-KeyAuditFunction-abc", top[metricsDimension], "the dimension's value")
			assert.Equal(t, tt.report.RunID, top["run_id"], "the run, to find its logs")
			assert.Equal(t, float64(at.UnixMilli()), top["_aws"].(map[string]any)["Timestamp"], "filed at the run's end")
			assert.Equal(t, tt.want, values, "the metrics")
		})
	}
}
