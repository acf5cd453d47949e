package rules

import (
	"fmt"

	"github.com/keyaudit/keyaudit/audit/inventory"
)

// keyInactive: an inactive key is a key someone can turn back on. Once it
// has had no activity (use or creation: IAM keeps no deactivation date)
// for inactive_days, delete it.
func keyInactive(env Env, a *inventory.Account) []Finding {
	limit := env.Config.Thresholds.InactiveDays
	return eachUserKey(a, func(u *inventory.User, k *inventory.Key) *Finding {
		if k.Active {
			return nil
		}
		last := k.CreatedAt
		if k.LastUsed.Known && !k.LastUsed.Never && k.LastUsed.At.After(last) {
			last = k.LastUsed.At
		}
		if last.IsZero() {
			return nil
		}
		idle := days(env.Now, last)
		if idle <= limit {
			return nil
		}
		f := newFinding(env, "key-inactive", a, u, k)
		f.Details.ThresholdDays = ptr(limit)
		f.Message = fmt.Sprintf("inactive %s of user %s has had no activity for %d days (limit %d)", keyLabel(k), u.Name, idle, limit)
		f.Recommendation = "Delete the inactive key: it frees the slot for the next rotation and cannot be switched back on."
		if k.ID == "" {
			f.RotationPlan = append(f.RotationPlan, keyIDStep(u, k))
		}
		f.RotationPlan = append(f.RotationPlan, Step{Action: "Delete the inactive key.", Command: fmt.Sprintf("aws iam delete-access-key --user-name %s --access-key-id %s", shellQuote(u.Name), keyArg(k))})
		return &f
	})
}
