package rules

import (
	"fmt"

	"github.com/keyaudit/keyaudit/audit/inventory"
)

// keyRotation: CIS "ensure access keys are rotated every 90 days or less".
func keyRotation(env Env, a *inventory.Account) []Finding {
	limit := env.Config.Thresholds.MaxKeyAgeDays
	return eachUserKey(a, func(u *inventory.User, k *inventory.Key) *Finding {
		if !k.Active || k.CreatedAt.IsZero() {
			return nil
		}
		age := days(env.Now, k.CreatedAt)
		if age <= limit {
			return nil
		}
		f := newFinding(env, a, u, k)
		f.Details.ThresholdDays = ptr(limit)
		f.Message = fmt.Sprintf("%d days old (limit %d)%s", age, limit, usedPhrase(k))
		f.Recommendation = "Rotate the key: create a new one (or use the user's young second key), move every application to it, then deactivate and delete the old one. Better still, replace it with temporary credentials (an IAM role)."
		return &f
	})
}

// eachUserKey calls fn for every key of every IAM user (never root: root
// keys get root-access-key only) and collects the findings it returns.
func eachUserKey(a *inventory.Account, fn func(u *inventory.User, k *inventory.Key) *Finding) []Finding {
	var out []Finding
	for i := range a.Users {
		u := &a.Users[i]
		for j := range u.Keys {
			if f := fn(u, &u.Keys[j]); f != nil {
				out = append(out, *f)
			}
		}
	}
	return out
}
