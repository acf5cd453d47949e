package report

import (
	"fmt"

	"github.com/keyaudit/keyaudit/audit/inventory"
	"github.com/keyaudit/keyaudit/rules"
)

// Summarize counts the findings that are not suppressed, by severity (all
// four always present) and rule, and the accounts by status.
func Summarize(findings []rules.Finding, accounts []Account) Summary {
	s := Summary{BySeverity: map[string]int{}, ByRule: map[string]int{},
		Accounts: map[string]int{string(inventory.StatusOK): 0, string(inventory.StatusError): 0, string(inventory.StatusSkipped): 0}}
	for _, sev := range rules.Severities {
		s.BySeverity[string(sev)] = 0
	}
	for _, f := range findings {
		if f.Suppressed != nil {
			s.Suppressed++
			continue
		}
		s.Findings++
		s.BySeverity[string(f.Severity)]++
		s.ByRule[f.Rule]++
	}
	for _, a := range accounts {
		s.Accounts[string(a.Status)]++
	}
	return s
}

// Worst is the highest severity among the findings not suppressed; "" when none.
func (r *Report) Worst() rules.Severity {
	var worst rules.Severity
	for _, f := range r.Findings {
		if f.Suppressed == nil && f.Severity.Rank() > worst.Rank() {
			worst = f.Severity
		}
	}
	return worst
}

// Complete reports whether every target account was audited.
func (r *Report) Complete() bool {
	return r.Incomplete == "" && r.Summary.Accounts[string(inventory.StatusError)]+r.Summary.Accounts[string(inventory.StatusSkipped)] == 0
}

// SetIncomplete records why the report lacks targets it cannot name, and
// warns of it first.
func (r *Report) SetIncomplete(why string) {
	r.Incomplete = why
	r.Warnings = append([]string{"incomplete: " + why}, r.Warnings...)
}

// CoverageNote says what the CIS ids shown do not cover: the recommendations
// on MFA for console users and on unused credentials (2.9 and 2.11 in
// v6.0.0) are judged here for access keys only, so a report without such
// findings must not read as a pass.
func CoverageNote(v rules.CISVersion) string {
	cis := cisByRule()
	mfa, unused := cis["key-without-mfa"].In(v), cis["key-unused"].In(v)
	return fmt.Sprintf("CIS %s %s and %s are checked for access keys only, not for console passwords (their MFA, their last use): no finding under them does not mean they pass.", v, mfa, unused)
}
