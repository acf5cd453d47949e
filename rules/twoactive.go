package rules

import (
	"fmt"

	"github.com/keyaudit/keyaudit/audit/inventory"
)

// keyTwoActive: CIS "ensure there is only one active access key for any
// single IAM user". CIS allows no overlap; rotation_overlap_days (default 0)
// grants a rotation in progress some days of grace for the newer key. The
// finding is on the older key, the one to retire.
func keyTwoActive(env Env, a *inventory.Account) []Finding {
	grace := env.Config.Thresholds.RotationOverlapDays
	var out []Finding
	for i := range a.Users {
		u := &a.Users[i]
		older, newer := activePair(u)
		if older == nil {
			continue
		}
		// A newer key up to grace days old is a rotation in progress; with
		// no grace, two active keys are a finding from the first day.
		if grace > 0 && (newer.CreatedAt.IsZero() || days(env.Now, newer.CreatedAt) <= grace) {
			continue
		}
		f := newFinding(env, a, u, older)
		f.Details.ThresholdDays = ptr(grace)
		f.Message = fmt.Sprintf("one of two active keys; the newer is %s", keyLabel(newer))
		if !newer.CreatedAt.IsZero() {
			f.Message += fmt.Sprintf(", created %d days ago", days(env.Now, newer.CreatedAt))
		}
		if grace > 0 {
			f.Message += fmt.Sprintf(" (grace %d days)", grace)
		}
		f.Recommendation = fmt.Sprintf("Finish the rotation: move what still uses this key to %s, then deactivate and delete this one.", keyLabel(newer))
		out = append(out, f)
	}
	return out
}

// activePair returns a user's two active keys, older first; nil when the
// user has fewer than two. Keys created at the same time order by slot.
func activePair(u *inventory.User) (older, newer *inventory.Key) {
	var active []*inventory.Key
	for j := range u.Keys {
		if u.Keys[j].Active {
			active = append(active, &u.Keys[j])
		}
	}
	if len(active) < 2 {
		return nil, nil
	}
	older, newer = active[0], active[1]
	if newer.CreatedAt.Before(older.CreatedAt) {
		older, newer = newer, older
	}
	return older, newer
}
