package rules

import (
	"sort"
	"unique"

	"github.com/keyaudit/keyaudit/audit/inventory"
)

// Result is what the rules found in one inventory: the findings, and one
// action per key that has findings.
type Result struct {
	Findings []Finding `json:"findings"`
	Actions  []Action  `json:"actions"`
	Warnings []string  `json:"warnings,omitempty"`
}

// Evaluate runs the catalogue over the accounts audited ok and the
// sightings, stamps each finding with its rule's id, severity and CIS ids,
// applies suppressions, and groups the findings on each key into one
// action. Findings come in a stable order: account, principal, key, rule.
func Evaluate(env Env, accounts []inventory.Account, sightings []inventory.Sighting) Result {
	catalogue := Catalogue()
	var found []Finding
	for _, r := range catalogue {
		var got []Finding
		if r.Check != nil {
			for i := range accounts {
				if accounts[i].Status == inventory.StatusOK {
					got = append(got, r.Check(env, &accounts[i])...)
				}
			}
		}
		if r.CheckSighting != nil {
			for i := range sightings {
				got = append(got, r.CheckSighting(env, &sightings[i])...)
			}
		}
		for i := range got {
			stamp(&got[i], r)
			got[i].Message, got[i].Recommendation = shared(got[i].Message), shared(got[i].Recommendation)
		}
		found = append(found, got...)
	}
	sort.SliceStable(found, func(i, j int) bool {
		a, b := found[i], found[j]
		if a.AccountID != b.AccountID {
			return a.AccountID < b.AccountID
		}
		if a.Principal != b.Principal {
			return a.Principal < b.Principal
		}
		if a.AccessKeyID != b.AccessKeyID {
			return a.AccessKeyID < b.AccessKeyID
		}
		if a.KeySlot != b.KeySlot {
			return a.KeySlot < b.KeySlot
		}
		return a.Rule < b.Rule
	})
	warnings := suppress(env, found)
	return Result{Findings: found, Actions: actions(env, catalogue, accounts, sightings, found), Warnings: warnings}
}

// shared returns the one copy of a text kept for the process. Messages,
// plan steps and ranking details repeat across keys and accounts, and a
// report of 10,000 accounts holds hundreds of thousands of them.
func shared(s string) string { return unique.Make(s).Value() }

// stamp fills what a finding takes from the rule that made it. A check
// sets Severity only where it differs from the rule's (an inactive root
// key is high, not critical).
func stamp(f *Finding, r Rule) {
	f.Rule = r.ID
	if f.Severity == "" {
		f.Severity = r.Severity
	}
	// Shared with the rule, never written: one map per rule, not per
	// finding, in a report of hundreds of thousands.
	f.CIS = r.CIS
	if f.CIS == nil {
		f.CIS = CISRefs{} // "cis": {} for a rule CIS has no control for
	}
	f.Fingerprint = Fingerprint(f.Rule, f.AccountID, f.Principal, f.AccessKeyID, f.KeySlot)
}

// KeysToConfirm returns, per account, the IDs of keys whose findings depend
// on last use that GetAccessKeyLastUsed has not yet confirmed.
func KeysToConfirm(findings []Finding) map[string][]string {
	needs := map[string]bool{}
	for _, r := range Catalogue() {
		needs[r.ID] = r.NeedsLastUse
	}
	out := map[string][]string{}
	seen := map[string]bool{}
	for _, f := range findings {
		if !needs[f.Rule] || f.AccessKeyID == "" || f.Details.LastUseConfirmed || seen[f.AccessKeyID] {
			continue
		}
		seen[f.AccessKeyID] = true
		out[f.AccountID] = append(out[f.AccountID], f.AccessKeyID)
	}
	for _, ids := range out {
		sort.Strings(ids)
	}
	return out
}
