// Package rules holds the rule catalogue: pure functions of the inventory,
// the configuration and a clock that turn keys into findings, with
// suppressions and rotation plans. It knows nothing of AWS.
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

// Rule is one check of the catalogue. Exactly one of Check and
// CheckSighting is set.
type Rule struct {
	ID          string // public contract, e.g. "key-rotation"
	Severity    Severity
	CIS         []string
	Threshold   string // the config key it reads, e.g. "max_key_age_days"; "" when none
	Description string // one line, for `keyaudit rules`
	// NeedsLastUse: the verdict depends on last use, which the live path
	// confirms with GetAccessKeyLastUsed before reporting.
	NeedsLastUse  bool
	Check         func(env Env, acct *inventory.Account) []Finding
	CheckSighting func(env Env, s *inventory.Sighting) []Finding
}

// Catalogue returns every rule, in the order of DESIGN.md.
func Catalogue() []Rule {
	return []Rule{
		{ID: "root-access-key", Severity: Critical, CIS: []string{"1.4"},
			Description: "the root user has an access key (active: critical, inactive: high): delete it", Check: rootAccessKey},
		{ID: "key-rotation", Severity: Medium, CIS: []string{"1.14"}, Threshold: "max_key_age_days",
			Description: "an active IAM user key is older than the limit: rotate it", Check: keyRotation},
		{ID: "key-unused", Severity: Medium, CIS: []string{"1.12"}, Threshold: "unused_days", NeedsLastUse: true,
			Description: "an active key was last used (never used: created) longer ago than the limit: remove it", Check: keyUnused},
		{ID: "key-setup-unused", Severity: Low, CIS: []string{"1.11"}, NeedsLastUse: true,
			Description: "a console user has an active key that was never used: remove it", Check: keySetupUnused},
		{ID: "key-two-active", Severity: Medium, CIS: []string{"1.13"}, Threshold: "rotation_overlap_days",
			Description: "a user has two active keys beyond a rotation's grace period: retire the older", Check: keyTwoActive},
		{ID: "key-inactive", Severity: Low, Threshold: "inactive_days",
			Description: "an inactive key has had no activity for longer than the limit: delete it", Check: keyInactive},
		{ID: "key-without-mfa", Severity: High, CIS: []string{"1.10"},
			Description: "an active key belongs to a console user without MFA: enable MFA", Check: keyWithoutMFA},
		{ID: "key-long-term", Severity: Medium,
			Description: "a long-term (AKIA) key is stored where temporary credentials belong: replace it", CheckSighting: keyLongTerm},
		{ID: "key-foreign-account", Severity: High,
			Description: "a key in use belongs to an account outside the audited set: find out why", CheckSighting: keyForeignAccount},
	}
}

// ruleByID finds a rule of the catalogue.
func ruleByID(id string) (Rule, bool) {
	for _, r := range Catalogue() {
		if r.ID == id {
			return r, true
		}
	}
	return Rule{}, false
}

// days is the whole number of days from t to now; never negative.
func days(now, t time.Time) int {
	return max(0, int(now.Sub(t)/(24*time.Hour)))
}

// newFinding starts a finding of rule id about one principal's key (k may
// be nil), filling what every finding carries.
func newFinding(env Env, id string, a *inventory.Account, u *inventory.User, k *inventory.Key) Finding {
	r, _ := ruleByID(id)
	f := Finding{Rule: id, Severity: r.Severity, AccountID: a.ID, AccountName: a.Name, Principal: u.Name, PrincipalARN: u.ARN, CIS: r.CIS}
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

// keyName names a key in messages: its ID, or its slot when the ID is unknown.
func keyName(k *inventory.Key) string {
	if k.ID != "" {
		return "access key " + k.ID
	}
	return fmt.Sprintf("access key %d (ID not in the credential report)", k.Slot)
}

func ptr[T any](v T) *T { return &v }
