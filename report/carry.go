package report

import "time"

// CarryOver makes r the next run of the series prev belongs to: a finding
// prev also had keeps the time it was first seen (prev's, else prev's
// as-of), a new one is first seen at r's as-of, and Resolved lists prev's
// open findings gone from accounts audited ok in both runs (as Diff finds
// them). A prev that is missing or cannot be compared leaves r as it is.
func CarryOver(prev, r *Report) {
	ch := Diff(prev, r)
	if !ch.Compared {
		return
	}
	seen := make(map[string]time.Time, len(prev.Findings))
	for _, f := range prev.Findings {
		if f.FirstSeen.IsZero() {
			f.FirstSeen = prev.AsOf
		}
		seen[f.Fingerprint] = f.FirstSeen
	}
	for i := range r.Findings {
		f := &r.Findings[i]
		if t, ok := seen[f.Fingerprint]; ok {
			f.FirstSeen = t
		} else {
			f.FirstSeen = r.AsOf
		}
	}
	r.Resolved = ch.Resolved
	for i := range r.Resolved {
		r.Resolved[i].FirstSeen = seen[r.Resolved[i].Fingerprint]
	}
}
