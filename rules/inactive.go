package rules

import (
	"fmt"

	"github.com/keyaudit/keyaudit/audit/inventory"
)

// keyInactive: an inactive key is a key someone can turn back on. Once it
// has had no activity (use or creation: IAM keeps no deactivation date)
// for inactive_days, it is past any rollback wait: delete it.
func keyInactive(env Env, a *inventory.Account) []Finding {
	limit := env.Config.Thresholds.InactiveDays
	return eachUserKey(a, func(u *inventory.User, k *inventory.Key) *Finding {
		if k.Active {
			return nil
		}
		idle, ok := idleDays(env, k)
		if !ok || idle <= limit {
			return nil
		}
		f := newFinding(env, a, u, k)
		f.Details.ThresholdDays = ptr(limit)
		f.Message = fmt.Sprintf("inactive, no activity for %d days (limit %d)", idle, limit)
		f.Recommendation = "Delete the inactive key: it frees the slot for the next rotation and cannot be switched back on."
		return &f
	})
}

// idleDays is the number of days since a key's last activity: its last use
// or, if later or never used, its creation. ok is false when neither is known.
func idleDays(env Env, k *inventory.Key) (int, bool) {
	last := k.CreatedAt
	if k.LastUsed.Known && !k.LastUsed.Never && k.LastUsed.At.After(last) {
		last = k.LastUsed.At
	}
	if last.IsZero() {
		return 0, false
	}
	return days(env.Now, last), true
}
