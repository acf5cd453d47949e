package rules

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// Severity orders findings; the JSON form is the lower-case name.
type Severity string

const (
	Low      Severity = "low"
	Medium   Severity = "medium"
	High     Severity = "high"
	Critical Severity = "critical"
)

// Severities lists every severity, most severe first.
var Severities = []Severity{Critical, High, Medium, Low}

// Rank is larger for more severe findings; 0 for an unknown severity.
func (s Severity) Rank() int {
	switch s {
	case Critical:
		return 4
	case High:
		return 3
	case Medium:
		return 2
	case Low:
		return 1
	}
	return 0
}

// ParseSeverity reads a severity name as given on the command line or in a config file.
func ParseSeverity(s string) (Severity, error) {
	sev := Severity(strings.ToLower(strings.TrimSpace(s)))
	if sev.Rank() == 0 {
		return "", fmt.Errorf("unknown severity %q: use critical, high, medium or low", s)
	}
	return sev, nil
}

// Finding is one problem with one principal's access key. Its JSON form is
// part of the report contract (schema_version in report/). What to do about
// a key is its Action, which covers every finding on the key.
type Finding struct {
	Rule           string    `json:"rule"`
	Severity       Severity  `json:"severity"`
	AccountID      string    `json:"account_id"`
	AccountName    string    `json:"account_name,omitempty"`
	Principal      string    `json:"principal"`
	PrincipalARN   string    `json:"principal_arn"`
	AccessKeyID    string    `json:"access_key_id,omitempty"`
	KeySlot        int       `json:"key_slot,omitempty"`
	Fingerprint    string    `json:"fingerprint"`
	Message        string    `json:"message"`
	Recommendation string    `json:"recommendation"`
	CIS            CISRefs   `json:"cis"`
	Details        Details   `json:"details"`
	Suppressed     *Suppress `json:"suppressed,omitempty"`
	// FirstSeen is when a run of this series first reported the finding,
	// carried from the previous run's report (report.CarryOver); zero when
	// there was none to compare with.
	FirstSeen time.Time `json:"first_seen,omitzero"`
}

// Details holds the rule-specific facts behind a finding. Fields that do not
// apply are omitted.
type Details struct {
	KeyAgeDays       *int      `json:"key_age_days,omitempty"`
	KeyCreated       time.Time `json:"key_created,omitzero"`
	KeyActive        *bool     `json:"key_active,omitempty"`
	LastUsed         time.Time `json:"last_used,omitzero"`
	NeverUsed        bool      `json:"never_used,omitempty"`
	DaysSinceUse     *int      `json:"days_since_use,omitempty"`
	LastUsedService  string    `json:"last_used_service,omitempty"`
	LastUsedRegion   string    `json:"last_used_region,omitempty"`
	LastUseConfirmed bool      `json:"last_use_confirmed,omitempty"`
	ThresholdDays    *int      `json:"threshold_days,omitempty"`
	// Source says where a key was found when not in IAM itself (key-long-term:
	// a credentials file and profile, the environment, a supplied list).
	Source string `json:"source,omitempty"`
	// OwnerAccount is the account a key belongs to (key-foreign-account).
	OwnerAccount string `json:"owner_account,omitempty"`
}

// Step is one step of a plan: what to do and, where there is one, the
// exact command with the account, user and key filled in. A step without a
// command is for a person (wait, move an application, sign in as root).
type Step struct {
	Action  string `json:"action"`
	Command string `json:"command,omitempty"`
}

// Suppress records why a finding was accepted: it stays in the report,
// marked, so an auditor can see it.
type Suppress struct {
	Reason  string    `json:"reason"`
	Expires time.Time `json:"expires,omitzero"`
}

// Fingerprint identifies a finding across runs: the same rule on the same
// key (or key slot, when the key ID is unknown) of the same principal.
func Fingerprint(rule, accountID, principal, keyID string, slot int) string {
	key := keyID
	if key == "" {
		key = fmt.Sprintf("slot%d", slot)
	}
	sum := sha256.Sum256([]byte(strings.Join([]string{rule, accountID, principal, key}, "\x00")))
	return hex.EncodeToString(sum[:8])
}
