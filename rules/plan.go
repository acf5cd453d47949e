package rules

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/keyaudit/keyaudit/audit/inventory"
)

// confirmDays is how long an old key must stay idle before it is
// deactivated, and deactivated before it is deleted: long enough for a
// weekly job to show itself.
const confirmDays = 7

// planner computes plans; groups are every key's findings, so a plan can
// see what the plan of the user's other key does.
type planner struct {
	env    Env
	groups map[keyIdent]*group
}

// plan returns the one-line summary and the steps for a key. Every plan that
// runs commands in an account starts with a guard that fails unless the
// credentials in use belong to that account.
func (p planner) plan(g *group) (string, []Step) {
	sub := g.subject
	switch g.outcome {
	case outRoot:
		return p.rootPlan(sub, g.fired["key-leaked"])
	case outLeaked:
		return p.leakPlan(sub)
	case outLongTerm:
		return p.longTermPlan(sub)
	case outForeign:
		return fmt.Sprintf("Find out why a key of account %s, outside the audited accounts, is here.", sub.acct.ID), foreignPlan(sub)
	case outNone:
		return "Review the findings: no plan applies.", nil
	}
	u, k := sub.user, sub.key
	steps := []Step{guardStep(sub.acct)}
	if o := otherKey(u, k); k.ID == "" && o != nil && g.outcome != outMFA && g.outcome != outKeep && sameSecond(o, k) {
		return "Run a live scan for this user: its two keys cannot be told apart without their IDs.", append(steps, twinsStep(u))
	}
	if k.ID == "" {
		steps = append(steps, findKeyStep(u, k))
	}
	var summary string
	switch g.outcome {
	case outDelete:
		summary = "Delete the inactive key: it is past any rollback wait."
		steps = append(steps, p.deleteInactiveSteps(u, k, false)...)
	case outRetire:
		var replacement *inventory.Key
		// Only a key in use hands its applications over; the replacement
		// must not be a key another plan removes.
		if older, newer := activePair(u); older == k && inUse(p.env, k) && !p.removes(sub.acct, u, newer) {
			replacement = newer
		}
		if replacement != nil {
			summary = fmt.Sprintf("Retire this key: move its applications to the user's other active key, %s, then deactivate and delete it.", keyLabel(replacement))
		} else {
			summary = "Retire the key: nothing uses it. Deactivate and delete it; no new key is needed."
		}
		steps = append(steps, p.retireSteps(sub, replacement)...)
	case outRotate:
		summary = "Rotate the key: create a new one, move every application to it, then deactivate and delete this one."
		steps = append(steps, p.rotateSteps(sub)...)
	case outMFA:
		summary = "Enable MFA for the console user, or remove its console password if it is a program."
	case outKeep:
		_, newer := activePair(u)
		summary = fmt.Sprintf("Keep this key: it is the one in use. The plan for %s retires the user's other, unused key, which leaves one active key.", theKey(newer))
	}
	if g.fired["key-without-mfa"] {
		steps = append(steps, mfaStep(u))
		if g.outcome != outMFA {
			summary += " Enable MFA for the user."
		}
	}
	return summary, steps
}

// removes: another open plan deactivates or deletes key k, so it cannot
// take over anything (both keys of a user can be unused).
func (p planner) removes(a *inventory.Account, u *inventory.User, k *inventory.Key) bool {
	g := p.groups[keyIdent{a.ID, u.Name, k.ID, k.Slot}]
	return g != nil && g.open && g.frees()
}

// guardStep fails unless the credentials in use belong to the account: a
// user of the same name in another account must not be touched.
func guardStep(a *inventory.Account) Step {
	return Step{
		Action:  fmt.Sprintf("Check that you are working in account %s: this fails unless the credentials in use belong to it.", accountName(a)),
		Command: fmt.Sprintf(`test "$(aws sts get-caller-identity --query Account --output text)" = %s`, a.ID),
	}
}

func accountName(a *inventory.Account) string {
	if a.Name == "" {
		return a.ID
	}
	return fmt.Sprintf("%s (%s)", a.ID, a.Name)
}

// rotateSteps replace an active key in the safe order: make sure a slot
// is free, create the new key, move every application, confirm the new key
// used and the old one idle, deactivate, wait, delete.
func (p planner) rotateSteps(sub subject) []Step {
	u, k := sub.user, sub.key
	var steps []Step
	if other := otherKey(u, k); other != nil {
		if p.removes(sub.acct, u, other) {
			steps = append(steps, Step{
				Action:  fmt.Sprintf("IAM allows two keys per user: first follow the plan for %s; it removes that key and frees the slot. This check fails while the user still has two keys.", theKey(other)),
				Command: fmt.Sprintf(`test "$(aws iam list-access-keys --user-name %s --query 'length(AccessKeyMetadata)' --output text)" -lt 2`, shellQuote(u.Name)),
			})
		} else if !other.Active {
			steps = append(steps, p.deleteInactiveSteps(u, other, true)...)
		}
	}
	steps = append(steps, createStep(u))
	steps = append(steps, p.moveSteps(sub, "the new key")...)
	steps = append(steps, confirmUsedStep(NewKeyID, "the new key"))
	return append(steps, p.deactivateSteps(u, k)...)
}

// createStep makes the new key. IAM shows a secret only once, so the
// command keeps it in a shell variable rather than on the screen, and the
// step says where it goes; the steps after it name the key "$NEW_KEY_ID"
// and run in the same shell.
func createStep(u *inventory.User) Step {
	return Step{
		Action: "Create the new key. IAM shows its secret only this once: the command keeps it in the shell variable NEW_SECRET_ACCESS_KEY, not on the screen. " +
			"Store it now where the applications read their credentials (your secrets manager, for example aws secretsmanager put-secret-value --secret-id followed by your secret's name and --secret-string \"$NEW_SECRET_ACCESS_KEY\"), never in code or a ticket, then unset NEW_SECRET_ACCESS_KEY. " +
			"Run the steps below in the same shell: they name the new key \"$NEW_KEY_ID\".",
		Command: "read -r NEW_KEY_ID NEW_SECRET_ACCESS_KEY < <(aws iam create-access-key --user-name " + shellQuote(u.Name) +
			" --query 'AccessKey.[AccessKeyId,SecretAccessKey]' --output text)",
	}
}

// retireSteps remove an active key. With a replacement (the user's newer
// active key) its applications move there first, and the replacement is
// confirmed in use before the old key goes.
func (p planner) retireSteps(sub subject, replacement *inventory.Key) []Step {
	u, k := sub.user, sub.key
	var steps []Step
	if replacement != nil {
		steps = append(steps, p.moveSteps(sub, keyLabel(replacement))...)
		steps = append(steps, confirmUsedStep(keyRef(u, replacement, "Active"), keyLabel(replacement)))
	} else {
		steps = append(steps, p.checkUnusedSteps(sub)...)
	}
	return append(steps, p.deactivateSteps(u, k)...)
}

// deactivateSteps: confirm the old key idle, deactivate it, wait, delete it.
func (p planner) deactivateSteps(u *inventory.User, k *inventory.Key) []Step {
	user := shellQuote(u.Name)
	active, inactive := keyRef(u, k, "Active"), keyRef(u, k, "Inactive")
	return []Step{
		{Action: fmt.Sprintf("Confirm the old key is idle: its LastUsedDate must not change for %d days after the last application moved.", confirmDays),
			Command: "aws iam get-access-key-last-used --access-key-id " + active},
		{Action: "Deactivate the old key (reversible: set it Active again with the same command if something breaks).",
			Command: fmt.Sprintf("aws iam update-access-key --user-name %s --access-key-id %s --status Inactive", user, active)},
		{Action: fmt.Sprintf("Wait %d days and watch for failures before deleting it: until then it is the rollback key.", confirmDays)},
		{Action: "Delete the old key.", Command: fmt.Sprintf("aws iam delete-access-key --user-name %s --access-key-id %s", user, inactive)},
	}
}

// deleteInactiveSteps delete an inactive key once it is checked idle and
// past its rollback wait (inactive_days after its last activity). slot:
// the deletion frees a slot for another key's rotation.
func (p planner) deleteInactiveSteps(u *inventory.User, k *inventory.Key, slot bool) []Step {
	why := "Delete the inactive key."
	if slot {
		why = fmt.Sprintf("Free a key slot: IAM allows two keys per user, and %s is inactive. Delete it.", theKey(k))
	}
	limit := p.env.Config.Thresholds.InactiveDays
	var steps []Step
	if idle, ok := idleDays(p.env, k); !ok || idle <= limit {
		until := "until it has had no activity for " + fmt.Sprint(limit) + " days"
		if ok {
			until = "until " + p.env.Now.AddDate(0, 0, limit-idle+1).UTC().Format("2006-01-02")
		}
		steps = append(steps, Step{Action: fmt.Sprintf("Wait %s: until then %s is a rollback key still in its wait.", until, theKey(k))})
	}
	// The check comes after any wait, right before the delete: a rollback
	// key switched back on during the wait must stop the delete.
	return append(steps,
		Step{Action: fmt.Sprintf("Check that inactive %s is idle: an inactive key may be the previous rotation's rollback key. It must still be Inactive, and its LastUsedDate more than %d days ago.", theKey(k), limit),
			Command: "aws iam get-access-key-last-used --access-key-id " + keyRef(u, k, "Inactive")},
		Step{Action: why, Command: fmt.Sprintf("aws iam delete-access-key --user-name %s --access-key-id %s", shellQuote(u.Name), keyRef(u, k, "Inactive"))})
}

// moveSteps name the applications to move, from CloudTrail when traced,
// or give the CloudTrail commands that find them.
func (p planner) moveSteps(sub subject, to string) []Step {
	k := sub.key
	u := k.Usage
	if u == nil {
		return append([]Step{{Action: fmt.Sprintf("Move every application that uses the old key to %s. Find them in CloudTrail (keyaudit scan --trail, keyaudit whois KEYID, or the commands below).", to)}},
			p.trailSteps(sub, time.Time{})...)
	}
	if u.Events == 0 {
		return []Step{{Action: fmt.Sprintf("Move every application to %s. CloudTrail shows no use of the old key since %s.", to, u.Since.Format("2006-01-02"))}}
	}
	return []Step{{Action: fmt.Sprintf("Move every application to %s. %s", to, usageSummary(u))}}
}

// checkUnusedSteps: before an unused key goes, look once more for users.
func (p planner) checkUnusedSteps(sub subject) []Step {
	if u := sub.key.Usage; u != nil {
		if u.Events == 0 {
			return []Step{{Action: fmt.Sprintf("CloudTrail shows no use of the key since %s.", u.Since.Format("2006-01-02"))}}
		}
		return []Step{{Action: "Move what still uses the key to temporary credentials (an IAM role) first. " + usageSummary(u)}}
	}
	return append([]Step{{Action: "Check in CloudTrail that nothing still uses the key (the commands below list its recent events)."}}, p.trailSteps(sub, time.Time{})...)
}

func usageSummary(u *inventory.Usage) string {
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
	return fmt.Sprintf("CloudTrail saw the old key in %d events%s from %s to %s: %s.",
		u.Events, more, u.FirstSeen.Format("2006-01-02"), u.LastSeen.Format("2006-01-02"), strings.Join(seen, "; "))
}

// confirmUsedStep checks that the key that takes over is in use before the
// old one is deactivated.
func confirmUsedStep(ref, label string) Step {
	return Step{
		Action:  fmt.Sprintf("Confirm %s is in use: its LastUsedDate must be after the applications moved. Do not go on until it is.", label),
		Command: "aws iam get-access-key-last-used --access-key-id " + ref,
	}
}

// trailSteps list a key's CloudTrail events in each region that may hold
// them: the partition's home region, where IAM and STS record, and the
// region the key was last used in. start zero: no start time.
func (p planner) trailSteps(sub subject, start time.Time) []Step {
	k := sub.key
	var attr string
	switch {
	case sub.user != nil && sub.user.Root:
		attr = "AttributeKey=Username,AttributeValue=root"
	case k.ID != "":
		attr = "AttributeKey=AccessKeyId,AttributeValue=" + k.ID
	default:
		attr = "AttributeKey=AccessKeyId,AttributeValue=" + keyRef(sub.user, k, statusOf(k))
	}
	from := ""
	if !start.IsZero() {
		from = " --start-time " + start.UTC().Format(time.RFC3339)
	}
	var steps []Step
	for _, region := range trailRegions(sub.user.ARN, k.LastUsed.Region) {
		steps = append(steps, Step{
			Action:  fmt.Sprintf("List the key's CloudTrail events in %s.", region),
			Command: fmt.Sprintf("aws cloudtrail lookup-events --region %s%s --lookup-attributes %s", region, from, attr),
		})
	}
	return steps
}

// trailRegions are the partition's home region (from the principal ARN)
// and the region the key was last used in, if another of that partition.
func trailRegions(arn, lastUsed string) []string {
	return inventory.TrailRegions(inventory.ARNPartition(arn), lastUsed)
}

// mfaStep: the console user needs MFA, or, if a program, no password.
func mfaStep(u *inventory.User) Step {
	user := shellQuote(u.Name)
	return Step{
		Action: fmt.Sprintf("Enable MFA for %s: IAM console, Users, %s, Security credentials, Assign MFA device. If %s is a program, not a person, remove its console password instead (aws iam delete-login-profile --user-name %s). This lists its MFA devices: none yet.",
			u.Name, u.Name, u.Name, user),
		Command: "aws iam list-mfa-devices --user-name " + user,
	}
}

// rootPlan deletes a root key; it never rotates one: nothing should act
// as root from code (CIS). The root user is no IAM user, so no command
// names a user: IAM acts on the caller's own keys. A member account of an
// organization with centralized root access needs no root sign-in: the
// management account opens a root session scoped to deleting root
// credentials. A leaked key is deleted at once, without the wait.
func (p planner) rootPlan(sub subject, leaked bool) (string, []Step) {
	k := sub.key
	if k == nil {
		k = &inventory.Key{}
	}
	a := sub.acct
	home := inventory.HomeRegion(inventory.ARNPartition(sub.user.ARN))
	partition := inventory.ARNPartition(sub.user.ARN)
	which := "the access key"
	if k.Slot > 0 {
		which = fmt.Sprintf("access key %d", k.Slot)
	}
	var steps []Step
	if !leaked {
		steps = append(steps, Step{Action: "Find what uses the root key in CloudTrail, and move it to an IAM role."})
		steps = append(steps, p.trailSteps(subject{acct: a, user: sub.user, key: k}, time.Time{})...)
	}
	ref := keyRef(sub.user, k, "Active")
	steps = append(steps,
		Step{Action: fmt.Sprintf("If %s is a member account of an organization with centralized root access, delete the key from the management account (or IAM's delegated administrator) without the root password: this opens a root session in %s that may only delete root credentials, and keeps its credentials in this shell. Otherwise skip to the sign-in steps below.", accountName(a), a.ID),
			Command: fmt.Sprintf("read -r AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN < <(aws sts assume-root --region %s --target-principal %s --task-policy-arn arn=arn:%s:iam::aws:policy/root-task/IAMDeleteRootUserCredentials --query 'Credentials.[AccessKeyId,SecretAccessKey,SessionToken]' --output text) && export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN", home, a.ID, partition)},
		Step{Action: fmt.Sprintf("Check that this shell now acts as the root user of %s: this fails otherwise.", a.ID),
			Command: fmt.Sprintf(`test "$(aws sts get-caller-identity --query Arn --output text)" = arn:%s:iam::%s:root`, partition, a.ID)},
	)
	if !leaked {
		steps = append(steps, Step{Action: "Confirm the root key is idle: its LastUsedDate must be before whatever used it moved to a role.",
			Command: "aws iam get-access-key-last-used --access-key-id " + ref})
	}
	steps = append(steps,
		Step{Action: "Delete the root key (IAM acts on the caller's own keys: the root user is no IAM user, so no --user-name). This cannot be undone; never create a root key again.",
			Command: "aws iam delete-access-key --access-key-id " + ref},
		Step{Action: fmt.Sprintf("Without centralized root access (or in the management account itself): sign in to account %s as the root user, open Security credentials, and deactivate %s.", accountName(a), which)},
	)
	if leaked {
		steps = append(steps, Step{Action: "Then, as root, delete it at once: a leaked key must not wait. Investigate its use in CloudTrail (every enabled region, or the organization trail) from its creation."})
		return "Delete the leaked root access key now; never create a root key.", steps
	}
	steps = append(steps, Step{Action: fmt.Sprintf("Wait %d days and watch for failures; then, as root again, delete the key. Never create a root key.", confirmDays)})
	return "Delete the root user's access key: nothing should act as root from code; never create one.", steps
}

// leakPlan: anyone may hold a leaked key, so it is deactivated at once
// (reversible), not after a migration; then investigated in every region
// from its first event; then deleted, and its work moved to a role or a
// new key once the quarantine policy is off the user.
func (p planner) leakPlan(sub subject) (string, []Step) {
	s, k := sub.sighting, sub.key
	first := p.env.Now.AddDate(0, 0, -90) // CloudTrail event history keeps 90 days
	if !k.CreatedAt.IsZero() && k.CreatedAt.After(first) {
		first = k.CreatedAt
	}
	if k.Usage != nil && !k.Usage.FirstSeen.IsZero() && k.Usage.FirstSeen.Before(first) {
		first = k.Usage.FirstSeen
	}
	partition := inventory.ARNPartition(sub.user.ARN)
	investigate := []Step{
		{Action: fmt.Sprintf("Investigate: a leaked key is used from anywhere, in any region, and CloudTrail event history answers one region per call. This lists every event made with the key since %s in every region enabled for the account, region by region (history keeps 90 days; older events, and a one-place search, are in your organization trail's S3 logs or CloudTrail Lake). Look for new users, keys, roles and policies, and for data read.", first.UTC().Format("2006-01-02")),
			Command: fmt.Sprintf(`for region in $(aws ec2 describe-regions --region %s --query 'Regions[].RegionName' --output text); do echo "== $region"; aws cloudtrail lookup-events --region "$region" --start-time %s --lookup-attributes AttributeKey=AccessKeyId,AttributeValue=%s --query 'Events[].[EventTime,EventName,EventSource]' --output text; done`,
				inventory.HomeRegion(partition), first.UTC().Format(time.RFC3339), k.ID)},
	}
	if s != nil && s.Kind == inventory.KindTemporary {
		steps := []Step{{Action: "Temporary credentials cannot be deactivated: revoke the active sessions of the role that issued them (IAM console: Roles, the role, Revoke active sessions), and rotate the long-term credential that assumed it."}}
		return "Revoke the sessions of the role behind the leaked temporary key, then investigate.", append(steps, investigate...)
	}
	known := sub.acct.ID != "" && sub.user.Name != "unknown"
	var steps []Step
	if sub.acct.ID != "" {
		steps = append(steps, guardStep(sub.acct))
	}
	user := shellQuote(sub.user.Name)
	quarantine := fmt.Sprintf("arn:%s:iam::aws:policy/AWSCompromisedKeyQuarantineV3", partition)
	if !known {
		steps = append(steps,
			Step{Action: "Find the user that owns the key: this prints its user name.",
				Command: fmt.Sprintf(`for u in $(aws iam list-users --query 'Users[].UserName' --output text); do aws iam list-access-keys --user-name "$u" --query "AccessKeyMetadata[?AccessKeyId=='%s'].UserName" --output text; done`, k.ID)},
			Step{Action: fmt.Sprintf("Deactivate the key now, naming that user: aws iam update-access-key --user-name followed by the user's name, --access-key-id %s --status Inactive. It is reversible, but a leaked key must not be switched on again. Then attach AWS's quarantine policy %s to the user until the investigation is done.", k.ID, quarantine)})
		steps = append(steps, investigate...)
		steps = append(steps, Step{Action: "Then delete the leaked key; detach the quarantine policy before anything of that user works again (it denies a new key of the same user too), and give whatever used the key a role or a new key."})
		return "Deactivate the leaked key now, investigate its use in every region, then replace it.", steps
	}
	steps = append(steps,
		Step{Action: "Deactivate the key now. It is reversible, but a leaked key must not be switched on again.",
			Command: fmt.Sprintf("aws iam update-access-key --user-name %s --access-key-id %s --status Inactive", user, k.ID)},
		Step{Action: "Keep AWS's quarantine policy on the user while you investigate: it denies what attackers do first with a key (new keys, users, instances, functions, object reads). AWS attaches it to a user whose key it finds exposed; attaching it again changes nothing.",
			Command: fmt.Sprintf("aws iam attach-user-policy --user-name %s --policy-arn %s", user, quarantine)})
	steps = append(steps, investigate...)
	steps = append(steps,
		Step{Action: "Delete the leaked key once the investigation no longer needs it switched off rather than gone.",
			Command: fmt.Sprintf("aws iam delete-access-key --user-name %s --access-key-id %s", user, k.ID)},
		Step{Action: "Detach the quarantine policy before anything moves to a new key of this user: the policy is on the user, so it denies a new key of the same user too (creating keys, launching instances, reading objects), and the applications would fail. Better: move them to a role and leave the user without keys.",
			Command: fmt.Sprintf("aws iam detach-user-policy --user-name %s --policy-arn %s", user, quarantine)},
		createStep(sub.user),
		Step{Action: "Move every application that used the leaked key to the new key (or, better, to a role)."},
		confirmUsedStep(NewKeyID, "the new key"))
	return "Deactivate the leaked key now, investigate its use in every region, then replace it.", steps
}

// longTermPlan: move the use to short-term credentials, then retire the key.
func (p planner) longTermPlan(sub subject) (string, []Step) {
	s := sub.sighting
	where := "every file and variable that holds it"
	if s != nil && stored(s) {
		where = s.Source
	}
	known := sub.acct.ID != "" && sub.user.Name != "unknown" && sub.key.ID != ""
	var steps []Step
	if known {
		steps = append(steps, guardStep(sub.acct))
	}
	steps = append(steps,
		Step{Action: "Set up short-term credentials for this use: IAM Identity Center (aws configure sso, AWS CLI v2), a role assumed with MFA, or aws-vault."},
		Step{Action: fmt.Sprintf("Remove the key from %s.", where)})
	if known {
		steps = append(steps, p.checkUnusedSteps(sub)...)
		steps = append(steps, p.deactivateSteps(sub.user, sub.key)...)
	}
	return "Replace the stored long-term key with short-term credentials, then delete it.", steps
}

func foreignPlan(sub subject) []Step {
	return []Step{
		{Action: "Confirm which account owns the key (this works with credentials of any account).", Command: "aws sts get-access-key-info --access-key-id " + sub.key.ID},
		{Action: fmt.Sprintf("Find out whose account %s is and why its key is here. If it is a vendor's, give the vendor a role with an external ID; otherwise remove the key and ask the account's owner to delete it.", sub.acct.ID)},
	}
}

// theKey names a key in a sentence: "key AKIA…", or "key 1" by its slot.
func theKey(k *inventory.Key) string {
	if k.ID != "" {
		return "key " + k.ID
	}
	return keyLabel(k)
}

// otherKey is the user's other key, if any.
func otherKey(u *inventory.User, k *inventory.Key) *inventory.Key {
	for i := range u.Keys {
		if o := &u.Keys[i]; o != k {
			return o
		}
	}
	return nil
}

func statusOf(k *inventory.Key) string {
	if k.Active {
		return "Active"
	}
	return "Inactive"
}

// findKeyStep prints the ID of a key the credential report named only by
// slot: never guess a slot; select by status and creation date.
func findKeyStep(u *inventory.User, k *inventory.Key) Step {
	return Step{
		Action: fmt.Sprintf("Find the ID of %s (the credential report names slots, not IDs). The command selects the key by status and creation date and must print exactly one ID; the commands below select it the same way and fail if it does not.",
			keyLabel(k)),
		Command: listKeyCommand(u, k, statusOf(k)),
	}
}

// keyRef is a key ID for a command. When the ID is unknown it is a command
// substitution that selects the key by status (as it will be at that step)
// and creation date: it prints nothing, or two IDs, and the command fails,
// rather than act on the wrong key.
func keyRef(u *inventory.User, k *inventory.Key, status string) string {
	if k.ID != "" {
		return k.ID
	}
	return `"$(` + listKeyCommand(u, k, status) + `)"`
}

// listKeyCommand selects a key by status and creation date. The report's
// last_rotated is the creation (or latest activation) time, so the key was
// created before it; the user's older key was created before its own.
// Bounds have no zone and second precision, so they compare as strings
// with any ISO 8601 form IAM prints.
func listKeyCommand(u *inventory.User, k *inventory.Key, status string) string {
	conds := []string{fmt.Sprintf("Status=='%s'", status)}
	if !k.CreatedAt.IsZero() {
		conds = append(conds, fmt.Sprintf("CreateDate<'%s'", bound(k.CreatedAt)))
	}
	if o := otherKey(u, k); o != nil && !o.CreatedAt.IsZero() && o.CreatedAt.Before(k.CreatedAt) {
		conds = append(conds, fmt.Sprintf("CreateDate>='%s'", bound(o.CreatedAt)))
	}
	who := " --user-name " + shellQuote(u.Name)
	if u.Root {
		who = "" // the caller's own keys: the root user is no IAM user
	}
	return fmt.Sprintf(`aws iam list-access-keys%s --query "AccessKeyMetadata[?%s].AccessKeyId" --output text`, who, strings.Join(conds, " && "))
}

// sameSecond: the credential report gives the two keys the same creation
// second, so no selection by status and date can keep them apart through
// a plan that changes their status.
func sameSecond(a, b *inventory.Key) bool {
	return a.CreatedAt.Truncate(time.Second).Equal(b.CreatedAt.Truncate(time.Second))
}

// twinsStep is the way forward when keys cannot be selected: a live scan
// reads the key IDs, and its plans name them.
func twinsStep(u *inventory.User) Step {
	return Step{
		Action:  fmt.Sprintf("The credential report shows both keys of %s created in the same second, so no command can tell them apart by status and creation date. Run a live scan (keyaudit scan with credentials for the account), whose plans name key IDs, and follow its plan for %s. This lists the two keys.", u.Name, u.Name),
		Command: "aws iam list-access-keys --user-name " + shellQuote(u.Name),
	}
}

// bound is the second after t, without a zone.
func bound(t time.Time) string {
	return t.UTC().Truncate(time.Second).Add(time.Second).Format("2006-01-02T15:04:05")
}

var shellSafe = regexp.MustCompile(`^[A-Za-z0-9_+=,.@/-]+$`)

// shellQuote makes a user name safe to paste into a shell.
func shellQuote(s string) string {
	if shellSafe.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
