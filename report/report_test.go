package report_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/keyaudit/keyaudit/audit/inventory"
	"github.com/keyaudit/keyaudit/internal/golden"
	"github.com/keyaudit/keyaudit/report"
	"github.com/keyaudit/keyaudit/report/reporttest"
	"github.com/keyaudit/keyaudit/rules"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var asOf = reporttest.AsOf

func ago(days int) time.Time { return asOf.AddDate(0, 0, -days) }

func usedKey(id string, slot int, created, used int) inventory.Key {
	return inventory.Key{ID: id, Slot: slot, Active: true, CreatedAt: ago(created),
		LastUsed: inventory.LastUse{Known: true, At: ago(used), Service: "s3", Region: "eu-west-1", Confirmed: true}}
}

func iamUser(name string, keys ...inventory.Key) inventory.User {
	return inventory.User{Name: name, ARN: "arn:aws:iam::111111111111:user/" + name, CreatedAt: ago(1000), Keys: keys}
}

// build evaluates the rules over an inventory and assembles the report as
// internal/pipeline's Build does.
func build(cfg rules.Config, inv []inventory.Account, sightings []inventory.Sighting) *report.Report {
	audited := map[string]bool{}
	var accounts []report.Account
	for _, a := range inv {
		audited[a.ID] = true
		ra := report.Account{ID: a.ID, Name: a.Name, Status: a.Status, Error: a.Error}
		for _, u := range a.Principals() {
			if !u.Root {
				ra.Users++
			}
			ra.Keys += len(u.Keys)
		}
		accounts = append(accounts, ra)
	}
	env := rules.Env{Now: asOf, Config: cfg, Audited: audited}
	res := rules.Evaluate(env, inv, sightings)
	ranked := rules.Rank(env, rules.DefaultRisk(), inv, res.Actions)
	return &report.Report{SchemaVersion: report.SchemaVersion, RunID: "20261124T000000Z", GeneratedAt: asOf, AsOf: asOf,
		Accounts: accounts, Findings: res.Findings, Actions: res.Actions, Warnings: res.Warnings,
		Risk: ranked, RiskNotes: rules.RiskNotes(ranked, rules.DefaultRisk()),
		Summary: report.Summarize(res.Findings, accounts), KeyAges: []int{3, 14, 80, 212, 218}, CISVersion: cfg.CISVersion}
}

func config(yaml string) rules.Config {
	cfg, err := rules.ParseConfig("keyaudit.yaml", []byte(yaml))
	if err != nil {
		panic(err) // the fixtures' own config
	}
	return cfg
}

var unaudited = []inventory.Account{
	{ID: "222222222222", Name: "payments", Status: inventory.StatusError, Error: "cannot assume role arn:aws:iam::222222222222:role/KeyAuditRole: deploy the member role"},
	{ID: "333333333333", Status: inventory.StatusSkipped, Error: "not started: only 4s was left before the run's deadline"},
}

// fixture is a small realistic report: an active root key, a rotation for a
// user with a hostile name, a suppressed unused key, an expired
// suppression; an account in error and one skipped.
func fixture() *report.Report {
	cfg := config(`
suppressions:
  - rule: key-unused
    principal: legacy
    reason: mainframe retirement, INC-42
    expires: 2026-12-31
  - rule: key-rotation
    principal: nobody
    reason: expired
    expires: 2026-11-01
`)
	prod := inventory.Account{ID: "111111111111", Name: "prod", Status: inventory.StatusOK,
		Root: &inventory.User{Name: inventory.RootName, ARN: "arn:aws:iam::111111111111:root", Root: true,
			Keys: []inventory.Key{{Slot: 1, Active: true, CreatedAt: ago(900), LastUsed: inventory.LastUse{Known: true, Never: true}}}},
		Users: []inventory.User{
			iamUser("=cmd|calc", usedKey("AKIAAAAAAAAAAAAAAAA7", 1, 212, 3)),
			iamUser("legacy", usedKey("AKIAAAAAAAAAAAAAAAA2", 1, 80, 70)),
		}}
	// The hostile name's power comes from a group; its key was profiled.
	prod.Users[0].Permissions = &inventory.Permissions{Class: inventory.ClassAdmin, FromGroups: true,
		Grants: []string{`"*" on "*" via group <admins>: AdministratorAccess`}}
	prod.Users[0].Keys[0].Profile = &inventory.Profile{Pages: 2, Events: 100, MoreUnread: true, Oldest: ago(4),
		PublicIPs: []string{"198.51.100.7", "203.0.113.10", "203.0.113.11"}, NewIPsUnknown: true,
		Human: []string{"aws-cli/2.15.0 Darwin/23"}, Regions: []string{"eu-west-1"}}
	return build(cfg, append([]inventory.Account{prod}, unaudited...), nil)
}

// actionsFixture shows plans from real key state: two active keys, a
// console user without MFA, a rotation after deleting an old inactive
// key, and a key the credential report names only by slot.
func actionsFixture() *report.Report {
	bob := iamUser("bob", usedKey("AKIAAAAAAAAAAAAAAAA5", 1, 30, 1))
	bob.PasswordEnabled = true
	rollback := usedKey("AKIAAAAAAAAAAAAAAAA7", 2, 400, 300)
	rollback.Active = false
	offline := usedKey("", 1, 218, 60)
	prod := inventory.Account{ID: "111111111111", Name: "prod", Status: inventory.StatusOK, Users: []inventory.User{
		iamUser("ci-deploy", usedKey("AKIAAAAAAAAAAAAAAAA3", 1, 218, 1), usedKey("AKIAAAAAAAAAAAAAAAA4", 2, 14, 2)),
		bob,
		iamUser("svc", usedKey("AKIAAAAAAAAAAAAAAAA6", 1, 200, 1), rollback),
		iamUser("backup", offline),
	}}
	cfg := rules.Defaults()
	cfg.CISVersion = rules.CISv5
	return build(cfg, []inventory.Account{prod}, nil)
}

func empty() *report.Report {
	return build(rules.Defaults(), []inventory.Account{{ID: "111111111111", Status: inventory.StatusOK}}, nil)
}

func render(t *testing.T, w report.Writer, r *report.Report) []byte {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, w.Write(&buf, r))
	return buf.Bytes()
}

func TestWritersGolden(t *testing.T) {
	for _, f := range report.Formats {
		w, err := report.WriterFor(f)
		require.NoError(t, err)
		for name, r := range map[string]*report.Report{"fixture": fixture(), "empty": empty(), "actions": actionsFixture()} {
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

func TestActionsFixtureHasOneActionPerKey(t *testing.T) {
	r := actionsFixture()
	keys := map[string]bool{}
	for _, a := range r.Actions {
		id := a.AccountID + "/" + a.Principal + "/" + a.AccessKeyID
		assert.False(t, keys[id], "two actions for %s", id)
		keys[id] = true
	}
	assert.Len(t, r.Actions, 5, "ci-deploy's older key, bob, svc's two keys, backup")
}

func TestSummary(t *testing.T) {
	r := fixture()
	s := r.Summary
	assert.Equal(t, 2, s.Findings)
	assert.Equal(t, 1, s.Suppressed)
	assert.Equal(t, map[string]int{"critical": 1, "high": 0, "medium": 1, "low": 0}, s.BySeverity)
	assert.Equal(t, map[string]int{"ok": 1, "error": 1, "skipped": 1}, s.Accounts)
	assert.Equal(t, rules.Critical, r.Worst())
	assert.Equal(t, rules.Severity(""), empty().Worst(), "worst of nothing")
}

func TestCSV(t *testing.T) {
	rows, err := csv.NewReader(bytes.NewReader(render(t, report.CSVWriter{}, empty()))).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 1, "want the header alone")
	assert.Equal(t, "account_id", rows[0][0])

	rows, err = csv.NewReader(bytes.NewReader(render(t, report.CSVWriter{}, fixture()))).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 4, "a header and three findings")
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	for _, h := range []string{"cis_v4.0.1", "cis_v5.0.0", "cis_v6.0.0", "action", "action_rules"} {
		require.Contains(t, col, h)
	}
	sawRotation := false
	for _, row := range rows[1:] {
		for _, c := range row {
			if c != "" {
				assert.NotContains(t, "=+-@", c[:1], "cell %q would run as a spreadsheet formula", c)
			}
		}
		assert.NotEmpty(t, row[col["action"]], "finding %s on %s has no action", row[col["rule"]], row[col["principal"]])
		assert.Contains(t, strings.Split(row[col["action_rules"]], ";"), row[col["rule"]], "the key's action does not list the finding's rule")
		if row[col["rule"]] == "key-rotation" {
			sawRotation = true
			assert.Equal(t, []string{"CIS 1.14", "CIS 1.13", "CIS 2.13"}, []string{row[col["cis_v4.0.1"]], row[col["cis_v5.0.0"]], row[col["cis_v6.0.0"]]})
		}
	}
	assert.True(t, sawRotation, "no key-rotation row")
}

func TestJSONKeepsCommandsReadable(t *testing.T) {
	out := string(render(t, report.JSONWriter{}, fixture()))
	assert.NotContains(t, out, `\u0026`)
	assert.Contains(t, out, `"schema_version": "2"`)
	assert.Contains(t, out, `"cis": {`)
	assert.NotContains(t, out, "rotation_plan")
}

func TestSchemaRejectsBadReports(t *testing.T) {
	for name, mutate := range map[string]func(string) string{
		"bad status":   func(s string) string { return strings.Replace(s, `"status": "ok"`, `"status": "fine"`, 1) },
		"unknown rule": func(s string) string { return strings.Replace(s, `"rule": "key-rotation"`, `"rule": "key-old"`, 1) },
		"cis as a list": func(s string) string {
			return regexp.MustCompile(`(?s)"cis": \{.*?\}`).ReplaceAllString(s, `"cis": ["1.14"]`)
		},
		"old schema": func(s string) string { return strings.Replace(s, `"schema_version": "2"`, `"schema_version": "1"`, 1) },
		"action without plan": func(s string) string {
			return regexp.MustCompile(`(?s)"plan": \[.*?\n      \]`).ReplaceAllString(s, `"plans": []`)
		},
		"error without reason": func(s string) string {
			return strings.Replace(s, `"error": "cannot assume role arn:aws:iam::222222222222:role/KeyAuditRole: deploy the member role",`, ``, 1)
		},
	} {
		t.Run(name, func(t *testing.T) {
			good := string(render(t, report.JSONWriter{}, fixture()))
			bad := mutate(good)
			require.NotEqual(t, good, bad, "case %s: the mutation changed nothing", name)
			ft := &fakeT{}
			golden.ValidReport(ft, []byte(bad))
			assert.True(t, ft.failed, "case %s: the schema accepted it", name)
		})
	}
}

// The schema's rule enum is the catalogue, not a hand-made copy.
func TestSchemaRulesAreTheCatalogue(t *testing.T) {
	var schema struct {
		Defs struct {
			Rule struct {
				Enum []string `json:"enum"`
			} `json:"rule"`
		} `json:"$defs"`
	}
	require.NoError(t, json.Unmarshal(report.Schema, &schema))
	var ids []string
	for _, r := range rules.Catalogue() {
		ids = append(ids, r.ID)
	}
	assert.Equal(t, ids, schema.Defs.Rule.Enum)
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
	f, err := report.ParseFormat("JSON")
	require.NoError(t, err)
	assert.Equal(t, report.FormatJSON, f)
	_, err = report.ParseFormat("xml")
	assert.ErrorContains(t, err, `unknown format "xml"`)
}

func TestMarkdownCellsHoldHostileText(t *testing.T) {
	r := fixture()
	hostile := "a | b\nc `d` [x](https://evil.example) *e* _f_ <img src=x>"
	for i := range r.Findings {
		if r.Findings[i].Rule == "root-access-key" {
			r.Findings[i].Message = hostile
		}
	}
	out := string(render(t, report.MarkdownWriter{}, r))
	var rows []string
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "| critical") {
			rows = append(rows, line)
		}
	}
	require.Len(t, rows, 1, "the critical row is missing:\n%s", out)
	row := rows[0]
	unescaped := regexp.MustCompile(`(^|[^\\])[|\[\]*_<` + "`" + `]`)
	inner := strings.TrimSuffix(strings.TrimPrefix(row, "| "), " |")
	for _, cell := range strings.Split(strings.ReplaceAll(inner, `\|`, "\x00"), " | ") {
		cell = strings.ReplaceAll(cell, "\x00", `\|`)
		if strings.HasPrefix(cell, "`AKIA") {
			continue
		}
		assert.False(t, unescaped.MatchString(cell), "unescaped Markdown in cell %q", cell)
	}
	assert.Equal(t, 8, strings.Count(strings.ReplaceAll(row, `\|`, ""), "|"), "table row broken: %s", row)
}

func TestMarkdownHasPlans(t *testing.T) {
	r := actionsFixture()
	out := string(render(t, report.MarkdownWriter{}, r))
	require.Contains(t, out, "### Plans")
	n := 0
	for _, a := range r.Actions {
		if a.Suppressed {
			continue
		}
		for _, s := range a.Plan {
			if s.Command != "" {
				n++
				assert.Regexp(t, "\n {3,4}```sh\n {3,4}"+regexp.QuoteMeta(s.Command)+"\n {3,4}```\n", out, "the plan for %s lacks %q", a.Principal, s.Command)
			}
		}
	}
	assert.Greater(t, n, 10, "few commands checked")
}

func TestTableColorKeepsColumnsAligned(t *testing.T) {
	plain := strings.Split(string(render(t, report.TableWriter{}, fixture())), "\n")
	colored := strings.Split(string(render(t, report.TableWriter{Color: true}, fixture())), "\n")
	ansi := regexp.MustCompile("\033\\[[0-9;]*m")
	require.Len(t, colored, len(plain))
	sawColor := false
	for i := range plain {
		sawColor = sawColor || colored[i] != plain[i]
		assert.Equal(t, plain[i], ansi.ReplaceAllString(colored[i], ""), "line %d differs beyond color", i)
	}
	assert.True(t, sawColor, "no color in the colored table")
}

// Issue 22.3: every line fits the width; where the columns would not
// leave the text room, each key is a block of lines.
func TestTableFitsTheWidth(t *testing.T) {
	r := actionsFixture()
	r.CISVersion = rules.CISv6
	r.Accounts = append(r.Accounts, report.Account{ID: "222222222222", Status: "error", Error: strings.Repeat("cannot assume role arn:aws:iam::222222222222:role/KeyAuditRole ", 6)})
	r.Warnings = []string{strings.Repeat("a warning long enough to wrap ", 8)}
	wide := string(render(t, report.TableWriter{}, r))
	assert.Contains(t, wide, "RULE (CIS v6.0.0)", "case no width: columns")
	assert.Contains(t, wide, "key-two-active 2.12", "case no width: the CIS id beside the rule")
	for _, width := range []int{60, 80, 100, 200} {
		out := string(render(t, report.TableWriter{Width: width}, r))
		assert.NotEqual(t, wide, out, "case width %d: nothing wrapped", width)
		for _, line := range strings.Split(out, "\n") {
			assert.LessOrEqual(t, utf8.RuneCountInString(line), width, "case width %d: line too wide: %q", width, line)
			if width == 200 && strings.Contains(line, "AKIAAAAAAAAAAAAAAAA3") && !strings.Contains(line, "the newer is") {
				assert.Equal(t, 1, strings.Count(line, "ci-deploy"), "case width %d: the user is repeated: %q", width, line)
			}
		}
		assert.Contains(t, out, "The plan for each key", "case width %d", width)
		if width < 200 {
			assert.Contains(t, out, "key-two-active (CIS 2.12): one of two active", "case width %d: stacked", width)
			assert.NotContains(t, out, "RULE (CIS", "case width %d: stacked", width)
		} else {
			assert.Contains(t, out, "RULE (CIS v6.0.0)", "case width %d: columns", width)
		}
	}
	assert.Contains(t, string(render(t, report.TableWriter{Width: 80}, r)), "\n  medium    ci-deploy · prod (111111111111) · AKIAAAAAAAAAAAAAAAA3\n", "case width 80: the key's heading")
	r.CISVersion = rules.CISv4
	assert.Contains(t, string(render(t, report.TableWriter{}, r)), "key-two-active 1.13", "cis_version not honoured")
	assert.Contains(t, string(render(t, report.TableWriter{Width: 80}, r)), "key-two-active (CIS 1.13)", "cis_version not honoured when stacked")
}

func TestTableStripsControlCharacters(t *testing.T) {
	r := fixture()
	evil := "evil\x1b[2J\rforged line\n  critical  x"
	for i := range r.Actions {
		r.Actions[i].Principal = evil
	}
	r.Accounts[1].Error = "denied\x1b]0;title\x07\nforged"
	r.Warnings = append(r.Warnings, "w\r\nforged")
	r.Keys = []inventory.Sighting{{AccessKeyID: "AKIAAAAAAAAAAAAAAAA1", Source: "file\x1b[31m", Kind: inventory.KindLongTerm, Error: "e\nforged", Leaked: true}}
	out := string(render(t, report.TableWriter{}, r))
	assert.Contains(t, out, "- (leaked)", "a leaked key is not marked")
	assert.NotContains(t, out, "\x1b")
	assert.NotContains(t, out, "\r")
	assert.NotContains(t, out, "\x07")
	for _, line := range strings.Split(out, "\n") {
		assert.False(t, strings.HasPrefix(line, "forged") || strings.HasPrefix(line, "  critical  x"), "a value forged a line: %q", line)
	}
}

func TestKillFirstWriter(t *testing.T) {
	golden.Assert(t, "report/fixture.risk.txt", render(t, report.KillFirstWriter{}, fixture()))
	top := string(render(t, report.KillFirstWriter{Limit: 1}, fixture()))
	assert.Contains(t, top, "Kill first: the top 1 of 3", "case limit 1")
	assert.NotContains(t, top, "legacy", "case limit 1: the rest left out")
	assert.Contains(t, top, "out of scope", "case limit 1: the notes kept")
	assert.Contains(t, string(render(t, report.KillFirstWriter{}, empty())), "No active long-term key to rank.", "case nothing to rank")
}
