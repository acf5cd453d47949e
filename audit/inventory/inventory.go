// Package inventory is keyaudit's model of access keys: accounts, users,
// keys, their last use and sightings, the key-ID rules and the
// credential-report parser. It imports no AWS SDK, so the rules and the
// report writers that read it know nothing of AWS.
package inventory

import "time"

// RootName is the principal name AWS gives the root user in the credential report.
const RootName = "<root_account>"

// Status says whether an account could be audited.
type Status string

const (
	StatusOK      Status = "ok"
	StatusError   Status = "error"
	StatusSkipped Status = "skipped"
)

// Account is everything keyaudit learned about the access keys of one AWS
// account. An account that could not be audited is still an Account, with
// Status error or skipped and the reason in Error: partial failure is data.
type Account struct {
	ID     string `json:"account_id"`
	Name   string `json:"account_name,omitempty"` // from Organizations, when known
	Status Status `json:"status"`
	Error  string `json:"error,omitempty"`

	// Source names where the data came from: "credential-report:FILE" or "live".
	Source string `json:"source,omitempty"`
	// ReportGeneratedAt is when the credential report was generated; the
	// report can lag reality by up to four hours.
	ReportGeneratedAt time.Time `json:"report_generated_at,omitzero"`

	// RootKeysPresent is GetAccountSummary's AccountAccessKeysPresent, fresher
	// than the credential report; nil when not asked (offline audits).
	RootKeysPresent *bool `json:"root_keys_present,omitempty"`

	Root  *User  `json:"root,omitempty"`
	Users []User `json:"users"`

	// Warnings are problems that did not stop the audit, such as a key
	// whose last use could not be confirmed.
	Warnings []string `json:"warnings,omitempty"`
}

// User is an IAM user, or the root user (Root true).
type User struct {
	Name      string    `json:"name"`
	ARN       string    `json:"arn"`
	Root      bool      `json:"root,omitempty"`
	CreatedAt time.Time `json:"created_at,omitzero"`

	// PasswordEnabled: the user can sign in to the console.
	PasswordEnabled bool `json:"password_enabled"`
	// PasswordLastUsed is the console password's last use; zero when never or unknown.
	PasswordLastUsed time.Time `json:"password_last_used,omitzero"`
	MFAActive        bool      `json:"mfa_active"`

	Keys []Key `json:"keys"`

	// Permissions is the user's blast radius from its IAM policies; nil
	// when not read (offline audits, or the user is newer than the read).
	Permissions *Permissions `json:"permissions,omitempty"`
}

// Key is one access key. ID is empty when only the credential report was
// read (it names key slots, not key IDs).
type Key struct {
	ID     string `json:"access_key_id,omitempty"`
	Slot   int    `json:"slot,omitempty"` // 1 or 2; 0 when unknown
	Active bool   `json:"active"`
	// StatusUnknown: whether the key is active could not be read (a root
	// key seen through a role); Active is then true, the worst case.
	StatusUnknown bool `json:"status_unknown,omitempty"`
	// CreatedAt is when the key was created (ListAccessKeys). From a
	// credential report alone it is last_rotated: the creation or the latest
	// reactivation, whichever came last.
	CreatedAt time.Time `json:"created_at,omitzero"`
	LastUsed  LastUse   `json:"last_used"`
	// Usage is who used the key, from CloudTrail; nil when not traced.
	Usage *Usage `json:"usage,omitempty"`
	// Profile is the key's budgeted usage profile for the kill-first
	// ranking; nil when the budget did not reach the key.
	Profile *Profile `json:"profile,omitempty"`
}

// Usage summarises a key's CloudTrail events over a look-back window: the
// applications that must move to a new key before the old one goes.
type Usage struct {
	Since      time.Time `json:"since"` // start of the look-back window
	Events     int       `json:"events"`
	Truncated  bool      `json:"truncated,omitempty"` // stopped at the per-key event bound
	FirstSeen  time.Time `json:"first_seen,omitzero"`
	LastSeen   time.Time `json:"last_seen,omitzero"`
	SourceIPs  []string  `json:"source_ips,omitempty"`
	UserAgents []string  `json:"user_agents,omitempty"`
	Services   []string  `json:"services,omitempty"`
	EventNames []string  `json:"event_names,omitempty"`
	Regions    []string  `json:"regions,omitempty"`
}

// LastUse is what is known about a key's last use. Unknown is not "never":
// a rule that needs the last use and finds Known false does not guess.
type LastUse struct {
	Known   bool      `json:"known"`
	Never   bool      `json:"never,omitempty"` // known never to have been used
	At      time.Time `json:"at,omitzero"`     // set when Known and not Never
	Service string    `json:"service,omitempty"`
	Region  string    `json:"region,omitempty"`
	// Confirmed: read now, from GetAccessKeyLastUsed or from a credential
	// report generated minutes ago, not from a report that may be hours old.
	Confirmed bool `json:"confirmed,omitempty"`
}

// Principals returns the root user (when present) followed by the IAM users.
func (a *Account) Principals() []*User {
	out := make([]*User, 0, len(a.Users)+1)
	if a.Root != nil {
		out = append(out, a.Root)
	}
	for i := range a.Users {
		out = append(out, &a.Users[i])
	}
	return out
}

// Sighting is an access key ID found outside IAM's own listing: in a local
// credentials file, the environment, or a list someone supplied (whois).
// Rules judge where it was found and whose it is.
type Sighting struct {
	AccessKeyID string `json:"access_key_id"`
	// Source says where it was found, e.g. `~/.aws/credentials [prod]`,
	// `environment AWS_ACCESS_KEY_ID`, `argument 2`.
	Source string `json:"source"`
	// Profile is the AWS profile that holds the key, when found in a file.
	Profile string  `json:"profile,omitempty"`
	Kind    KeyKind `json:"kind"`
	// OwnerAccount is the account the key belongs to (GetAccessKeyInfo, or
	// decoded from the ID); empty when unknown.
	OwnerAccount string `json:"owner_account,omitempty"`
	// Principal, PrincipalARN and Key are filled when the owning account
	// could be audited and the key found in it.
	OwnerName string `json:"owner_account_name,omitempty"`
	// Audited: the owning account is in the audited set or organization.
	Audited      bool   `json:"in_audited_set"`
	Principal    string `json:"principal,omitempty"`
	PrincipalARN string `json:"principal_arn,omitempty"`
	Key          *Key   `json:"key,omitempty"`
	// Issuer is the STS call that issued a temporary key, from CloudTrail.
	Issuer *Issuer `json:"issued_by,omitempty"`
	// Error says what could not be learned about this key, and why.
	Error string `json:"error,omitempty"`
	// Leaked: the person asking says the key was found where it must not
	// be (whois --leaked). The response is deactivate now, not rotate.
	Leaked bool `json:"leaked,omitempty"`
}

// KeyKind classifies an AWS unique ID by its prefix.
type KeyKind string

const (
	KindLongTerm  KeyKind = "long-term" // AKIA: an IAM user's (or root's) access key
	KindTemporary KeyKind = "temporary" // ASIA: STS temporary credentials
	KindUnknown   KeyKind = "unknown"
)

// Issuer is the STS call that issued a temporary (ASIA) key.
type Issuer struct {
	EventName string    `json:"event_name"`
	Time      time.Time `json:"time"`
	// Principal is who asked for the credentials (the caller's ARN). It is
	// empty when the event does not name it: a call from another account,
	// as logged in the role's account, records only CallerAccount and
	// CallerPrincipalID, and Note says so.
	Principal         string `json:"principal"`
	CallerAccount     string `json:"caller_account,omitempty"`
	CallerPrincipalID string `json:"caller_principal_id,omitempty"`
	Note              string `json:"note,omitempty"`
	RoleARN           string `json:"role_arn,omitempty"`
	SourceIP          string `json:"source_ip,omitempty"`
	Region            string `json:"region"`
}
