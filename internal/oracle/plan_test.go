package oracle

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/keyaudit/keyaudit/internal/moto"
	"github.com/stretchr/testify/assert"
)

// step is one line of a rotation plan.
type step struct {
	Action  string `json:"action"`
	Command string `json:"command"`
}

// action is one plan for one key, in either report shape: today's, where
// each finding carries its own rotation_plan, or the grouped one, where a
// top-level actions array carries one plan per key.
type action struct {
	label     string   // for messages: which finding or action
	AccountID string   `json:"account_id"`
	Principal string   `json:"principal"`
	UserName  string   `json:"user_name"` // in case the grouped shape names the user so
	KeyID     string   `json:"access_key_id"`
	Rules     []string `json:"rules"` // the grouped shape's rules that fired on the key
	Plan      []step   `json:"plan"`
}

type finding struct {
	Rule         string `json:"rule"`
	AccountID    string `json:"account_id"`
	Principal    string `json:"principal"`
	KeyID        string `json:"access_key_id"`
	RotationPlan []step `json:"rotation_plan"`
}

type report struct {
	Accounts []struct {
		ID     string `json:"account_id"`
		Status string `json:"status"`
		Error  string `json:"error"`
	} `json:"accounts"`
	Findings []finding `json:"findings"`
	Actions  []action  `json:"actions"`
}

// actions returns every plan of the report: the grouped actions when the
// report has them (a plan a finding may still carry is then a copy), else
// each finding's own plan.
func (r *report) actions() []action {
	var out []action
	for i, a := range r.Actions {
		if a.Principal == "" {
			a.Principal = a.UserName
		}
		a.label = fmt.Sprintf("action %d (%s %s)", i, a.Principal, a.KeyID)
		out = append(out, a)
	}
	if len(out) > 0 {
		return out
	}
	for _, f := range r.Findings {
		if len(f.RotationPlan) > 0 {
			out = append(out, action{label: fmt.Sprintf("finding %s on %s %s", f.Rule, f.Principal, f.KeyID),
				AccountID: f.AccountID, Principal: f.Principal, KeyID: f.KeyID, Plan: f.RotationPlan})
		}
	}
	return out
}

var (
	keyIDPattern = regexp.MustCompile(`\bAKIA[A-Z0-9]{16}\b`)
	wait         = regexp.MustCompile(`^\s*sleep\b`)
	// newKeyPlaceholder is how a plan may refer to the key its create step
	// returns: the only substitution the oracle makes.
	newKeyPlaceholder = regexp.MustCompile(`<NEW[-_]KEY[-_]ID>|\$\{NEW_KEY_ID\}|\$NEW_KEY_ID\b|\bNEW_KEY_ID\b`)
	// placeholder is anything else a person would have to fill in.
	placeholder = regexp.MustCompile(`<[A-Z0-9][A-Z0-9_-]*>`)
	secretField = regexp.MustCompile(`("SecretAccessKey"\s*:\s*")[^"]*(")`)
	mutating    = regexp.MustCompile(`aws iam (update-access-key|delete-access-key)\b.*--access-key-id\s+(\S+)`)
	idleCheck   = regexp.MustCompile(`aws iam get-access-key-last-used\b.*--access-key-id\s+(\S+)`)
)

// skipReason says why the oracle does not run a step, or "" to run it.
func skipReason(command string) string {
	switch {
	case strings.TrimSpace(command) == "":
		return "no command"
	case strings.Contains(command, "cloudtrail lookup-events"):
		return "moto lacks CloudTrail LookupEvents"
	case wait.MatchString(command):
		return "a wait"
	}
	return ""
}

// execution is what running one plan did.
type execution struct {
	created []string // key IDs the plan's create steps returned
	ran     []string // the commands executed, as run
	skipped []string
}

// run executes a plan as written with the aws CLI, acting with creds, and
// asserts every executed step exits 0. It stops at the first failure: the
// steps after it assume it worked. use is called with each created key, as
// the applications a person moves to it would.
func run(ctx context.Context, t *testing.T, srv *moto.Server, creds aws.Credentials, a action, use func(keyID string)) execution {
	t.Helper()
	var ex execution
	dir := t.TempDir()
	for i, s := range a.Plan {
		cmd := s.Command
		if why := skipReason(cmd); why != "" {
			ex.skipped = append(ex.skipped, fmt.Sprintf("%s step %d (%s): %q: %s", a.label, i+1, why, cmd, s.Action))
			continue
		}
		if !creates(cmd) && newKeyPlaceholder.MatchString(cmd) {
			if !assert.Len(t, ex.created, 1, "%s step %d refers to the new key before exactly one was created: %s", a.label, i+1, cmd) {
				return ex
			}
		}
		if len(ex.created) > 0 {
			cmd = withNewKey(cmd, ex.created[0])
		} else {
			cmd = withNewKey(cmd, "")
		}
		if p := placeholder.FindString(cmd); p != "" {
			assert.Fail(t, "plan step is not executable as written", "%s step %d leaves %s to fill in: %s", a.label, i+1, p, cmd)
			return ex
		}
		res := srv.Shell(ctx, dir, creds, cmd)
		ex.ran = append(ex.ran, cmd)
		if !assert.NoError(t, res.Err, "%s step %d failed.\naction:  %s\ncommand: %s\nstdout:  %s\nstderr:  %s",
			a.label, i+1, s.Action, cmd, redact(res.Stdout), redact(res.Stderr)) {
			return ex
		}
		if creates(cmd) {
			id := keyIDPattern.FindString(res.Stdout)
			if !assert.NotEmpty(t, id, "%s step %d created a key but printed no key ID: %s", a.label, i+1, redact(res.Stdout)) {
				return ex
			}
			ex.created = append(ex.created, id)
			use(id)
		}
	}
	return ex
}

// checkedBeforeChange asserts a plan deactivates or deletes a key other
// than its own (or one it created) only after a step that checks that key
// is idle: an inactive key may be the rollback key of a rotation still in
// its wait (issue 9 observation 2).
func checkedBeforeChange(t *testing.T, a action) {
	t.Helper()
	checked := map[string]bool{a.KeyID: true}
	for i, s := range a.Plan {
		if m := idleCheck.FindStringSubmatch(s.Command); m != nil {
			checked[m[1]] = true
		}
		if m := mutating.FindStringSubmatch(s.Command); m != nil && !newKeyPlaceholder.MatchString(m[2]) {
			assert.True(t, checked[m[2]], "%s step %d changes key %s, which no earlier step checked idle: %s", a.label, i+1, m[2], s.Command)
		}
	}
}

// creates: the command makes a key, keeping its ID in NEW_KEY_ID.
func creates(cmd string) bool { return strings.Contains(cmd, "create-access-key") }

// withNewKey is a command as the oracle runs it: the new key's ID in place
// of "$NEW_KEY_ID" (each step runs in its own shell, not in one as a
// person's would), and a create step printing the ID it kept.
func withNewKey(cmd, id string) string {
	if creates(cmd) {
		return cmd + ` && printf '%s\n' "$NEW_KEY_ID"`
	}
	return newKeyPlaceholder.ReplaceAllString(cmd, id)
}

func redact(s string) string {
	return secretField.ReplaceAllString(s, "${1}REDACTED${2}")
}
