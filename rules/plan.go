package rules

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/keyaudit/keyaudit/audit/inventory"
)

// confirmDays is how long an old key must stay idle before it is
// deactivated, and deactivated before it is deleted: long enough for a
// weekly job to show itself.
const confirmDays = 7

// rotationPlan replaces a key in the safe order: free a slot, create the
// new key, move every application, confirm the old key idle, deactivate,
// wait, delete.
func rotationPlan(u *inventory.User, k *inventory.Key) []Step {
	user := shellQuote(u.Name)
	var steps []Step
	if k.ID == "" {
		steps = append(steps, keyIDStep(u, k))
	}
	for i := range u.Keys {
		if other := &u.Keys[i]; other != k && !other.Active {
			steps = append(steps, Step{
				Action:  fmt.Sprintf("Free a key slot: IAM allows two keys per user, and %s is inactive. Delete it.", keyLabel(other)),
				Command: fmt.Sprintf("aws iam delete-access-key --user-name %s --access-key-id %s", user, keyArg(other)),
			})
		}
	}
	steps = append(steps,
		Step{Action: "Create the new key and store its secret in your secrets manager, never in code.", Command: "aws iam create-access-key --user-name " + user},
		moveStep(k),
	)
	return append(steps, retireSteps(u, k)...)
}

// removalPlan retires a key nothing should need: confirm it idle,
// deactivate, wait, delete.
func removalPlan(u *inventory.User, k *inventory.Key) []Step {
	var steps []Step
	if k.ID == "" {
		steps = append(steps, keyIDStep(u, k))
	}
	if k.Usage != nil && k.Usage.Events > 0 {
		steps = append(steps, moveStep(k))
	}
	return append(steps, retireSteps(u, k)...)
}

func retireSteps(u *inventory.User, k *inventory.Key) []Step {
	user, key := shellQuote(u.Name), keyArg(k)
	return []Step{
		{
			Action:  fmt.Sprintf("Confirm the old key is idle: LastUsedDate must not change for %d days after the last application moved.", confirmDays),
			Command: "aws iam get-access-key-last-used --access-key-id " + key,
		},
		{Action: "Deactivate the old key (reversible: set it Active again if something breaks).", Command: fmt.Sprintf("aws iam update-access-key --user-name %s --access-key-id %s --status Inactive", user, key)},
		{Action: fmt.Sprintf("Wait %d days and watch for failures; then delete the old key.", confirmDays), Command: fmt.Sprintf("aws iam delete-access-key --user-name %s --access-key-id %s", user, key)},
	}
}

// moveStep names the applications to move, from CloudTrail when traced.
func moveStep(k *inventory.Key) Step {
	u := k.Usage
	if u == nil {
		return Step{
			Action:  "Move every application that uses the old key to the new one. Find them in CloudTrail (keyaudit scan --trail, or keyaudit whois KEYID):",
			Command: "aws cloudtrail lookup-events --lookup-attributes AttributeKey=AccessKeyId,AttributeValue=" + keyArg(k),
		}
	}
	if u.Events == 0 {
		return Step{Action: fmt.Sprintf("Move every application to the new key. CloudTrail shows no use of the old key since %s.", u.Since.Format("2006-01-02"))}
	}
	var seen []string
	for _, part := range []struct {
		label  string
		values []string
	}{{"source IPs", u.SourceIPs}, {"user agents", u.UserAgents}, {"services", u.Services}, {"regions", u.Regions}} {
		if len(part.values) > 0 {
			seen = append(seen, part.label+" "+strings.Join(part.values, ", "))
		}
	}
	more := ""
	if u.Truncated {
		more = " (more events than were read)"
	}
	return Step{Action: fmt.Sprintf("Move every application to the new key. CloudTrail saw the old key in %d events%s from %s to %s: %s.",
		u.Events, more, u.FirstSeen.Format("2006-01-02"), u.LastSeen.Format("2006-01-02"), strings.Join(seen, "; "))}
}

// rootPlan: root keys cannot be managed by another principal; the plan
// finds their users, then deletes the key as root.
func rootPlan(accountID string) []Step {
	return []Step{
		{Action: "Find what uses the root key in CloudTrail, and move it to an IAM role.", Command: "aws cloudtrail lookup-events --lookup-attributes AttributeKey=Username,AttributeValue=root"},
		{Action: fmt.Sprintf("Sign in to account %s as the root user, open Security credentials, deactivate the access key, wait %d days, then delete it.", accountID, confirmDays)},
	}
}

// keyIDStep finds a key ID the credential report did not give.
func keyIDStep(u *inventory.User, k *inventory.Key) Step {
	return Step{
		Action:  fmt.Sprintf("Find the ID of key %d (the credential report names slots, not IDs): the older key is slot 1. Use it for %s below.", k.Slot, keyArg(k)),
		Command: "aws iam list-access-keys --user-name " + shellQuote(u.Name),
	}
}

// keyArg is a key ID for a command, or a marked placeholder.
func keyArg(k *inventory.Key) string {
	if k.ID != "" {
		return k.ID
	}
	return fmt.Sprintf("<KEY-%d-ID>", k.Slot)
}

var shellSafe = regexp.MustCompile(`^[A-Za-z0-9_+=,.@/-]+$`)

// shellQuote makes a user name safe to paste into a shell.
func shellQuote(s string) string {
	if shellSafe.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
