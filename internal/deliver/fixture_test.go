package deliver_test

import (
	"os"
	"testing"
	"time"

	"github.com/keyaudit/keyaudit/audit/inventory"
	"github.com/keyaudit/keyaudit/internal/golden"
	"github.com/keyaudit/keyaudit/report"
	"github.com/keyaudit/keyaudit/rules"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// readReport reads a JSON report under testdata/.
func readReport(name string) *report.Report {
	f, err := os.Open(golden.Path(name))
	if err != nil {
		panic(err) // a file of the repository
	}
	defer f.Close()
	r, err := report.ReadReport(f)
	if err != nil {
		panic(err)
	}
	return r
}

// fixture is report's small realistic report (see report's tests): an
// active root key, a rotation for a user with a hostile name, a
// suppressed unused key, an expired suppression; an account in error and
// one skipped.
func fixture() *report.Report { return readReport("report/fixture.report.json") }

// empty is a report of one account with nothing found.
func empty() *report.Report { return readReport("report/empty.report.json") }

func fingerprints(fs []rules.Finding) []string {
	out := []string{}
	for _, f := range fs {
		out = append(out, f.Fingerprint)
	}
	return out
}

func accountIDs(r *report.Report) []string {
	var out []string
	for _, a := range r.Accounts {
		out = append(out, a.ID)
	}
	return out
}

var asOf = time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)

const (
	acctA = "111111111111"
	acctB = "222222222222"
)

func findingIn(acct, fp string, sev rules.Severity) rules.Finding {
	return rules.Finding{Rule: "key-rotation", Severity: sev, AccountID: acct, Principal: "user-" + fp, Fingerprint: fp,
		Message: "finding " + fp, Recommendation: "Rotate the key."}
}

// runOf is a report over accounts given as id → status, with findings.
func runOf(accounts map[string]inventory.Status, findings ...rules.Finding) *report.Report {
	r := &report.Report{SchemaVersion: report.SchemaVersion, GeneratedAt: asOf, AsOf: asOf, Findings: findings}
	for _, id := range []string{acctA, acctB} {
		if status, ok := accounts[id]; ok {
			r.Accounts = append(r.Accounts, report.Account{ID: id, Status: status})
		}
	}
	r.Summary = report.Summarize(r.Findings, r.Accounts)
	return r
}

func fixtureID(i int) string { return "keyaudit-" + fixture().Findings[i].Fingerprint }

// withActions is the fixture with the actions the rules would plan for its
// keys, so remediation carries real steps.
func withActions() *report.Report {
	r := fixture()
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
	r.Findings[1].Details.KeyCreated = asOf.AddDate(0, 0, -212)
	active := true
	r.Findings[1].Details.KeyActive = &active
	return r
}
