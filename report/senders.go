package report

import "github.com/keyaudit/keyaudit/rules"

// ActionIndex returns the action of a finding's key, for a sender that
// shows each finding with its plan.
func ActionIndex(actions []rules.Action) func(f *rules.Finding) rules.Action {
	byKey := actionsByKey(actions)
	return func(f *rules.Finding) rules.Action {
		return byKey[keyOf(f.AccountID, f.Principal, f.AccessKeyID, f.KeySlot)]
	}
}

// AccountLabel names an account for people: "name (ID)", or its ID.
func AccountLabel(id, name string) string { return accountLabel(id, name, "") }
