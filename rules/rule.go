// Package rules holds the rule catalogue: pure functions of the inventory,
// the configuration and a clock that turn keys into findings, and the
// findings on each key into one action with one plan. It knows nothing of AWS.
package rules

import (
	"fmt"
	"time"

	"github.com/keyaudit/keyaudit/audit/inventory"
)

// Env is everything a rule may consult besides the inventory.
type Env struct {
	// Now is the run's clock (--as-of, or when collection began).
	Now    time.Time
	Config Config
	// Audited are the account IDs of the audited set or organization.
	Audited map[string]bool
}

// Rule is one check of the catalogue: Check judges audited accounts,
// CheckSighting keys found elsewhere (whois, local files); a rule may have
// both. Checks return findings without rule id, CIS ids
// or (unless they differ from the rule's) severity: Evaluate stamps those
// from the rule it ran.
type Rule struct {
	ID          string // public contract, e.g. "key-rotation"
	Severity    Severity
	CIS         CISRefs // nil when no CIS recommendation covers the rule
	Threshold   string  // the config key it reads, e.g. "max_key_age_days"; "" when none
	Description string  // one line, for `keyaudit rules`
	// NeedsLastUse: the verdict depends on last use, which the live path
	// confirms with GetAccessKeyLastUsed before reporting.
	NeedsLastUse  bool
	Check         func(env Env, acct *inventory.Account) []Finding
	CheckSighting func(env Env, s *inventory.Sighting) []Finding
}

// Catalogue returns every rule, in the order of docs/design.md.
func Catalogue() []Rule {
	return []Rule{
		{ID: "root-access-key", Severity: Critical, CIS: cis("1.4", "1.3", "2.3", "2.4"),
			Description: "the root user has an access key (active: critical, inactive: high): delete it", Check: rootAccessKey, CheckSighting: rootKeySighting},
		{ID: "key-rotation", Severity: Medium, CIS: cis("1.14", "1.13", "2.13", "2.12"), Threshold: "max_key_age_days",
			Description: "an active IAM user key is older than the limit: rotate it", Check: keyRotation},
		{ID: "key-unused", Severity: Medium, CIS: cis("1.12", "1.11", "2.11", "2.11"), Threshold: "unused_days", NeedsLastUse: true,
			Description: "an active key was last used (never used: created) the limit or more days ago: remove it", Check: keyUnused},
		{ID: "key-setup-unused", Severity: Low, CIS: cis("1.11", "1.10", "2.10", ""), NeedsLastUse: true,
			Description: "a console user's key created at user setup was never used: remove it", Check: keySetupUnused},
		{ID: "key-two-active", Severity: Medium, CIS: cis("1.13", "1.12", "2.12", ""), Threshold: "rotation_overlap_days",
			Description: "a user has two active keys beyond a rotation's grace period (0: none, as CIS): retire the older", Check: keyTwoActive},
		{ID: "key-inactive", Severity: Low, Threshold: "inactive_days",
			Description: "an inactive key has had no activity for longer than the limit: delete it", Check: keyInactive},
		{ID: "key-without-mfa", Severity: High, CIS: cis("1.10", "1.9", "2.9", "2.10"),
			Description: "an active key belongs to a console user without MFA: enable MFA", Check: keyWithoutMFA},
		{ID: "key-long-term", Severity: Medium,
			Description: "a long-term (AKIA) key is stored where temporary credentials belong: replace it", CheckSighting: keyLongTerm},
		{ID: "key-foreign-account", Severity: High,
			Description: "a key in use belongs to an account outside the audited set: find out why", CheckSighting: keyForeignAccount},
		{ID: "key-leaked", Severity: Critical,
			Description: "a key was found where it must not be (active or unknown: critical, inactive: high): deactivate it now", CheckSighting: keyLeaked},
	}
}

// days is the whole number of days from t to now; never negative.
func days(now, t time.Time) int {
	return max(0, int(now.Sub(t)/(24*time.Hour)))
}

// newFinding starts a finding about one principal's key (k may be nil),
// filling what every finding carries but what Evaluate stamps.
func newFinding(env Env, a *inventory.Account, u *inventory.User, k *inventory.Key) Finding {
	f := Finding{AccountID: a.ID, AccountName: a.Name, Principal: u.Name, PrincipalARN: u.ARN}
	if k != nil {
		f.AccessKeyID, f.KeySlot = k.ID, k.Slot
		f.Details = keyDetails(env, k)
	}
	return f
}

// keyDetails are the facts about a key that every key finding shows.
func keyDetails(env Env, k *inventory.Key) Details {
	d := Details{KeyActive: &k.Active}
	if !k.CreatedAt.IsZero() {
		age := days(env.Now, k.CreatedAt)
		d.KeyAgeDays, d.KeyCreated = &age, k.CreatedAt
	}
	if lu := k.LastUsed; lu.Known {
		d.LastUseConfirmed = lu.Confirmed
		if lu.Never {
			d.NeverUsed = true
		} else {
			since := days(env.Now, lu.At)
			d.LastUsed, d.DaysSinceUse, d.LastUsedService, d.LastUsedRegion = lu.At, &since, lu.Service, lu.Region
		}
	}
	return d
}

// keyLabel names a key briefly: its ID, or its slot when the credential
// report did not give the ID.
func keyLabel(k *inventory.Key) string {
	if k.ID != "" {
		return k.ID
	}
	return fmt.Sprintf("key %d", k.Slot)
}

func ptr[T any](v T) *T { return &v }
