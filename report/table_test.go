package report_test

import (
	"strings"
	"testing"

	"github.com/keyaudit/keyaudit/audit/inventory"
	"github.com/keyaudit/keyaudit/report"
	"github.com/keyaudit/keyaudit/rules"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// halfRotated is a user whose older key went unused while a newer one took
// over: key-rotation, key-unused and key-two-active fire on the older key.
func halfRotated() *report.Report {
	ops := iamUser("ops", usedKey("AKIAAAAAAAAAAAAAAAA8", 1, 120, 100), usedKey("AKIAAAAAAAAAAAAAAAA9", 2, 20, 1))
	prod := inventory.Account{ID: "111111111111", Name: "prod", Status: inventory.StatusOK, Users: []inventory.User{ops}}
	return build(rules.Defaults(), []inventory.Account{prod}, nil)
}

// Issue 19.7: each rule id stands on the line of its own message, in the
// wide table and the stacked one.
func TestTablePairsRulesWithTheirMessages(t *testing.T) {
	r := halfRotated()
	messages := map[string]string{}
	for _, f := range r.Findings {
		if f.AccessKeyID == "AKIAAAAAAAAAAAAAAAA8" {
			messages[f.Rule] = f.Message
		}
	}
	require.Len(t, messages, 3, "key-rotation, key-unused and key-two-active on the older key")
	for _, width := range []int{0, 80} {
		out := string(render(t, report.TableWriter{Width: width}, r))
		seen := 0
		for _, line := range strings.Split(out, "\n") {
			for rule, msg := range messages {
				if strings.Contains(line, rule+" ") || strings.Contains(line, rule+" (") {
					seen++
					first := strings.Fields(msg)[:3]
					assert.Contains(t, line, strings.Join(first, " "), "width %d: rule %s beside another rule's message: %q", width, rule, line)
				}
			}
		}
		assert.Equal(t, 3, seen, "width %d: lines naming a rule:\n%s", width, out)
	}
}

// mixedAccounts has a high finding in the first account and the root
// user's keys, one critical and one high, in the second.
func mixedAccounts() *report.Report {
	alice := iamUser("alice", usedKey("AKIAAAAAAAAAAAAAAAA1", 1, 30, 1))
	alice.PasswordEnabled = true
	first := inventory.Account{ID: "111111111111", Name: "apps", Status: inventory.StatusOK, Users: []inventory.User{alice}}
	inactive := usedKey("", 2, 500, 400)
	inactive.Active = false
	active := usedKey("", 1, 900, 3)
	second := inventory.Account{ID: "222222222222", Name: "billing", Status: inventory.StatusOK,
		Root: &inventory.User{Name: inventory.RootName, ARN: "arn:aws:iam::222222222222:root", Root: true, Keys: []inventory.Key{active, inactive}}}
	return build(rules.Defaults(), []inventory.Account{first, second}, nil)
}

// Issue 22.6: the keys to act on go by severity, not by account, and the
// root user's key comes first among equals; Markdown's plans go user by
// user in that order.
func TestKeysToActOnBySeverityRootFirst(t *testing.T) {
	r := mixedAccounts()
	order := func(out string, marks ...string) []int {
		var at []int
		for _, m := range marks {
			at = append(at, strings.Index(out, m))
		}
		return at
	}
	increasing := func(name string, at []int) {
		for i := range at {
			require.GreaterOrEqual(t, at[i], 0, "case %s: entry %d missing", name, i)
			if i > 0 {
				assert.Greater(t, at[i], at[i-1], "case %s: entry %d out of order", name, i)
			}
		}
	}
	wide := string(render(t, report.TableWriter{}, r))
	increasing("table", order(wide, "  critical  billing  <root_account>  (slot 1)", "  high      billing  <root_account>  (slot 2)", "  high      apps     alice"))
	stacked := string(render(t, report.TableWriter{Width: 80}, r))
	increasing("stacked", order(stacked, "  critical  <root_account> · billing (222222222222) · (slot 1)", "  high      <root_account> · billing (222222222222) · (slot 2)", "  high      alice · apps"))
	md := string(render(t, report.MarkdownWriter{}, r))
	increasing("markdown rows", order(md, "| critical | billing (222222222222) | \\<root\\_account\\> | slot 1", "| high | billing (222222222222) | \\<root\\_account\\> | slot 2", "| high | apps (111111111111) | alice"))
	increasing("markdown plans", order(md, "#### 1. critical · billing (222222222222) · \\<root\\_account\\> · slot 1", "#### 2. high · billing (222222222222) · \\<root\\_account\\> · slot 2", "#### 3. high · apps (111111111111) · alice"))
	html := string(render(t, report.HTMLWriter{}, r))
	increasing("html rows", order(html, `<tr data-severity="critical" data-account="billing (222222222222)"`, `<tr data-severity="high" data-account="billing (222222222222)"`, `<tr data-severity="high" data-account="apps (111111111111)"`))
}

// oldFormatKey is what local reports for an old-format key ID stored in a
// credentials file: no account audited, no owner decoded.
func oldFormatKey() *report.Report {
	r := build(rules.Defaults(), nil, []inventory.Sighting{{AccessKeyID: "AKIAIOSFODNN7EXAMPLE", Source: "credentials [old] line 2", Profile: "old", Kind: inventory.KindLongTerm}})
	r.Keys = []inventory.Sighting{{AccessKeyID: "AKIAIOSFODNN7EXAMPLE", Source: "credentials [old] line 2", Profile: "old", Kind: inventory.KindLongTerm}}
	return r
}

// Issue 22.7: a key of no known account is not under an empty account
// header, and whois and local headers do not count the none audited.
func TestNoEmptyAccountForAnOldFormatKey(t *testing.T) {
	r := oldFormatKey()
	require.NotEmpty(t, r.Actions, "key-long-term on the stored key")
	for _, width := range []int{0, 80} {
		out := string(render(t, report.TableWriter{Width: width}, r))
		assert.NotContains(t, out, "\n\n\n", "width %d: an empty account header:\n%s", width, out)
		assert.NotContains(t, out, "0 account(s)", "width %d", width)
		assert.Contains(t, out, "AKIAIOSFODNN7EXAMPLE", "width %d", width)
	}
	assert.Contains(t, string(render(t, report.TableWriter{Width: 80}, r)), "unknown account", "stacked: the account named as unknown")
	md := string(render(t, report.MarkdownWriter{}, r))
	assert.NotContains(t, md, "0 account(s)", "markdown header")
	assert.NotContains(t, md, "CIS v6.0.0 2.9", "markdown: no CIS note where no account was audited")
	assert.NotContains(t, md, "|  |", "markdown: an empty account cell")
	assert.NotContains(t, md, " ·  · ", "markdown: an empty account in the plan's heading")
	assert.Contains(t, md, "| medium | unknown account | unknown |", "markdown row")
}

// Issue 19.11: passwords are not judged, so a clean report says that CIS
// 2.9 and 2.11 are checked for keys only, in the version shown.
func TestCleanReportNotesCISCoverage(t *testing.T) {
	r := empty()
	for _, w := range []report.Writer{report.TableWriter{}, report.TableWriter{Width: 80}, report.MarkdownWriter{}, report.HTMLWriter{}} {
		out := strings.Join(strings.Fields(string(render(t, w, r))), " ")
		assert.Contains(t, out, "CIS v6.0.0 2.9 and 2.11 are checked for access keys only, not for console passwords", "%T", w)
	}
	r.CISVersion = rules.CISv4
	assert.Contains(t, string(render(t, report.TableWriter{}, r)), "CIS v4.0.1 1.10 and 1.12 are checked for access keys only", "v4.0.1 ids")
}
