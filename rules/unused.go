package rules

import (
	"fmt"

	"github.com/keyaudit/keyaudit/audit/inventory"
)

// keyUnused: CIS 1.12, remove credentials unused for unused_days. A key
// never used is judged by its creation date, as CIS does; a key whose last
// use is unknown is not judged at all.
func keyUnused(env Env, a *inventory.Account) []Finding {
	limit := env.Config.Thresholds.UnusedDays
	return eachUserKey(a, func(u *inventory.User, k *inventory.Key) *Finding {
		lu := k.LastUsed
		if !k.Active || !lu.Known {
			return nil
		}
		ref, what := lu.At, "was last used"
		if lu.Never {
			ref, what = k.CreatedAt, "has never been used since it was created"
		}
		if ref.IsZero() {
			return nil
		}
		idle := days(env.Now, ref)
		if idle <= limit {
			return nil
		}
		f := newFinding(env, "key-unused", a, u, k)
		f.Details.ThresholdDays = ptr(limit)
		f.Message = fmt.Sprintf("%s of user %s %s %d days ago (limit %d)", keyName(k), u.Name, what, idle, limit)
		f.Recommendation = "Nothing has needed this key for a long time: deactivate it, wait, and delete it."
		f.RotationPlan = removalPlan(u, k)
		return &f
	})
}

// keySetupUnused: CIS 1.11, do not create access keys at initial setup
// for users with a console password. An active key such a user never used
// is the mark of one.
func keySetupUnused(env Env, a *inventory.Account) []Finding {
	return eachUserKey(a, func(u *inventory.User, k *inventory.Key) *Finding {
		if !u.PasswordEnabled || !k.Active || !k.LastUsed.Known || !k.LastUsed.Never {
			return nil
		}
		f := newFinding(env, "key-setup-unused", a, u, k)
		f.Message = fmt.Sprintf("console user %s has %s that was never used", u.Name, keyName(k))
		f.Recommendation = "Delete keys created with a console user and never used; create a key only when a program needs one, and prefer IAM Identity Center or roles."
		f.RotationPlan = removalPlan(u, k)
		return &f
	})
}
