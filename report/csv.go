package report

import (
	"encoding/csv"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/keyaudit/keyaudit/rules"
)

// csvHeader is fixed: downstream spreadsheets and SIEM imports key on it.
// One CIS column per benchmark version; action is what to do about the
// finding's key and action_rules every rule that fired on it (the same
// for every finding on the key: its plan is in the JSON report).
// recommendation is the action too, where the finding has one: a key has
// one voice, not one per rule.
var csvHeader = func() []string {
	h := []string{"account_id", "account_name", "principal", "principal_arn", "access_key_id", "key_slot", "rule", "severity"}
	for _, v := range rules.CISVersions {
		h = append(h, "cis_"+string(v))
	}
	return append(h, "message", "recommendation", "action", "action_rules", "key_age_days", "last_used",
		"days_since_use", "suppressed", "suppression_reason", "fingerprint")
}()

// CSVWriter writes one row per finding under a fixed header, which is
// written even when there is nothing to report.
type CSVWriter struct{}

func (CSVWriter) Write(w io.Writer, r *Report) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return err
	}
	actions := actionsByKey(r.Actions)
	for _, f := range r.Findings {
		reason := ""
		if f.Suppressed != nil {
			reason = f.Suppressed.Reason
		}
		row := []string{f.AccountID, f.AccountName, f.Principal, f.PrincipalARN, f.AccessKeyID, itoa0(f.KeySlot), f.Rule, string(f.Severity)}
		for _, v := range rules.CISVersions {
			row = append(row, cisText(f.CIS.In(v)))
		}
		action := actions[keyOf(f.AccountID, f.Principal, f.AccessKeyID, f.KeySlot)]
		row = append(row, f.Message, or(action.Summary, f.Recommendation), action.Summary, strings.Join(action.Rules, ";"),
			intp(f.Details.KeyAgeDays), rfc3339(f.Details.LastUsed), intp(f.Details.DaysSinceUse),
			strconv.FormatBool(f.Suppressed != nil), reason, f.Fingerprint)
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

// keyOf identifies a key as findings and actions name it.
type keyRef struct {
	account, principal, key string
	slot                    int
}

func keyOf(account, principal, key string, slot int) keyRef {
	return keyRef{account, principal, key, slot}
}

// actionsByKey indexes actions by the key they are about.
func actionsByKey(actions []rules.Action) map[keyRef]rules.Action {
	out := make(map[keyRef]rules.Action, len(actions))
	for _, a := range actions {
		out[keyOf(a.AccountID, a.Principal, a.AccessKeyID, a.KeySlot)] = a
	}
	return out
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

// cisText writes a CIS id so that a spreadsheet keeps it as text: "1.10"
// alone would be read as the number 1.1.
func cisText(id string) string {
	if id == "" {
		return ""
	}
	return "CIS " + id
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
