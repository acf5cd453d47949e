package rules

import (
	"sort"

	"github.com/keyaudit/keyaudit/audit/inventory"
)

// Action is what to do about one key: every rule that fired on it, the
// worst severity among its findings, and one plan computed from the user's
// real key state. Its JSON form is part of the report contract.
type Action struct {
	AccountID    string   `json:"account_id"`
	AccountName  string   `json:"account_name,omitempty"`
	Principal    string   `json:"principal"`
	PrincipalARN string   `json:"principal_arn"`
	AccessKeyID  string   `json:"access_key_id,omitempty"`
	KeySlot      int      `json:"key_slot,omitempty"`
	Severity     Severity `json:"severity"` // worst of its unsuppressed findings
	Rules        []string `json:"rules"`    // rule ids that fired, catalogue order
	Summary      string   `json:"summary"`  // one line: what to do
	Plan         []Step   `json:"plan"`
	Suppressed   bool     `json:"suppressed,omitempty"` // every finding on the key is suppressed

	outcome outcome
}

// MovesApplications: the plan retires or replaces the key, so whatever uses
// it must move first (worth tracing in CloudTrail); a plan that only asks
// for MFA, or deletes an inactive key, moves nothing.
func (a Action) MovesApplications() bool { return a.outcome == outRetire || a.outcome == outRotate }

// NewKeyID is how a plan's commands name the key its create step makes:
// the create step sets the shell variable, so the steps after it run in
// the same shell as written, with nothing to fill in.
const NewKeyID = `"$NEW_KEY_ID"`

// keyIdent names a key the way findings do: account, principal, key ID or slot.
type keyIdent struct {
	account, principal, keyID string
	slot                      int
}

func identOf(f *Finding) keyIdent {
	return keyIdent{f.AccountID, f.Principal, f.AccessKeyID, f.KeySlot}
}

// subject is what a plan is about: the key, its user and account, or the
// sighting that found it. key is nil for a root key that only
// GetAccountSummary reports.
type subject struct {
	acct     *inventory.Account
	user     *inventory.User
	key      *inventory.Key
	sighting *inventory.Sighting
}

// outcome is the one thing a plan does with a key; the findings on the key
// decide it (see decide).
type outcome int

const (
	outNone     outcome = iota
	outDelete           // an inactive key past any rollback wait
	outRetire           // an active key to deactivate and delete, no new key
	outRotate           // an active key to replace with a new one
	outMFA              // the key stays; its user needs MFA
	outKeep             // the key in use stays; the user's other key goes
	outRoot             // a root key: text for the root user
	outLeaked           // deactivate now, investigate, replace
	outLongTerm         // a stored long-term key: move to short-term credentials
	outForeign          // another organization's key: find its owner
)

// group is the findings on one key, on the way to an action.
type group struct {
	ident    keyIdent
	subject  subject
	findings []*Finding
	fired    map[string]bool // rules of the findings the plan answers
	open     bool            // some finding is not suppressed
	outcome  outcome
}

// actions groups the findings by key and plans each key once, knowing what
// the plans of the user's other key do.
func actions(env Env, catalogue []Rule, accounts []inventory.Account, sightings []inventory.Sighting, findings []Finding) []Action {
	subjects := map[keyIdent]subject{}
	for i := range accounts {
		a := &accounts[i]
		for _, u := range a.Principals() {
			subjects[keyIdent{a.ID, u.Name, "", 0}] = subject{acct: a, user: u}
			for j := range u.Keys {
				k := &u.Keys[j]
				subjects[keyIdent{a.ID, u.Name, k.ID, k.Slot}] = subject{acct: a, user: u, key: k}
			}
		}
	}
	for i := range sightings {
		s := &sightings[i]
		id := keyIdent{s.OwnerAccount, sightingPrincipal(s), s.AccessKeyID, 0}
		if s.Key != nil {
			id.slot = s.Key.Slot
		}
		sub, ok := subjects[id]
		if !ok {
			key := s.Key
			if key == nil {
				key = &inventory.Key{ID: s.AccessKeyID, Active: true}
			}
			sub = subject{acct: &inventory.Account{ID: s.OwnerAccount, Name: s.OwnerName}, user: sightingUser(s), key: key}
		}
		if sub.sighting == nil {
			sub.sighting = s
		}
		subjects[id] = sub
	}

	var groups []*group
	byIdent := map[keyIdent]*group{}
	for i := range findings {
		f := &findings[i]
		g, ok := byIdent[identOf(f)]
		if !ok {
			g = &group{ident: identOf(f), subject: subjects[identOf(f)], fired: map[string]bool{}}
			byIdent[g.ident] = g
			groups = append(groups, g)
		}
		g.findings = append(g.findings, f)
	}
	for _, g := range groups {
		for _, f := range g.findings {
			g.open = g.open || f.Suppressed == nil
		}
		// The plan answers the open findings; a key whose findings are all
		// suppressed keeps the plan they would have had.
		for _, f := range g.findings {
			if f.Suppressed == nil || !g.open {
				g.fired[f.Rule] = true
			}
		}
		g.outcome = decide(g)
	}
	settle(env, byIdent)

	// Within a user, plans that remove a key come before the plans that
	// need its slot, so the plans can be followed top to bottom.
	sort.SliceStable(groups, func(i, j int) bool {
		a, b := groups[i], groups[j]
		if a.ident.account != b.ident.account {
			return a.ident.account < b.ident.account
		}
		if a.ident.principal != b.ident.principal {
			return a.ident.principal < b.ident.principal
		}
		if fa, fb := a.frees(), b.frees(); fa != fb {
			return fa
		}
		if a.ident.keyID != b.ident.keyID {
			return a.ident.keyID < b.ident.keyID
		}
		return a.ident.slot < b.ident.slot
	})
	p := planner{env: env, groups: byIdent}
	out := make([]Action, 0, len(groups))
	for _, g := range groups {
		out = append(out, p.action(g, catalogue))
	}
	return out
}

// frees: the group's plan removes its key without needing a free slot.
func (g *group) frees() bool { return g.outcome == outDelete || g.outcome == outRetire }

// decide picks the one thing to do with a key from the rules that fired
// on it. Unused keys are retired, not rotated: nothing needs a new one. Of
// a user's two active keys the older goes first, into the newer.
func decide(g *group) outcome {
	fired, sub := g.fired, g.subject
	switch {
	case fired["root-access-key"]:
		return outRoot
	case fired["key-leaked"]:
		return outLeaked
	case fired["key-long-term"]:
		return outLongTerm
	case fired["key-foreign-account"]:
		return outForeign
	case sub.key == nil || sub.user == nil:
		return outNone
	case fired["key-inactive"]:
		return outDelete
	case fired["key-unused"] || fired["key-setup-unused"] || fired["key-two-active"]:
		return outRetire
	case fired["key-rotation"]:
		if older, _ := activePair(sub.user); older == sub.key {
			return outRetire
		}
		return outRotate
	case fired["key-without-mfa"]:
		return outMFA
	}
	return outNone
}

// settle decides per user where a key's findings alone would decide
// wrongly. Of a user's two active keys, the older in use and the newer
// about to be retired (unused, or its own plan removes it), the older
// cannot hand its work to the newer: it is rotated when past the age
// limit and kept otherwise. This is the half-done rotation: deciding per
// key, both keys were retired and the one in use was deleted.
func settle(env Env, groups map[keyIdent]*group) {
	for _, g := range groups {
		sub := g.subject
		if g.outcome != outRetire || sub.user == nil {
			continue
		}
		older, newer := activePair(sub.user)
		if older != sub.key || !inUse(env, older) {
			continue
		}
		if n := groups[keyIdent{sub.acct.ID, sub.user.Name, newer.ID, newer.Slot}]; n == nil || !n.open || !n.frees() {
			continue
		}
		if g.fired["key-rotation"] {
			g.outcome = outRotate
		} else {
			g.outcome = outKeep
		}
	}
}

// action builds a group's action and plan.
func (p planner) action(g *group, catalogue []Rule) Action {
	first := g.findings[0]
	a := Action{AccountID: first.AccountID, AccountName: first.AccountName, Principal: first.Principal, PrincipalARN: first.PrincipalARN,
		AccessKeyID: first.AccessKeyID, KeySlot: first.KeySlot, Rules: []string{}, Suppressed: !g.open, outcome: g.outcome}
	all := map[string]bool{}
	for _, f := range g.findings {
		all[f.Rule] = true
		if (f.Suppressed == nil || a.Suppressed) && f.Severity.Rank() > a.Severity.Rank() {
			a.Severity = f.Severity
		}
	}
	for _, r := range catalogue {
		if all[r.ID] {
			a.Rules = append(a.Rules, r.ID)
		}
	}
	a.Summary, a.Plan = p.plan(g)
	a.Summary = shared(a.Summary)
	for i := range a.Plan {
		a.Plan[i].Action, a.Plan[i].Command = shared(a.Plan[i].Action), shared(a.Plan[i].Command)
	}
	if a.Plan == nil {
		a.Plan = []Step{}
	}
	return a
}
