package rules

import (
	"fmt"

	"github.com/keyaudit/keyaudit/audit/inventory"
)

// keyTwoActive: CIS 1.13, one active key per user. A rotation in progress
// legitimately has two for a while: rotation_overlap_days of grace for the
// newer key. The finding is on the older key, the one to retire.
func keyTwoActive(env Env, a *inventory.Account) []Finding {
	grace := env.Config.Thresholds.RotationOverlapDays
	var out []Finding
	for i := range a.Users {
		u := &a.Users[i]
		var active []*inventory.Key
		for j := range u.Keys {
			if u.Keys[j].Active {
				active = append(active, &u.Keys[j])
			}
		}
		if len(active) < 2 {
			continue
		}
		older, newer := active[0], active[1]
		if newer.CreatedAt.Before(older.CreatedAt) {
			older, newer = newer, older
		}
		if newer.CreatedAt.IsZero() || days(env.Now, newer.CreatedAt) <= grace {
			continue
		}
		f := newFinding(env, "key-two-active", a, u, older)
		f.Details.ThresholdDays = ptr(grace)
		f.Message = fmt.Sprintf("user %s has two active keys; the newer, %s, was created %d days ago (grace %d days)", u.Name, keyLabel(newer), days(env.Now, newer.CreatedAt), grace)
		f.Recommendation = fmt.Sprintf("Finish the rotation: move what still uses %s to the newer key, then deactivate and delete it.", keyLabel(older))
		f.RotationPlan = removalPlan(u, older)
		out = append(out, f)
	}
	return out
}

// keyLabel names a key briefly: its ID, or its slot.
func keyLabel(k *inventory.Key) string {
	if k.ID != "" {
		return k.ID
	}
	return fmt.Sprintf("key %d", k.Slot)
}
