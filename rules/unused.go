package rules

import (
	"fmt"
	"time"

	"github.com/keyaudit/keyaudit/audit/inventory"
)

// keyUnused: CIS "ensure credentials unused for 45 days or more are
// disabled": the limit day itself counts. A key never used is judged by
// its creation date, as CIS does; a key whose last use is unknown is not
// judged at all.
func keyUnused(env Env, a *inventory.Account) []Finding {
	limit := env.Config.Thresholds.UnusedDays
	return eachUserKey(a, func(u *inventory.User, k *inventory.Key) *Finding {
		idle, never, ok := idleSince(env, k)
		if !k.Active || !ok || idle < limit {
			return nil
		}
		what := "last used"
		if never {
			what = "never used since it was created"
		}
		f := newFinding(env, a, u, k)
		f.Details.ThresholdDays = ptr(limit)
		f.Message = fmt.Sprintf("%s %d days ago (limit %d)", what, idle, limit)
		f.Recommendation = "Nothing has needed this key for a long time: deactivate it, wait, and delete it. No new key is needed."
		return &f
	})
}

// idleSince is how many days ago a key was last used or, never used,
// created; ok is false when that is unknown.
func idleSince(env Env, k *inventory.Key) (idle int, never, ok bool) {
	lu := k.LastUsed
	ref := lu.At
	if lu.Never {
		ref = k.CreatedAt
	}
	if !lu.Known || ref.IsZero() {
		return 0, false, false
	}
	return days(env.Now, ref), lu.Never, true
}

// inUse: an active key used within unused_days. A key whose last use is
// unknown may be in use, so it counts as in use: plans never bet on
// idleness. A key never used has nothing to move.
func inUse(env Env, k *inventory.Key) bool {
	idle, never, ok := idleSince(env, k)
	return k.Active && (!ok || !never && idle < env.Config.Thresholds.UnusedDays)
}

// setupWindow is how close to the user's creation a key must have been
// created to count as created "at user setup" (CIS: the console's create-
// user wizard or a script makes both within minutes).
const setupWindow = time.Hour

// keySetupUnused: CIS "do not create access keys during initial setup for
// IAM users with a console password". The benchmark's test is a key created
// with the user and never used. A key is given confirmDays before it is
// judged: a program set up today may not have run yet.
func keySetupUnused(env Env, a *inventory.Account) []Finding {
	return eachUserKey(a, func(u *inventory.User, k *inventory.Key) *Finding {
		if !u.PasswordEnabled || !k.Active || !k.LastUsed.Known || !k.LastUsed.Never {
			return nil
		}
		// Unknown creation times cannot show the key was made at setup.
		if u.CreatedAt.IsZero() || k.CreatedAt.IsZero() {
			return nil
		}
		if gap := k.CreatedAt.Sub(u.CreatedAt); gap < -time.Minute || gap > setupWindow {
			return nil
		}
		age := days(env.Now, k.CreatedAt)
		if age < confirmDays {
			return nil
		}
		f := newFinding(env, a, u, k)
		f.Message = fmt.Sprintf("created at user setup (%s) and never used in %d days", k.CreatedAt.UTC().Format("2006-01-02"), age)
		f.Recommendation = "Delete keys created with a console user and never used; create a key only when a program needs one, and prefer IAM Identity Center or roles."
		return &f
	})
}
