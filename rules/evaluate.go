package rules

import (
	"sort"

	"github.com/keyaudit/keyaudit/audit/inventory"
)

// Result is what the rules found in one inventory.
type Result struct {
	Findings []Finding
	Warnings []string
}

// Evaluate runs the catalogue over the accounts audited ok and the
// sightings, applies suppressions and returns the findings in a stable
// order: account, principal, key, rule.
func Evaluate(env Env, accounts []inventory.Account, sightings []inventory.Sighting) Result {
	var found []Finding
	for _, r := range Catalogue() {
		switch {
		case r.Check != nil:
			for i := range accounts {
				if accounts[i].Status == inventory.StatusOK {
					found = append(found, r.Check(env, &accounts[i])...)
				}
			}
		case r.CheckSighting != nil:
			for i := range sightings {
				found = append(found, r.CheckSighting(env, &sightings[i])...)
			}
		}
	}
	for i := range found {
		f := &found[i]
		f.Fingerprint = Fingerprint(f.Rule, f.AccountID, f.Principal, f.AccessKeyID, f.KeySlot)
		if f.CIS == nil {
			f.CIS = []string{}
		}
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
	return Result{Findings: found, Warnings: suppress(env, found)}
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
