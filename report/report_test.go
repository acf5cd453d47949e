package report_test

import (
	"bytes"
	"encoding/csv"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/keyaudit/keyaudit/internal/golden"
	"github.com/keyaudit/keyaudit/report"
	"github.com/keyaudit/keyaudit/rules"
)

var asOf = time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)

func ptr[T any](v T) *T { return &v }

// fixture is a realistic report: an account with several findings, one
// suppressed, an account in error and one skipped.
func fixture() *report.Report {
	findings := []rules.Finding{
		{Rule: "root-access-key", Severity: rules.Critical, AccountID: "111111111111", AccountName: "prod", Principal: "<root_account>",
			PrincipalARN: "arn:aws:iam::111111111111:root", KeySlot: 1, Fingerprint: "0123456789abcdef",
			Message: "the root user of account 111111111111 has an active access key (slot 1)", Recommendation: "Delete the root user's access key.",
			CIS: []string{"1.4"}, Details: rules.Details{KeyAgeDays: ptr(900), KeyActive: ptr(true)},
			RotationPlan: []rules.Step{{Action: "Sign in as root and delete the key."}}},
		{Rule: "key-rotation", Severity: rules.Medium, AccountID: "111111111111", AccountName: "prod", Principal: "=cmd|calc",
			PrincipalARN: "arn:aws:iam::111111111111:user/=cmd|calc", AccessKeyID: "AKIAAAAAAAAAAAAAAAA7", KeySlot: 1, Fingerprint: "1111111111111111",
			Message: "access key AKIAAAAAAAAAAAAAAAA7 of user =cmd|calc is 212 days old (limit 90)", Recommendation: "Rotate the key.",
			CIS: []string{"1.14"}, Details: rules.Details{KeyAgeDays: ptr(212), LastUsed: asOf.AddDate(0, 0, -3), DaysSinceUse: ptr(3), ThresholdDays: ptr(90)},
			RotationPlan: []rules.Step{{Action: "Create the new key.", Command: "aws iam create-access-key --user-name '=cmd|calc'"}}},
		{Rule: "key-unused", Severity: rules.Medium, AccountID: "111111111111", AccountName: "prod", Principal: "legacy",
			PrincipalARN: "arn:aws:iam::111111111111:user/legacy", AccessKeyID: "AKIAAAAAAAAAAAAAAAA2", KeySlot: 1, Fingerprint: "2222222222222222",
			Message: "access key AKIAAAAAAAAAAAAAAAA2 of user legacy was last used 131 days ago (limit 45)", Recommendation: "Deactivate and delete it.",
			CIS: []string{"1.12"}, Details: rules.Details{DaysSinceUse: ptr(131), LastUseConfirmed: true},
			Suppressed: &rules.Suppress{Reason: "mainframe retirement, INC-42", Expires: time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC)}},
	}
	accounts := []report.Account{
		{ID: "111111111111", Name: "prod", Status: "ok", Users: 12, Keys: 9},
		{ID: "222222222222", Name: "payments", Status: "error", Error: "cannot assume role arn:aws:iam::222222222222:role/KeyAuditRole: deploy the member role"},
		{ID: "333333333333", Status: "skipped", Error: "not started: only 4s was left before the run's deadline"},
	}
	return &report.Report{SchemaVersion: report.SchemaVersion, RunID: "20261124T000000Z", GeneratedAt: asOf, AsOf: asOf,
		Accounts: accounts, Findings: findings, Summary: report.Summarize(findings, accounts),
		Warnings: []string{"keyaudit.yaml:7: the suppression of key-rotation expired on 2026-11-01"}}
}

func empty() *report.Report {
	accounts := []report.Account{{ID: "111111111111", Status: "ok"}}
	return &report.Report{SchemaVersion: report.SchemaVersion, GeneratedAt: asOf, AsOf: asOf, Accounts: accounts, Summary: report.Summarize(nil, accounts)}
}

func render(t *testing.T, w report.Writer, r *report.Report) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := w.Write(&buf, r); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestWritersGolden(t *testing.T) {
	for _, f := range report.Formats {
		w, err := report.WriterFor(f)
		if err != nil {
			t.Fatal(err)
		}
		for name, r := range map[string]*report.Report{"fixture": fixture(), "empty": empty()} {
			t.Run(string(f)+"/"+name, func(t *testing.T) {
				out := render(t, w, r)
				golden.Assert(t, "report/"+name+"."+f.FileName(), out)
				if f == report.FormatJSON {
					golden.ValidReport(t, out)
				}
			})
		}
	}
}

func TestSummary(t *testing.T) {
	s := fixture().Summary
	if s.Findings != 2 || s.Suppressed != 1 || s.BySeverity["critical"] != 1 || s.BySeverity["high"] != 0 || s.ByRule["key-unused"] != 0 {
		t.Errorf("summary = %+v", s)
	}
	if s.Accounts["ok"] != 1 || s.Accounts["error"] != 1 || s.Accounts["skipped"] != 1 {
		t.Errorf("accounts = %v", s.Accounts)
	}
	if w := fixture().Worst(); w != rules.Critical {
		t.Errorf("worst = %q", w)
	}
	if w := empty().Worst(); w != "" {
		t.Errorf("worst of nothing = %q", w)
	}
}

func TestCSVHeaderWithoutFindingsAndNoFormulas(t *testing.T) {
	rows, err := csv.NewReader(bytes.NewReader(render(t, report.CSVWriter{}, empty()))).ReadAll()
	if err != nil || len(rows) != 1 || rows[0][0] != "account_id" {
		t.Fatalf("rows = %v, %v; want the header alone", rows, err)
	}
	rows, err = csv.NewReader(bytes.NewReader(render(t, report.CSVWriter{}, fixture()))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range rows[1:] {
		for _, cell := range row {
			if cell != "" && strings.ContainsRune("=+-@", rune(cell[0])) {
				t.Errorf("cell %q would run as a spreadsheet formula", cell)
			}
		}
	}
}

func TestSchemaRejectsBadReports(t *testing.T) {
	for name, mutate := range map[string]func(string) string{
		"bad status":   func(s string) string { return strings.Replace(s, `"status": "ok"`, `"status": "fine"`, 1) },
		"unknown rule": func(s string) string { return strings.Replace(s, `"rule": "key-rotation"`, `"rule": "key-old"`, 1) },
		"error without reason": func(s string) string {
			return strings.Replace(s, `"error": "cannot assume role arn:aws:iam::222222222222:role/KeyAuditRole: deploy the member role",`, ``, 1)
		},
	} {
		t.Run(name, func(t *testing.T) {
			bad := mutate(string(render(t, report.JSONWriter{}, fixture())))
			ft := &fakeT{}
			golden.ValidReport(ft, []byte(bad))
			if !ft.failed {
				t.Error("the schema accepted it")
			}
		})
	}
}

// fakeT records whether a check failed, to test the check itself.
type fakeT struct {
	testing.TB
	failed bool
}

func (f *fakeT) Helper()               {}
func (f *fakeT) Errorf(string, ...any) { f.failed = true }
func (f *fakeT) Fatalf(string, ...any) { f.failed = true }
func (f *fakeT) Fatal(...any)          { f.failed = true }

func TestParseFormat(t *testing.T) {
	if f, err := report.ParseFormat("JSON"); err != nil || f != report.FormatJSON {
		t.Errorf("JSON: %v %v", f, err)
	}
	if _, err := report.ParseFormat("xml"); err == nil || !strings.Contains(err.Error(), `unknown format "xml"`) {
		t.Errorf("xml: %v", err)
	}
}

func TestMarkdownCellsHoldHostileText(t *testing.T) {
	r := fixture()
	r.Findings[0].Message = "a | b\nc `d`"
	out := string(render(t, report.MarkdownWriter{}, r))
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "| critical") && strings.Count(strings.ReplaceAll(line, `\|`, ""), "|") != 8 {
			t.Errorf("table row broken: %s", line)
		}
	}
}

func TestTableColorKeepsColumnsAligned(t *testing.T) {
	plain := strings.Split(string(render(t, report.TableWriter{}, fixture())), "\n")
	colored := strings.Split(string(render(t, report.TableWriter{Color: true}, fixture())), "\n")
	ansi := regexp.MustCompile("\033\\[[0-9;]*m")
	if len(plain) != len(colored) {
		t.Fatalf("%d lines plain, %d colored", len(plain), len(colored))
	}
	sawColor := false
	for i := range plain {
		sawColor = sawColor || colored[i] != plain[i]
		if got := ansi.ReplaceAllString(colored[i], ""); got != plain[i] {
			t.Errorf("line %d differs beyond color:\n%q\n%q", i, got, plain[i])
		}
	}
	if !sawColor {
		t.Error("no color in the colored table")
	}
}
