package report

import "github.com/keyaudit/keyaudit/rules"

// Diff compares two runs by fingerprint, ignoring suppressed findings:
// added are tonight's findings that the previous run did not have, resolved
// the previous run's findings that are gone. A finding counts as resolved
// only in an account audited ok in both runs: an account that could not be
// audited tonight has resolved nothing. With no previous run, everything
// is new.
func Diff(prev, cur *Report) (added, resolved []rules.Finding) {
	before := map[string]bool{}
	okBefore := map[string]bool{}
	if prev != nil {
		for _, f := range prev.Findings {
			if f.Suppressed == nil {
				before[f.Fingerprint] = true
			}
		}
		for _, a := range prev.Accounts {
			okBefore[a.ID] = a.Status == "ok"
		}
	}
	now := map[string]bool{}
	okNow := map[string]bool{}
	for _, a := range cur.Accounts {
		okNow[a.ID] = a.Status == "ok"
	}
	for _, f := range cur.Findings {
		if f.Suppressed != nil {
			continue
		}
		now[f.Fingerprint] = true
		if !before[f.Fingerprint] {
			added = append(added, f)
		}
	}
	if prev != nil {
		for _, f := range prev.Findings {
			if f.Suppressed == nil && !now[f.Fingerprint] && okBefore[f.AccountID] && okNow[f.AccountID] {
				resolved = append(resolved, f)
			}
		}
	}
	return added, resolved
}
