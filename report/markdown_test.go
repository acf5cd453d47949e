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
