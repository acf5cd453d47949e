// Package remediate makes the reversible steps of keyaudit's plans through
// the SDK: deactivate a key, attach AWS's quarantine policy. Every change
// is written to an append-only journal before it is made, so it can be
// undone (Undo), and a key deactivated long enough with no use since can
// be deleted (DeleteAfter). docs/remediate.md says what it refuses and why.
package remediate

import (
	"fmt"
	"slices"
	"strings"

	"github.com/keyaudit/keyaudit/rules"
)

// Op is one kind of change.
type Op string

const (
	// Deactivate sets a key Inactive (iam:UpdateAccessKey); undo sets it Active.
	Deactivate Op = "deactivate"
	// Quarantine attaches AWS's quarantine policy to the key's user
	// (iam:AttachUserPolicy); undo detaches it.
	Quarantine Op = "quarantine"
	// Delete deletes an inactive key (iam:DeleteAccessKey): the one change
	// undo cannot reverse.
	Delete Op = "delete"
	// Restore is undo's change: the previous state of an earlier record.
	Restore Op = "restore"
)

// QuarantinePolicy is the name of the AWS-managed policy that denies the
// actions a leaked key is abused for (docs/advice.md, invariant 8).
const QuarantinePolicy = "AWSCompromisedKeyQuarantineV3"

// Finding is what a change answers: the report's action on the key.
type Finding struct {
	Rules    []string       `json:"rules"`
	Severity rules.Severity `json:"severity"`
	Summary  string         `json:"summary"`
}

// Change is one reversible step of a plan, before it is checked.
type Change struct {
	Op          Op
	AccountID   string
	AccountName string
	User        string
	AccessKeyID string
	PolicyARN   string // Quarantine only
	Finding     Finding
	// InUseAllowed: the plan deactivates the key even while it is in use
	// (a leaked key).
	InUseAllowed bool
}

// Selection picks the plans to apply; an empty field selects everything.
type Selection struct {
	Rules    []string
	Severity rules.Severity // at or above
	Accounts []string
	Keys     []string
}

// Empty reports whether nothing narrows the selection.
func (s Selection) Empty() bool {
	return len(s.Rules) == 0 && s.Severity == "" && len(s.Accounts) == 0 && len(s.Keys) == 0
}

func (s Selection) has(a rules.Action) bool {
	switch {
	case len(s.Rules) > 0 && !slices.ContainsFunc(a.Rules, func(r string) bool { return slices.Contains(s.Rules, r) }):
		return false
	case s.Severity != "" && a.Severity.Rank() < s.Severity.Rank():
		return false
	case len(s.Accounts) > 0 && !slices.Contains(s.Accounts, a.AccountID):
		return false
	case len(s.Keys) > 0 && !slices.Contains(s.Keys, a.AccessKeyID):
		return false
	}
	return true
}

// Skip is a selected plan with no step apply may make, and why.
type Skip struct {
	Action rules.Action
	Reason string
}

// Select returns the reversible steps of the selected plans, in the
// plans' order, and the selected plans that have none. A plan's steps are
// taken up to its first create-access-key: what follows a new key waits
// until the applications have moved to it, which only a person can
// confirm (docs/advice.md, invariant 1).
func Select(actions []rules.Action, sel Selection) ([]Change, []Skip) {
	var changes []Change
	var skips []Skip
	for _, a := range actions {
		if !sel.has(a) {
			continue
		}
		switch {
		case a.Suppressed:
			skips = append(skips, Skip{a, "every finding on the key is suppressed"})
			continue
		case a.AccessKeyID == "" || a.Principal == "<root_account>":
			skips = append(skips, Skip{a, "no IAM user's key is named: root keys and keys known only by slot are a person's to act on"})
			continue
		}
		var found []Change
		for _, s := range a.Plan {
			if strings.Contains(s.Command, "create-access-key") {
				break
			}
			cmd := flags(s.Command)
			if cmd == nil {
				continue
			}
			c := Change{AccountID: a.AccountID, AccountName: a.AccountName, User: a.Principal, AccessKeyID: a.AccessKeyID,
				Finding: Finding{Rules: a.Rules, Severity: a.Severity, Summary: a.Summary}, InUseAllowed: slices.Contains(a.Rules, rules.KeyLeaked)}
			switch {
			case cmd.name == "update-access-key" && cmd.args["--status"] == "Inactive" && cmd.args["--access-key-id"] == a.AccessKeyID && cmd.args["--user-name"] == a.Principal:
				c.Op = Deactivate
			case cmd.name == "attach-user-policy" && cmd.args["--user-name"] == a.Principal && strings.HasSuffix(cmd.args["--policy-arn"], ":iam::aws:policy/"+QuarantinePolicy):
				c.Op, c.PolicyARN = Quarantine, cmd.args["--policy-arn"]
			default:
				continue
			}
			found = append(found, c)
		}
		if len(found) == 0 {
			skips = append(skips, Skip{a, "the plan has no reversible step apply may make before a person acts (a new key, a move, MFA)"})
		}
		changes = append(changes, found...)
	}
	return changes, skips
}

// iamCommand is one `aws iam` command of a plan, its flags by name.
type iamCommand struct {
	name string
	args map[string]string
}

// flags reads a plan's `aws iam VERB --flag value ...` command; nil for
// anything else (guards, waits, shell).
func flags(command string) *iamCommand {
	f := strings.Fields(command)
	if len(f) < 3 || f[0] != "aws" || f[1] != "iam" {
		return nil
	}
	c := &iamCommand{name: f[2], args: map[string]string{}}
	for i := 3; i+1 < len(f); i++ {
		if strings.HasPrefix(f[i], "--") {
			c.args[f[i]] = f[i+1]
		}
	}
	return c
}

// Command is the aws CLI command that makes the change: what a dry run
// prints, so a person can read exactly which call would be made.
func (c Change) Command() string {
	switch c.Op {
	case Deactivate:
		return fmt.Sprintf("aws iam update-access-key --user-name %s --access-key-id %s --status Inactive", c.User, c.AccessKeyID)
	case Quarantine:
		return fmt.Sprintf("aws iam attach-user-policy --user-name %s --policy-arn %s", c.User, c.PolicyARN)
	case Delete:
		return fmt.Sprintf("aws iam delete-access-key --user-name %s --access-key-id %s", c.User, c.AccessKeyID)
	}
	return ""
}

// actionOf is the part of an action a selection reads, for a journaled change.
func actionOf(rec Record, f *Finding) rules.Action {
	return rules.Action{AccountID: rec.AccountID, AccessKeyID: rec.AccessKeyID, Rules: f.Rules, Severity: f.Severity}
}
