package rules

import (
	"fmt"

	"github.com/keyaudit/keyaudit/audit/inventory"
)

// rootAccessKey: CIS "ensure no root user account access key exists".
// GetAccountSummary is fresher than the credential report (up to four
// hours old), so when it has been read it has the last word on whether a
// root key exists.
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
		f := newFinding(env, a, a.Root, k)
		state := "active"
		if !k.Active {
			f.Severity, state = High, "inactive"
		}
		f.Message = fmt.Sprintf("the root user has an %s access key (slot %d)%s", state, k.Slot, usedPhrase(k))
		f.Recommendation = "Delete the root user's access key: nothing should act as root from code. Move whatever uses it to an IAM role, then sign in as root and delete the key under Security credentials."
		out = append(out, f)
	}
	if len(out) == 0 && a.RootKeysPresent != nil {
		f := newFinding(env, a, a.Root, nil)
		f.Message = fmt.Sprintf("GetAccountSummary reports a root access key that the credential report (generated %s) does not show yet", a.ReportGeneratedAt.Format("2006-01-02 15:04 MST"))
		f.Recommendation = "A root access key was created recently. Find out who created it and why, then sign in as root and delete it under Security credentials."
		out = append(out, f)
	}
	return out
}

// rootKeySighting: a key ID given to whois (or found in a file) that IAM
// says is the root user's is a root access key, whatever else it is.
func rootKeySighting(env Env, s *inventory.Sighting) []Finding {
	if s.Principal != inventory.RootName || s.Key == nil {
		return nil
	}
	f := sightingFinding(env, s)
	state := "active"
	if s.Key.StatusUnknown {
		state = "status unknown, counted as active"
	} else if !s.Key.Active {
		f.Severity, state = High, "inactive"
	}
	f.Message = fmt.Sprintf("the root user's access key (%s), found in %s", state, s.Source)
	f.Recommendation = "Delete the root user's access key: nothing should act as root from code. Move whatever uses it to an IAM role, then delete the key (from the management account with centralized root access, or signed in as root)."
	return []Finding{f}
}

// usedPhrase says when a key was last used, for messages.
func usedPhrase(k *inventory.Key) string {
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
