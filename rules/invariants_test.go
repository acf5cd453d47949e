package rules

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyaudit/keyaudit/audit/inventory"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// This file proves the plan invariants of docs/advice.md by execution: for
// every user state of a grid, it evaluates the rules, then follows every
// plan of the user step by step, as written, against iamUser (IAM's
// access-key calls for one user, with the applications that use the keys
// and a clock), and checks the invariants after each step. The keys are
// held by a model (modelKeys, here) or by the simulator, called through the
// real SDK (invariants_sim_test.go).

// simKey is one access key as IAM holds it.
type simKey struct {
	id       string
	active   bool
	created  time.Time
	lastUsed time.Time // zero: never used
}

// keyStore holds one IAM user's access keys and answers IAM's key calls.
type keyStore interface {
	keys() []simKey // in creation order
	create(at time.Time) (string, error)
	update(id string, active bool, at time.Time) error
	remove(id string) error
	// use is a call to AWS signed with the key at the time; IAM records
	// it as the key's last use if the key is active.
	use(id string, at time.Time)
}

// modelKeys is a model of IAM's key calls for one user.
type modelKeys struct {
	list   []simKey
	issued int
}

func (m *modelKeys) keys() []simKey { return slices.Clone(m.list) }

func (m *modelKeys) index(id string) int {
	return slices.IndexFunc(m.list, func(k simKey) bool { return k.id == id })
}

func (m *modelKeys) create(at time.Time) (string, error) {
	if len(m.list) >= 2 {
		return "", fmt.Errorf("LimitExceeded: cannot exceed quota for AccessKeysPerUser: 2")
	}
	m.issued++
	k := simKey{id: fmt.Sprintf("AKIANEWKEY%010d", m.issued), active: true, created: at}
	m.list = append(m.list, k)
	return k.id, nil
}

func (m *modelKeys) update(id string, active bool, _ time.Time) error {
	i := m.index(id)
	if i < 0 {
		return fmt.Errorf("NoSuchEntity: the access key %s does not exist", id)
	}
	m.list[i].active = active
	return nil
}

func (m *modelKeys) remove(id string) error {
	i := m.index(id)
	if i < 0 {
		return fmt.Errorf("NoSuchEntity: the access key %s does not exist", id)
	}
	m.list = slices.Delete(m.list, i, i+1)
	return nil
}

func (m *modelKeys) use(id string, at time.Time) {
	if i := m.index(id); i >= 0 && m.list[i].active {
		m.list[i].lastUsed = at
	}
}

// iamUser is one IAM user's keys, the applications that use them and the
// clock. Each application calls AWS with its key whenever time passes.
type iamUser struct {
	account, name string
	now           time.Time
	store         keyStore
	apps          map[string]string // application → the key ID it uses
	vars          map[string]string // shell variables a step set
	movedAt       time.Time         // when applications last moved
	created       int
}

func (u *iamUser) key(id string) (simKey, bool) {
	ks := u.store.keys()
	i := slices.IndexFunc(ks, func(k simKey) bool { return k.id == id })
	if i < 0 {
		return simKey{}, false
	}
	return ks[i], true
}

// pass moves the clock; every application calls AWS with its key as it
// passes. The checks read only a key's latest use, so the calls are made
// once, at the end.
func (u *iamUser) pass(d time.Duration) {
	u.now = u.now.Add(d)
	for _, id := range u.apps {
		u.store.use(id, u.now)
	}
}

// broken names an application whose key is gone or inactive: a plan that
// leaves one has deleted or deactivated a key in use.
func (u *iamUser) broken() string {
	for app, id := range u.apps {
		if k, ok := u.key(id); !ok || !k.active {
			return fmt.Sprintf("application %s lost its key %s", app, id)
		}
	}
	return ""
}

var (
	cmdGuard     = regexp.MustCompile(`^test "\$\(aws sts get-caller-identity --query Account --output text\)" = (\d{12})$`)
	cmdSlot      = regexp.MustCompile(`^test "\$\(aws iam list-access-keys --user-name (\S+) --query 'length\(AccessKeyMetadata\)' --output text\)" -lt 2$`)
	cmdCreate    = regexp.MustCompile(`^read -r NEW_KEY_ID NEW_SECRET_ACCESS_KEY < <\(aws iam create-access-key --user-name (\S+) --query 'AccessKey\.\[AccessKeyId,SecretAccessKey\]' --output text\)$`)
	cmdUpdate    = regexp.MustCompile(`^aws iam update-access-key --user-name (\S+) --access-key-id (.+) --status (Active|Inactive)$`)
	cmdDelete    = regexp.MustCompile(`^aws iam delete-access-key --user-name (\S+) --access-key-id (.+)$`)
	cmdLastUsed  = regexp.MustCompile(`^aws iam get-access-key-last-used --access-key-id (.+)$`)
	cmdList      = regexp.MustCompile(`^aws iam list-access-keys --user-name (\S+) --query "AccessKeyMetadata\[\?(.+)\]\.AccessKeyId" --output text$`)
	cmdSubst     = regexp.MustCompile(`^"\$\((.+)\)"$`)
	cmdCondition = regexp.MustCompile(`^(Status|CreateDate)(==|<|>=)'([^']+)'$`)
	waitDays     = regexp.MustCompile(`^Wait (\d+) days`)
	waitUntil    = regexp.MustCompile(`^Wait until (\d{4}-\d{2}-\d{2})`)
	waitIdle     = regexp.MustCompile(`^Wait until it has had no activity for (\d+) days`)
	moveTo       = regexp.MustCompile(`^Move every application (?:that uses the old key )?to (the new key|AKIA[A-Z0-9]{16}|key \d)\b`)
)

// selectKeys answers a list-access-keys selection as the AWS CLI would:
// the IDs, tab-separated, of the keys the JMESPath filter keeps.
func (u *iamUser) selectKeys(filter string) (string, error) {
	var ids []string
	for _, k := range u.store.keys() {
		keep := true
		for _, c := range strings.Split(filter, " && ") {
			m := cmdCondition.FindStringSubmatch(c)
			if m == nil {
				return "", fmt.Errorf("condition %q is not one the model reads", c)
			}
			status := map[bool]string{true: "Active", false: "Inactive"}[k.active]
			created := k.created.UTC().Format("2006-01-02T15:04:05Z")
			switch m[1] + m[2] {
			case "Status==":
				keep = keep && status == m[3]
			case "CreateDate<":
				keep = keep && created < m[3]
			case "CreateDate>=":
				keep = keep && created >= m[3]
			}
		}
		if keep {
			ids = append(ids, k.id)
		}
	}
	return strings.Join(ids, "\t"), nil
}

// ref resolves a command's --access-key-id argument: a key ID, the new
// key's variable, or a selection that must print exactly one ID.
func (u *iamUser) ref(arg string) (string, error) {
	if arg == NewKeyID {
		if u.vars["NEW_KEY_ID"] == "" {
			return "", fmt.Errorf("NEW_KEY_ID is not set")
		}
		return u.vars["NEW_KEY_ID"], nil
	}
	if m := cmdSubst.FindStringSubmatch(arg); m != nil {
		l := cmdList.FindStringSubmatch(m[1])
		if l == nil {
			return "", fmt.Errorf("substitution %q is not a key selection", m[1])
		}
		ids, err := u.selectKeys(l[2])
		if err != nil {
			return "", err
		}
		if ids == "" || strings.Contains(ids, "\t") {
			return "", fmt.Errorf("the selection printed %q, not one key ID", ids)
		}
		return ids, nil
	}
	return arg, nil
}

// run executes one step. An error means the step failed as it would in a
// shell: the person stops there.
func (u *iamUser) run(s Step, from inventory.Key, slotIDs map[int]string) error {
	c, act := s.Command, s.Action
	switch {
	case c == "":
		return u.manual(act, from, slotIDs)
	case strings.HasPrefix(c, "aws cloudtrail "), strings.HasPrefix(c, "aws iam list-mfa-devices "):
		return nil // reads only
	}
	if m := cmdGuard.FindStringSubmatch(c); m != nil {
		if m[1] != u.account {
			return fmt.Errorf("guard: working in %s, not %s", u.account, m[1])
		}
		return nil
	}
	if m := cmdSlot.FindStringSubmatch(c); m != nil {
		if n := len(u.store.keys()); n >= 2 {
			return fmt.Errorf("slot check: the user has %d keys", n)
		}
		return nil
	}
	if m := cmdCreate.FindStringSubmatch(c); m != nil {
		id, err := u.store.create(u.now)
		if err != nil {
			return err
		}
		u.vars["NEW_KEY_ID"] = id
		u.created++
		return nil
	}
	if m := cmdList.FindStringSubmatch(c); m != nil {
		ids, err := u.selectKeys(m[2])
		if err == nil && (ids == "" || strings.Contains(ids, "\t")) {
			err = fmt.Errorf("the selection printed %q, not one key ID", ids)
		}
		return err
	}
	var id string
	var m []string
	for _, re := range []*regexp.Regexp{cmdUpdate, cmdDelete, cmdLastUsed} {
		if m = re.FindStringSubmatch(c); m != nil {
			arg := m[len(m)-1]
			if re != cmdLastUsed {
				arg = m[2]
			}
			var err error
			if id, err = u.ref(arg); err != nil {
				return err
			}
			break
		}
	}
	if m == nil {
		return fmt.Errorf("the model does not know the command %q", c)
	}
	switch {
	case cmdUpdate.MatchString(c):
		return u.store.update(id, m[3] == "Active", u.now)
	case cmdDelete.MatchString(c):
		return u.store.remove(id)
	}
	if _, ok := u.key(id); !ok {
		return fmt.Errorf("NoSuchEntity: the access key %s does not exist", id)
	}
	return u.check(act, id)
}

// check is a get-access-key-last-used step: what it verifies is in its
// action, for the person reading the output.
func (u *iamUser) check(act string, id string) error {
	switch {
	case strings.HasPrefix(act, "Confirm the old key is idle"):
		before, _ := u.key(id)
		u.pass(confirmDays * 24 * time.Hour)
		if after, _ := u.key(id); !after.lastUsed.Equal(before.lastUsed) {
			return fmt.Errorf("idle check: key %s was used during the %d days", id, confirmDays)
		}
	case strings.HasPrefix(act, "Confirm ") && strings.Contains(act, " is in use"):
		u.pass(24 * time.Hour) // the person waits for the applications to run
		if k, _ := u.key(id); k.lastUsed.IsZero() || k.lastUsed.Before(u.movedAt) {
			return fmt.Errorf("in-use check: key %s is not used since the applications moved", id)
		}
	case strings.HasPrefix(act, "Check that inactive"):
		k, _ := u.key(id)
		last := k.created
		if k.lastUsed.After(last) {
			last = k.lastUsed
		}
		if k.active || u.now.Sub(last) <= time.Duration(env().Config.Thresholds.InactiveDays)*24*time.Hour {
			return fmt.Errorf("inactive check: key %s is active or was active recently", k.id)
		}
	default:
		return fmt.Errorf("a last-use check the model cannot read: %q", act)
	}
	return nil
}

// manual is a step for a person: a wait moves the clock, a move points the
// applications of the plan's key at another key.
func (u *iamUser) manual(act string, from inventory.Key, slotIDs map[int]string) error {
	if m := waitIdle.FindStringSubmatch(act); m != nil {
		var n int
		_, _ = fmt.Sscan(m[1], &n)
		u.pass(time.Duration(n+1) * 24 * time.Hour)
		return nil
	}
	if m := waitUntil.FindStringSubmatch(act); m != nil {
		until, err := time.Parse("2006-01-02", m[1])
		if err != nil {
			return err
		}
		if until.After(u.now) {
			u.pass(until.Sub(u.now))
		}
		return nil
	}
	if m := waitDays.FindStringSubmatch(act); m != nil {
		var n int
		_, _ = fmt.Sscan(m[1], &n)
		u.pass(time.Duration(n) * 24 * time.Hour)
		return nil
	}
	old := from.ID
	if old == "" {
		old = slotIDs[from.Slot]
	}
	var to string
	if m := moveTo.FindStringSubmatch(act); m != nil {
		switch {
		case m[1] == "the new key":
			to = u.vars["NEW_KEY_ID"]
		case strings.HasPrefix(m[1], "key "):
			var slot int
			_, _ = fmt.Sscan(strings.TrimPrefix(m[1], "key "), &slot)
			to = slotIDs[slot]
		default:
			to = m[1]
		}
		if to == "" {
			return fmt.Errorf("move: %q names no key the model knows", act)
		}
	} else if !strings.HasPrefix(act, "Move what still uses the key to temporary credentials") {
		return nil // words for the person only
	}
	for app, id := range u.apps {
		if id != old {
			continue
		}
		if to == "" {
			delete(u.apps, app) // to a role: it needs no key
		} else {
			u.apps[app] = to
		}
	}
	u.movedAt = u.now
	return nil
}

// keyState is one key of a generated user: active or not, created days
// ago, last used days ago (never: -1, unknown: -2).
type keyState struct {
	active        bool
	created, used int
}

// userState is a generated user: up to two keys, offline (the credential
// report names no key IDs) or live, keys created in the same second.
type userState struct {
	keys       []keyState
	offline    bool
	sameSecond bool
}

func (s userState) String() string {
	var parts []string
	for _, k := range s.keys {
		use := fmt.Sprintf("used %dd ago", k.used)
		switch k.used {
		case -1:
			use = "never used"
		case -2:
			use = "last use unknown"
		}
		parts = append(parts, fmt.Sprintf("{%s, %dd old, %s}", map[bool]string{true: "active", false: "inactive"}[k.active], k.created, use))
	}
	return fmt.Sprintf("%s offline=%v same-second=%v", strings.Join(parts, " "), s.offline, s.sameSecond)
}

// userStates is the grid: every combination of status, age and last use
// for zero, one and two keys, live and offline, and same-second twins.
func userStates() []userState {
	var one []keyState
	for _, active := range []bool{true, false} {
		for _, created := range []int{20, 50, 80, 200} {
			for _, used := range []int{-1, -2, 1, 50, 100} {
				if used <= created {
					one = append(one, keyState{active, created, used})
				}
			}
		}
	}
	out := []userState{{}, {offline: true}}
	for _, offline := range []bool{false, true} {
		for _, a := range one {
			out = append(out, userState{keys: []keyState{a}, offline: offline})
			for _, b := range one {
				if b.created > a.created {
					continue // slot 1 is the older key, as IAM lists them
				}
				out = append(out, userState{keys: []keyState{a, b}, offline: offline})
				if b.created == a.created {
					out = append(out, userState{keys: []keyState{a, b}, offline: offline, sameSecond: true})
				}
			}
		}
	}
	return out
}

// build makes the inventory a scan would read and the model IAM holds.
func (s userState) build() (*inventory.Account, *iamUser, map[int]string) {
	u := user("app")
	model := &modelKeys{}
	sim := &iamUser{account: "123456789012", name: "app", now: now, store: model, apps: map[string]string{}, vars: map[string]string{}}
	slotIDs := map[int]string{}
	for i, ks := range s.keys {
		id := fmt.Sprintf("AKIAAAAAAAAAAAAAAAA%d", i+1)
		k := key(id, i+1, ks.active, ks.created, ks.used)
		// Real creation times have seconds apart unless created together.
		k.CreatedAt = k.CreatedAt.Add(time.Duration(i*7) * time.Second)
		if s.sameSecond && i > 0 {
			k.CreatedAt = u.Keys[0].CreatedAt
		}
		sk := simKey{id: id, active: ks.active, created: k.CreatedAt}
		if ks.used >= 0 {
			sk.lastUsed = k.LastUsed.At
		}
		if ks.active && (ks.used == -2 || (ks.used >= 0 && ks.used < Defaults().Thresholds.UnusedDays)) {
			sim.apps[fmt.Sprintf("job-%d", i+1)] = id
		}
		model.list = append(model.list, sk)
		slotIDs[i+1] = id
		if s.offline {
			k.ID = ""
		}
		u.Keys = append(u.Keys, k)
	}
	return account(u), sim, slotIDs
}

// follow runs the plans in the given order, each to its end or to the step
// that stops it, checking after every step that no application lost its
// key and that the user never holds more than two keys.
func follow(sim *iamUser, acts []Action, slotIDs map[int]string) (stopped map[int]string, violation string) {
	stopped = map[int]string{}
	for i, a := range acts {
		from := inventory.Key{ID: a.AccessKeyID, Slot: a.KeySlot}
		for j, s := range a.Plan {
			if err := sim.run(s, from, slotIDs); err != nil {
				stopped[i] = fmt.Sprintf("plan %d (%s) stopped at step %d %q: %v", i, a.AccessKeyID, j+1, s.Command, err)
				break
			}
			if b := sim.broken(); b != "" {
				return stopped, fmt.Sprintf("plan %d (%s) step %d %q: %s", i, a.AccessKeyID, j+1, s.Action, b)
			}
			if n := len(sim.store.keys()); n > 2 {
				return stopped, fmt.Sprintf("plan %d step %d: the user holds %d keys", i, j+1, n)
			}
		}
	}
	return stopped, ""
}

// TestPlanInvariants is issue 19's property test: every user state of the
// grid, every plan followed step by step. Observation 1 (a half-done
// rotation lost the key in use) is among the states.
func TestPlanInvariants(t *testing.T) {
	states := userStates()
	require.Greater(t, len(states), 1000, "the grid covers the states")
	for _, st := range states {
		checkInvariants(t, st, st.build)
	}
}

// checkInvariants follows every plan of one user state, from the keys
// build sets up, and checks the invariants.
func checkInvariants(t *testing.T, st userState, build func() (*inventory.Account, *iamUser, map[int]string)) {
	t.Helper()
	a, sim, slotIDs := build()
	before := sim.store.keys()
	inUseBefore := len(sim.apps) > 0
	acts := Evaluate(env(), []inventory.Account{*a}, nil).Actions
	stopped, violation := follow(sim, acts, slotIDs)
	if !assert.Empty(t, violation, "state %s:\n%s", st, plansText(acts)) {
		return
	}
	after := sim.store.keys()
	if st.offline && st.sameSecond {
		// Observation 11: without IDs, keys created in the same second
		// cannot be told apart; the plans change nothing and say how
		// to go on.
		assert.Equal(t, before, after, "state %s: the plans change nothing:\n%s", st, plansText(acts))
		for _, a := range acts {
			if slices.ContainsFunc(a.Plan, func(s Step) bool { return strings.Contains(s.Command, "--access-key-id") }) {
				assert.Contains(t, planText(a.Plan), "keyaudit scan", "state %s: a plan that cannot select its key names the way forward", st)
			}
		}
		return
	}
	assert.Empty(t, stopped, "state %s: every plan runs to its end in the order printed:\n%s", st, plansText(acts))
	active := slices.ContainsFunc(after, func(k simKey) bool { return k.active })
	if inUseBefore {
		assert.True(t, active, "state %s: a key was in use, so an active key remains", st)
		assert.Empty(t, sim.broken(), "state %s", st)
	} else {
		assert.Zero(t, sim.created, "state %s: no key was in use, so no key is created:\n%s", st, plansText(acts))
	}
	for _, k := range after {
		if k.active && !slices.Contains(mapsValues(sim.apps), k.id) && len(acts) > 0 && slices.ContainsFunc(acts, func(a Action) bool { return a.AccessKeyID == k.id }) {
			t.Errorf("state %s: key %s had a plan, is active and unused at the end", st, k.id)
		}
	}
	if len(acts) == 2 {
		// In the other order a guard stops an out-of-order plan before
		// it changes anything; then it runs after the other, to its end.
		a2, sim2, slots2 := build()
		rev := Evaluate(env(), []inventory.Account{*a2}, nil).Actions
		slices.Reverse(rev)
		stopped, violation := follow(sim2, rev, slots2)
		assert.Empty(t, violation, "state %s, plans in reverse order:\n%s", st, plansText(rev))
		for i, why := range stopped {
			assert.Contains(t, why, "slot check", "state %s: only the slot guard stops a plan out of order", st)
			_, again := follow(sim2, rev[i:i+1], slots2)
			assert.Empty(t, again, "state %s: the stopped plan, run again", st)
		}
	}
}

func mapsValues(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

func plansText(acts []Action) string {
	var b strings.Builder
	for i, a := range acts {
		fmt.Fprintf(&b, "plan %d for %s%s %v: %s\n%s", i, a.AccessKeyID, map[bool]string{true: fmt.Sprintf(" slot %d", a.KeySlot)}[a.AccessKeyID == ""], a.Rules, a.Summary, planText(a.Plan))
	}
	return b.String()
}
