package rules

import "fmt"

// matches reports whether s applies to f: the rule, and every selector given.
func (s Suppression) matches(f Finding) bool {
	return s.Rule == f.Rule &&
		(s.Account == "" || s.Account == f.AccountID) &&
		(s.Principal == "" || s.Principal == f.Principal) &&
		(s.AccessKeyID == "" || s.AccessKeyID == f.AccessKeyID) &&
		(s.Fingerprint == "" || s.Fingerprint == f.Fingerprint)
}

// expired: a suppression is in force through its expiry day.
func (s Suppression) expired(env Env) bool {
	return !s.Expires.IsZero() && !env.Now.Before(s.Expires.AddDate(0, 0, 1))
}

// suppress marks the findings accepted by a suppression in force; expired
// suppressions stop suppressing and each yields a warning.
func suppress(env Env, findings []Finding) []string {
	var warnings []string
	for _, s := range env.Config.Suppressions {
		if s.expired(env) {
			warnings = append(warnings, fmt.Sprintf("%s: the suppression of %s expired on %s: its findings are reported again; renew it with a new reason or fix them",
				s.Where, s.Rule, s.Expires.Format("2006-01-02")))
			continue
		}
		for i := range findings {
			if findings[i].Suppressed == nil && s.matches(findings[i]) {
				findings[i].Suppressed = &Suppress{Reason: s.Reason, Expires: s.Expires}
			}
		}
	}
	return warnings
}
