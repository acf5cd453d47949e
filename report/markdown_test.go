package report_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/keyaudit/keyaudit/report"
	"github.com/keyaudit/keyaudit/rules"
	"github.com/stretchr/testify/assert"
)

// With no finding open, the keys to kill first still show: a key can be
// the riskiest of the organization and break no rule.
func TestMarkdownKillFirstWithoutFindings(t *testing.T) {
	r := empty()
	for i := range 12 {
		r.Risk = append(r.Risk, rules.Risk{Rank: i + 1, AccountID: "111111111111", Principal: fmt.Sprintf("user-%02d", i+1),
			AccessKeyID: fmt.Sprintf("AKIAAAAAAAAAAAAAAA%02d", i+1), Score: 50 - i,
			Factors: []rules.Factor{{ID: rules.FactorAdmin, Weight: 40, Detail: "administrator"}}})
	}
	r.RiskNotes = []string{"Blast radius: identity policies only."}
	out := string(render(t, report.MarkdownWriter{}, r))
	assert.Contains(t, out, "No findings.", "case no findings")
	assert.Contains(t, out, "### Kill first: the top 10 of 12 active long-term key(s) by risk score", "case heading")
	assert.Contains(t, out, "| 10 | 41 | 111111111111 | user-10 | `AKIAAAAAAAAAAAAAAA10` | administrator |", "case the tenth row")
	assert.NotContains(t, out, "user-11", "case the top 10 only")
	assert.True(t, strings.HasSuffix(out, "- Blast radius: identity policies only.\n"), "case the notes close the section:\n%s", out)
}

// bidiControls are every bidirectional control (U+061C, U+200E/F,
// U+202A-E, U+2066-9).
var bidiControls = []rune{0x061C, 0x200E, 0x200F, 0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2066, 0x2067, 0x2068, 0x2069}

// Issue 25 item 7: U+202E passed into the risk table, where it shows the
// rest of the line reversed.
func TestBidiControlsAreStripped(t *testing.T) {
	r := fixture()
	hostile := "mallory" + string(bidiControls) + "gpj.exe"
	for i := range r.Actions {
		r.Actions[i].Principal, r.Actions[i].AccountName = hostile, hostile
	}
	for i := range r.Risk {
		r.Risk[i].Principal, r.Risk[i].AccountName = hostile, hostile
	}
	r.Accounts[1].Error = hostile
	for name, w := range map[string]report.Writer{"table": report.TableWriter{}, "stacked table": report.TableWriter{Width: 80},
		"risk table": report.KillFirstWriter{}, "markdown": report.MarkdownWriter{}} {
		out := string(render(t, w, r))
		assert.Contains(t, out, "mallorygpj.exe", "case %s: the value is shown, without its controls", name)
		for _, c := range bidiControls {
			assert.NotContains(t, out, string(c), "case %s: %U passed", name, c)
		}
	}
}

// Issue 25 item 8: a bare URL in an account name (the member account's
// root can set it) or a user name became a live link in Markdown.
func TestMarkdownDefangsLinksFromAWS(t *testing.T) {
	r := fixture()
	for i := range r.Actions {
		r.Actions[i].AccountName = "Prod https://evil.example/login?a=b"
		r.Actions[i].Principal = "www.evil.example"
	}
	for i := range r.Risk {
		r.Risk[i].AccountName = "HTTP://evil.example"
		r.Risk[i].Principal = "mailto:boss@evil.example"
	}
	out := string(render(t, report.MarkdownWriter{}, r))
	for _, live := range []string{"https://", "HTTP://", "www.evil", "evil.example", "mailto:"} {
		assert.NotContains(t, out, live, "a live link: %s", live)
	}
	assert.Contains(t, out, `Prod hxxps\[:\]//evil\[.\]example/login?a=b`, "the account's URL, defanged")
	assert.Contains(t, out, `www\[.\]evil\[.\]example`, "the user's host, defanged")
	assert.Contains(t, out, `HxxP\[:\]//evil\[.\]example`, "the scheme's case kept")
	assert.Contains(t, out, `mailto\[:\]boss@evil\[.\]example`, "a mailto: address")

	assert.Equal(t, "hxxps[:]//a[.]b/c d", report.Defang("https://a.b/c d"), "Defang stops at white space")
	assert.Equal(t, "arn:aws:iam::111111111111:user/a.b", report.Defang("arn:aws:iam::111111111111:user/a.b"), "an ARN is no link")
}
