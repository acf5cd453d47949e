package report

import "github.com/keyaudit/keyaudit/rules"

// SlackTop is how many keys of the kill-first ranking Slack watches.
const SlackTop = 5

// TopChanges is how the kill-first top 5 changed since the last announced run.
type TopChanges struct {
	// Compared is false when the last run had no ranking: the top 5 is
	// then listed as it is, nothing called new.
	Compared bool
	// Entrants are tonight's top-5 keys that were not in the last top 5.
	Entrants []rules.Risk
}

// DiffTop compares the top 5 of two runs' rankings by key (account,
// principal, key ID or slot).
func DiffTop(prev, cur *Report) TopChanges {
	if prev == nil || len(prev.Risk) == 0 || checkSchema(prev.SchemaVersion) != nil {
		return TopChanges{}
	}
	before := map[keyRef]bool{}
	for _, k := range prev.Risk[:min(SlackTop, len(prev.Risk))] {
		before[keyOf(k.AccountID, k.Principal, k.AccessKeyID, k.KeySlot)] = true
	}
	tc := TopChanges{Compared: true}
	for _, k := range cur.Risk[:min(SlackTop, len(cur.Risk))] {
		if !before[keyOf(k.AccountID, k.Principal, k.AccessKeyID, k.KeySlot)] {
			tc.Entrants = append(tc.Entrants, k)
		}
	}
	return tc
}
