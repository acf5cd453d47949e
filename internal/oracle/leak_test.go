package oracle

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// leakPlan is the leak response: a user's only key is reported leaked to
// `keyaudit whois --leaked`, run as the operator like the scan, and every
// step of the key-leaked plan it prints is executed as written. The key is
// deactivated before it is investigated, then deleted and replaced, so the
// user ends with exactly one new active key.
func leakPlan(ctx context.Context, t *testing.T, o *org, bin string) {
	c := userCase{name: "leaked-key", account: "member-b", user: "leaky", keys: []keySeed{{active: true, used: true}}}
	account := o.accounts[c.account]
	o.keys[c.name] = o.seedUser(ctx, t, account, c)
	leaked := o.keys[c.name][0]

	o.srv.EnforceIAM(t, true)
	stdout, code := keyaudit(t, o.srv, o.operator, bin, "whois", "--leaked", leaked, "--org", "--assume-role-in-caller-account",
		"--role-name", memberRole, "--external-id", externalID, "--format", "json", "--quiet")
	o.srv.EnforceIAM(t, false)
	require.Equal(t, 0, code, "case %s: whois reaches the key's account", c.name)
	var rep report
	require.NoError(t, json.Unmarshal(stdout, &rep), "case %s: the whois JSON report parses", c.name)
	mine := actionsFor(rep.actions(), account, c.user)
	require.Len(t, mine, 1, "case %s: whois prints one plan for %s in account %s: %s", c.name, c.user, account, stdout)
	a := mine[0]
	assert.Contains(t, a.Rules, "key-leaked", "case %s: %s is the leak response", c.name, a.label)
	assert.Equal(t, leaked, a.KeyID, "case %s: %s names the leaked key", c.name, a.label)

	deactivate := slices.IndexFunc(a.Plan, func(s step) bool {
		return strings.Contains(s.Command, "update-access-key") && strings.Contains(s.Command, leaked) && strings.Contains(s.Command, "Inactive")
	})
	investigate := slices.IndexFunc(a.Plan, func(s step) bool { return strings.Contains(s.Command, "cloudtrail lookup-events") })
	if assert.GreaterOrEqual(t, deactivate, 0, "case %s: %s deactivates the leaked key", c.name, a.label) && investigate >= 0 {
		assert.Less(t, deactivate, investigate, "case %s: %s deactivates the key before investigating its use", c.name, a.label)
	}

	checkedBeforeChange(t, a)
	ex := run(ctx, t, o.srv, o.creds[account], a, func(id string) { o.use(ctx, t, id) })
	for _, s := range ex.skipped {
		t.Logf("skipped %s", s)
	}
	if deactivate >= 0 {
		assert.Contains(t, ex.ran, a.Plan[deactivate].Command, "case %s: the deactivation is executed", c.name)
	}
	checkEndState(ctx, t, o, c, ex.created)
}
