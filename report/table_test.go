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
