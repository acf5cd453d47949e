// Package reporttest builds reports for tests: the tests of report and of
// the packages that deliver reports compare, diff and send the same ones.
package reporttest

import (
	"maps"
	"slices"
	"time"

	"github.com/keyaudit/keyaudit/audit/inventory"
	"github.com/keyaudit/keyaudit/report"
	"github.com/keyaudit/keyaudit/rules"
)

// AsOf is the time of the reports built here, and of report's fixtures
// under testdata/report/.
var AsOf = time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)

// FindingIn is a key-rotation finding of account acct with fingerprint fp.
func FindingIn(acct, fp string, sev rules.Severity) rules.Finding {
	return rules.Finding{Rule: "key-rotation", Severity: sev, AccountID: acct, Principal: "user-" + fp, Fingerprint: fp,
		Message: "finding " + fp, Recommendation: "Rotate the key."}
}

// RunOf is a report at AsOf over accounts given as id → status, in the
// order of their IDs, with findings.
func RunOf(accounts map[string]inventory.Status, findings ...rules.Finding) *report.Report {
	r := &report.Report{SchemaVersion: report.SchemaVersion, GeneratedAt: AsOf, AsOf: AsOf, Findings: findings}
	for _, id := range slices.Sorted(maps.Keys(accounts)) {
		r.Accounts = append(r.Accounts, report.Account{ID: id, Status: accounts[id]})
	}
	r.Summary = report.Summarize(r.Findings, r.Accounts)
	return r
}

// WithActions adds to fixture, report's small realistic report
// (testdata/report/fixture.report.json), the actions the rules would plan
// for its keys, so remediation carries real steps, and gives its rotation
// finding (the second) CIS references and the key's state. It returns
// fixture.
func WithActions(fixture *report.Report) *report.Report {
	r := fixture
	for _, f := range r.Findings {
		r.Actions = append(r.Actions, rules.Action{AccountID: f.AccountID, AccountName: f.AccountName, Principal: f.Principal,
			PrincipalARN: f.PrincipalARN, AccessKeyID: f.AccessKeyID, KeySlot: f.KeySlot, Severity: f.Severity, Rules: []string{f.Rule},
			Summary: "Act on the key of " + f.Principal + ".",
			Plan: []rules.Step{
				{Action: "Create the new key.", Command: "aws iam create-access-key --user-name '" + f.Principal + "'"},
				{Action: "Move every application to the new key."},
			},
			Suppressed: f.Suppressed != nil})
	}
	r.Findings[1].CIS = rules.CISRefs{rules.CISv4: "1.14", rules.CISv5: "1.13", rules.CISv6: "2.13"}
	r.Findings[1].Details.KeyCreated = r.AsOf.AddDate(0, 0, -212)
	active := true
	r.Findings[1].Details.KeyActive = &active
	return r
}

// Fingerprints are the fingerprints of fs, in order; empty, not nil, when
// fs is.
func Fingerprints(fs []rules.Finding) []string {
	out := []string{}
	for _, f := range fs {
		out = append(out, f.Fingerprint)
	}
	return out
}
