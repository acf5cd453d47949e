package report

import (
	"encoding/csv"
	"io"
	"strconv"
	"strings"
	"time"
)

// csvHeader is fixed: downstream spreadsheets and SIEM imports key on it.
var csvHeader = []string{
	"account_id", "account_name", "principal", "principal_arn", "access_key_id", "key_slot",
	"rule", "severity", "cis", "message", "recommendation", "key_age_days", "last_used",
	"days_since_use", "suppressed", "suppression_reason", "fingerprint",
}

// CSVWriter writes one row per finding under a fixed header, which is
// written even when there is nothing to report.
type CSVWriter struct{}

func (CSVWriter) Write(w io.Writer, r *Report) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return err
	}
	for _, f := range r.Findings {
		reason := ""
		if f.Suppressed != nil {
			reason = f.Suppressed.Reason
		}
		row := []string{
			f.AccountID, f.AccountName, f.Principal, f.PrincipalARN, f.AccessKeyID, itoa0(f.KeySlot),
			f.Rule, string(f.Severity), strings.Join(f.CIS, ";"), f.Message, f.Recommendation,
			intp(f.Details.KeyAgeDays), rfc3339(f.Details.LastUsed), intp(f.Details.DaysSinceUse),
			strconv.FormatBool(f.Suppressed != nil), reason, f.Fingerprint,
		}
		for i := range row {
			row[i] = cell(row[i])
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// cell defuses spreadsheet formulas: a user or account name from AWS that
// starts with = + - @ would otherwise run as a formula when the CSV is
// opened (CSV injection). Prefixing ' makes it text.
func cell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func itoa0(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}

func intp(p *int) string {
	if p == nil {
		return ""
	}
	return strconv.Itoa(*p)
}

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
