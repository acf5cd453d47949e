package main

// When S3 cannot be written, the night's report goes to the function's log
// instead, so that nothing is lost. Lambda cuts a log event past 256 KB, and
// 10,000 accounts' findings are hundreds of megabytes: one line holding them
// all would keep only its first quarter megabyte.

import (
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/keyaudit/keyaudit/report"
)

// maxLogPart is how much of the report one log line may carry: Lambda
// keeps 256 KB of an event, and slog's time, level, message and the run's
// ID need room beside the part.
const maxLogPart = 200 << 10

// logReport logs a report that could not be stored, in lines Lambda keeps
// whole: first why and the summary, then the accounts and the findings,
// part by part, each line saying which part of how many it is.
func logReport(log *slog.Logger, r *report.Report, cause error) error {
	accounts, err := logParts(r.Accounts, maxLogPart)
	if err != nil {
		return err
	}
	findings, err := logParts(r.Findings, maxLogPart)
	if err != nil {
		return err
	}
	log.Error("reports not written to S3: the summary, the accounts and the findings follow", "error", cause.Error(),
		"summary", r.Summary, "incomplete", r.Incomplete, "account_parts", len(accounts), "finding_parts", len(findings))
	for i, p := range accounts {
		log.Error("accounts of the report not written to S3", "part", i+1, "of", len(accounts), "accounts", p)
	}
	for i, p := range findings {
		log.Error("findings of the report not written to S3", "part", i+1, "of", len(findings), "findings", p)
	}
	return nil
}

// logParts cuts items into runs whose JSON array stays under max bytes.
// An item larger than max on its own is a part by itself: Lambda cuts that
// line, and every other part is whole.
func logParts[T any](items []T, max int) ([][]T, error) {
	var parts [][]T
	start, size := 0, len("[]")
	for i, item := range items {
		data, err := json.Marshal(item)
		if err != nil {
			return nil, fmt.Errorf("encode the report for the log: %w", err)
		}
		n := len(data) + len(",")
		if i > start && size+n > max {
			parts = append(parts, items[start:i])
			start, size = i, len("[]")
		}
		size += n
	}
	if start < len(items) {
		parts = append(parts, items[start:])
	}
	return parts, nil
}
