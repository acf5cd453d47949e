package rules

import (
	"fmt"

	"github.com/keyaudit/keyaudit/audit/inventory"
)

// rootAccessKey: CIS 1.4, no root access keys. GetAccountSummary is
// fresher than the credential report (up to four hours old), so when it
// has been read it has the last word on whether a root key exists.
func rootAccessKey(env Env, a *inventory.Account) []Finding {
	if a.Root == nil {
		return nil
	}
	if a.RootKeysPresent != nil && !*a.RootKeysPresent {
		return nil
	}
	var out []Finding
	for i := range a.Root.Keys {
		k := &a.Root.Keys[i]
		f := newFinding(env, "root-access-key", a, a.Root, k)
		state := "an active"
		if !k.Active {
			f.Severity, state = High, "an inactive"
		}
		f.Message = fmt.Sprintf("the root user of account %s has %s access key (slot %d)%s", a.ID, state, k.Slot, usedPhrase(env, k))
		f.Recommendation = "Delete the root user's access key: nothing should act as root from code. Move whatever uses it to an IAM role, then sign in as root and delete the key under Security credentials."
		f.RotationPlan = rootPlan(a.ID)
		out = append(out, f)
	}
	if len(out) == 0 && a.RootKeysPresent != nil {
		f := newFinding(env, "root-access-key", a, a.Root, nil)
		f.Message = fmt.Sprintf("GetAccountSummary reports a root access key in account %s that the credential report (generated %s) does not show yet", a.ID, a.ReportGeneratedAt.Format("2006-01-02 15:04 MST"))
		f.Recommendation = "A root access key was created recently. Find out who created it and why, then sign in as root and delete it under Security credentials."
		f.RotationPlan = rootPlan(a.ID)
		out = append(out, f)
	}
	return out
}

// usedPhrase says when a key was last used, for messages.
func usedPhrase(env Env, k *inventory.Key) string {
	switch lu := k.LastUsed; {
	case !lu.Known:
		return ""
	case lu.Never:
		return ", never used"
	default:
		where := ""
		if lu.Service != "" {
			where = " (" + lu.Service + ")"
		}
		return fmt.Sprintf(", last used %s%s", lu.At.Format("2006-01-02"), where)
	}
}
