package main

// A run's outcome as CloudWatch metrics: one line in the Embedded Metric
// Format on standard output, which Lambda's log pipeline turns into metrics
// with no API call and no permission beyond the logs. template.yaml's
// AccountsNotAuditedAlarm and ListingIncompleteAlarm watch them, so that a
// run that succeeds but audited little still wakes someone.

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/keyaudit/keyaudit/audit/inventory"
	"github.com/keyaudit/keyaudit/report"
)

// metricsNamespace is the CloudWatch namespace of the run metrics, and
// metricsDimension their one dimension, the function's name; the
// template's alarms name both.
const (
	metricsNamespace = "keyaudit"
	metricsDimension = "FunctionName"
)

// runMetrics is what one run is counted as.
type runMetrics struct {
	// Function is the dimension's value: the function's name
	// (AWS_LAMBDA_FUNCTION_NAME), as the alarms' !Ref gives it.
	Function string
	RunID    string
	// At is when the run ended: CloudWatch files the values under it, and
	// an alarm looks only at its latest period.
	At                        time.Time
	AccountsOK, AccountsError int
	AccountsSkipped, Findings int
	ListingIncomplete         bool
}

// newRunMetrics counts the accounts and findings of a run's report.
func newRunMetrics(function string, r *report.Report, at time.Time) runMetrics {
	return runMetrics{
		Function:          function,
		RunID:             r.RunID,
		At:                at,
		AccountsOK:        r.Summary.Accounts[string(inventory.StatusOK)],
		AccountsError:     r.Summary.Accounts[string(inventory.StatusError)],
		AccountsSkipped:   r.Summary.Accounts[string(inventory.StatusSkipped)],
		Findings:          r.Summary.Findings,
		ListingIncomplete: r.Incomplete != "",
	}
}

// values are the metrics by name, in the order the line declares them.
func (m runMetrics) values() []metricValue {
	incomplete := 0
	if m.ListingIncomplete {
		incomplete = 1
	}
	return []metricValue{
		{"AccountsOK", m.AccountsOK},
		{"AccountsError", m.AccountsError},
		{"AccountsSkipped", m.AccountsSkipped},
		{"ListingIncomplete", incomplete},
		{"Findings", m.Findings},
	}
}

type metricValue struct {
	name  string
	value int
}

// WriteTo writes the metrics as one EMF line (CloudWatch's "Specification:
// Embedded metric format"): the values at the top level, and under _aws
// which of them are metrics, in which namespace and by which dimension.
func (m runMetrics) WriteTo(w io.Writer) (int64, error) {
	type metric struct {
		Name string `json:"Name"`
		Unit string `json:"Unit"`
	}
	type directive struct {
		Namespace  string     `json:"Namespace"`
		Dimensions [][]string `json:"Dimensions"`
		Metrics    []metric   `json:"Metrics"`
	}
	d := directive{Namespace: metricsNamespace, Dimensions: [][]string{{metricsDimension}}}
	line := map[string]any{metricsDimension: m.Function, "run_id": m.RunID}
	for _, v := range m.values() {
		d.Metrics = append(d.Metrics, metric{Name: v.name, Unit: "Count"})
		line[v.name] = v.value
	}
	line["_aws"] = map[string]any{"Timestamp": m.At.UnixMilli(), "CloudWatchMetrics": []directive{d}}
	data, err := json.Marshal(line)
	if err != nil {
		return 0, fmt.Errorf("encode the run's metrics: %w", err)
	}
	n, err := w.Write(append(data, '\n'))
	if err != nil {
		return int64(n), fmt.Errorf("write the run's metrics: %w", err)
	}
	return int64(n), nil
}
