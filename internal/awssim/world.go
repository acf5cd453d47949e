// Package awssim is an in-process AWS endpoint for keyaudit's tests, its
// benchmark and its demo. It speaks the real wire protocols (IAM and STS
// query, Organizations and CloudTrail JSON 1.1), so the real aws-sdk-go-v2
// clients talk to it through BaseEndpoint, and it answers from a World: an
// organization of accounts, users, keys, roles and CloudTrail events, with
// faults (latency, throttling, denied actions) injected per account.
package awssim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
)

// A World is everything the simulator knows. Times are given in days before
// the server's clock (see WithClock), so a seed stays realistic on any date;
// a nil *Days is "never".
type World struct {
	Accounts []Account `json:"accounts"`
	// AWSPolicies are AWS-managed policy documents by ARN, the same in every
	// account: GetPolicy and GetPolicyVersion serve them.
	AWSPolicies map[string]string `json:"aws_policies,omitempty"`
	// Units are the organization's organizational units, parents before
	// children; SCPs are its service control policies, attached by name
	// (RootSCPs to the root). A world without SCPs has them disabled.
	Units    []Unit   `json:"units,omitempty"`
	SCPs     []SCP    `json:"scps,omitempty"`
	RootSCPs []string `json:"root_scps,omitempty"`
}

// Unit is an organizational unit.
type Unit struct {
	Name   string   `json:"name"`
	Parent string   `json:"parent,omitempty"` // a unit's name; "" is the root
	SCPs   []string `json:"scps,omitempty"`
}

// SCP is a service control policy. One named FullAWSAccess stands for the
// AWS-managed policy of that name.
type SCP struct {
	Name     string `json:"name"`
	Document string `json:"document"`
}

// Days is an age in days before the simulator's clock; fractions are allowed.
type Days = float64

// Account is one AWS account.
type Account struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email,omitempty"` // defaults to aws+NAME@example.com
	// State is the Organizations state: ACTIVE (default), SUSPENDED or PENDING_CLOSURE.
	State string `json:"state,omitempty"`
	// Management marks the organization's management account: the only
	// one that may call ListAccounts. A world without one is no organization.
	Management bool `json:"management,omitempty"`
	// Unit names the organizational unit the account is in ("" the root);
	// SCPs are the service control policies attached to the account.
	Unit           string   `json:"unit,omitempty"`
	SCPs           []string `json:"scps,omitempty"`
	CreatedDaysAgo Days     `json:"created_days_ago"`
	Root           Root     `json:"root"`
	Users          []User   `json:"users,omitempty"`
	Roles          []Role   `json:"roles,omitempty"`
	// Groups and Policies (customer-managed, by name) are what
	// GetAccountAuthorizationDetails returns with the users.
	Groups   []Group  `json:"groups,omitempty"`
	Policies []Policy `json:"policies,omitempty"`
	// Events are this account's CloudTrail management events.
	Events []Event `json:"events,omitempty"`
	// Secrets (Secrets Manager, by name or ARN) and Parameters (SSM
	// Parameter Store, by name) hold the settings a Lambda run reads.
	Secrets    map[string]string `json:"secrets,omitempty"`
	Parameters map[string]string `json:"parameters,omitempty"`
	Faults     Faults            `json:"faults,omitzero"`
}

// Root is the account's root user; it signs in with a password, always.
type Root struct {
	MFA                     bool  `json:"mfa"`
	PasswordLastUsedDaysAgo *Days `json:"password_last_used_days_ago"`
	Keys                    []Key `json:"keys,omitempty"`
}

// User is an IAM user.
type User struct {
	Name           string `json:"name"`
	Path           string `json:"path,omitempty"` // defaults to "/"
	CreatedDaysAgo Days   `json:"created_days_ago"`
	// Password: the user can sign in to the console.
	Password                bool  `json:"password,omitempty"`
	PasswordLastUsedDaysAgo *Days `json:"password_last_used_days_ago"`
	MFA                     bool  `json:"mfa,omitempty"`
	// Keys are in slot order: Keys[0] is access_key_1 in the credential report.
	Keys []Key `json:"keys,omitempty"`
	Grants
	Groups []string `json:"groups,omitempty"`
	// Boundary is the permissions boundary's ARN, if any.
	Boundary string `json:"boundary,omitempty"`
}

// Grants are the policies attached to a user or a group: managed ones by
// ARN (an account's own as arn:aws:iam::ACCOUNT:policy/NAME) and inline
// documents by name.
type Grants struct {
	Attached []string          `json:"attached,omitempty"`
	Inline   map[string]string `json:"inline,omitempty"`
}

// Group is an IAM group.
type Group struct {
	Name string `json:"name"`
	Grants
}

// Policy is a customer-managed policy; Document is its default version.
type Policy struct {
	Name     string `json:"name"`
	Document string `json:"document"`
}

// Key is a long-term access key.
type Key struct {
	// ID defaults to KeyID("AKIA", account, n), n counting the account's keys.
	ID             string `json:"id,omitempty"`
	Status         string `json:"status"` // Active or Inactive
	CreatedDaysAgo Days   `json:"created_days_ago"`
	// ReactivatedDaysAgo is when the key was last made active again after
	// being inactive; nil if never. The credential report's last_rotated
	// shows it instead of the creation date; ListAccessKeys does not.
	ReactivatedDaysAgo *Days  `json:"reactivated_days_ago,omitempty"`
	LastUsedDaysAgo    *Days  `json:"last_used_days_ago"` // nil: never used
	LastUsedService    string `json:"last_used_service,omitempty"`
	LastUsedRegion     string `json:"last_used_region,omitempty"`
}

// Role is an IAM role that STS AssumeRole can assume.
type Role struct {
	Name string `json:"name"`
	Path string `json:"path,omitempty"` // defaults to "/"
	// Trust lists who may assume the role: an account ID (any principal of
	// that account), or a principal ARN.
	Trust      []string `json:"trust"`
	ExternalID string   `json:"external_id,omitempty"` // required when set
}

// Event is a CloudTrail management event made with one of the account's keys.
type Event struct {
	ID      string `json:"id,omitempty"` // defaults to a UUID derived from the account and index
	DaysAgo Days   `json:"days_ago"`
	// User names the IAM user, or RootName for the root user; Key is the
	// slot (1 or 2) of the key used, 0 for a console session.
	User      string     `json:"user"`
	Key       int        `json:"key,omitempty"`
	Name      string     `json:"name"`             // e.g. ListBuckets
	Source    string     `json:"source"`           // e.g. s3.amazonaws.com
	Region    string     `json:"region,omitempty"` // defaults to us-east-1
	SourceIP  string     `json:"source_ip"`
	UserAgent string     `json:"user_agent"`
	Resources []Resource `json:"resources,omitempty"`
	// CallerAccount makes the event a call from another account (say an
	// AssumeRole of one of this account's roles), as CloudTrail records it
	// in this account: the caller's account and principal ID, no ARN and no
	// key. User and Key are then unused.
	CallerAccount string `json:"caller_account,omitempty"`
}

// Resource is a resource an event touched.
type Resource struct {
	Type string `json:"type"` // e.g. AWS::S3::Bucket
	Name string `json:"name"`
}

// Faults are problems the simulator injects into calls made with one
// account's credentials.
type Faults struct {
	LatencyMS int `json:"latency_ms,omitempty"`
	// ThrottleRate is the fraction of calls answered with a throttling
	// error, spread evenly and deterministically: 0.5 throttles every
	// second call, 1 every call.
	ThrottleRate float64 `json:"throttle_rate,omitempty"`
	// IAMRate limits IAM calls per second (a token bucket holding IAMBurst);
	// calls over the limit are throttled. 0 is no limit.
	IAMRate  float64 `json:"iam_rate,omitempty"`
	IAMBurst int     `json:"iam_burst,omitempty"`
	// Deny lists actions ("iam:GetCredentialReport") answered AccessDenied.
	Deny []string `json:"deny,omitempty"`
	// ReportNeverCompletes keeps the credential report in progress forever.
	ReportNeverCompletes bool `json:"report_never_completes,omitempty"`
	// ReportLimitExceeded answers the first n GenerateCredentialReport
	// calls with LimitExceeded, as IAM does while it is generating a report
	// another caller asked for.
	ReportLimitExceeded int `json:"report_limit_exceeded,omitempty"`
}

// RootName is the name the credential report gives the root user.
const RootName = "<root_account>"

// LoadWorld reads a world from a JSON file (see ParseWorld).
func LoadWorld(path string) (*World, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load world: %w", err)
	}
	w, err := ParseWorld(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return w, nil
}

// ParseWorld decodes a world from JSON, rejecting unknown fields, and
// normalizes it.
func ParseWorld(data []byte) (*World, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var w World
	if err := dec.Decode(&w); err != nil {
		return nil, fmt.Errorf("parse world: %w", err)
	}
	if err := w.Normalize(); err != nil {
		return nil, err
	}
	return &w, nil
}

// Management returns the organization's management account, or nil.
func (w *World) Management() *Account {
	for i := range w.Accounts {
		if w.Accounts[i].Management {
			return &w.Accounts[i]
		}
	}
	return nil
}

// Account returns the account with the given ID, or nil.
func (w *World) Account(id string) *Account {
	for i := range w.Accounts {
		if w.Accounts[i].ID == id {
			return &w.Accounts[i]
		}
	}
	return nil
}

// Normalize fills in defaults (emails, states, paths, key and event IDs) and
// validates the world. It is idempotent.
func (w *World) Normalize() error {
	for i := range w.Accounts {
		a := &w.Accounts[i]
		if a.Email == "" {
			a.Email = "aws+" + a.Name + "@example.com"
		}
		if a.State == "" {
			a.State = "ACTIVE"
		}
		if !validAccountID(a.ID) {
			continue // reported by validate, before KeyID could panic
		}
		n := 0
		fillKeys := func(keys []Key) {
			for k := range keys {
				n++
				if keys[k].ID == "" {
					keys[k].ID = KeyID("AKIA", a.ID, n)
				}
			}
		}
		fillKeys(a.Root.Keys)
		for u := range a.Users {
			if a.Users[u].Path == "" {
				a.Users[u].Path = "/"
			}
			fillKeys(a.Users[u].Keys)
		}
		for r := range a.Roles {
			if a.Roles[r].Path == "" {
				a.Roles[r].Path = "/"
			}
		}
		for e := range a.Events {
			if a.Events[e].ID == "" {
				a.Events[e].ID = uuid(fmt.Sprintf("event/%s/%d", a.ID, e))
			}
			if a.Events[e].Region == "" {
				a.Events[e].Region = "us-east-1"
			}
		}
	}
	return w.validate()
}

var (
	namePattern   = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)
	pathPattern   = regexp.MustCompile(`^/([\x21-\x7E]{0,510}/)?$`)
	actionPattern = regexp.MustCompile(`^(iam|sts|organizations|cloudtrail):[A-Za-z]+$`)
)

func (w *World) validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	accounts := map[string]bool{}
	keys := map[string]bool{}
	managers := 0
	for _, a := range w.Accounts {
		where := fmt.Sprintf("account %q", a.ID)
		if !validAccountID(a.ID) {
			bad("%s: ID is not 12 digits", where)
			continue
		}
		if accounts[a.ID] {
			bad("%s: duplicate ID", where)
		}
		accounts[a.ID] = true
		if a.Name == "" {
			bad("%s: name is empty", where)
		}
		if !slices.Contains([]string{"ACTIVE", "SUSPENDED", "PENDING_CLOSURE"}, a.State) {
			bad("%s: state %q is not ACTIVE, SUSPENDED or PENDING_CLOSURE", where, a.State)
		}
		if a.Management {
			managers++
		}
		checkKeys := func(who string, list []Key) {
			if len(list) > 2 {
				bad("%s: %s has %d access keys, AWS allows 2", where, who, len(list))
			}
			for _, k := range list {
				// An old-format ID (given explicitly) belongs to any account.
				owner, err := AccountFromKeyID(k.ID)
				if !strings.HasPrefix(k.ID, "AKIA") || (!errors.Is(err, ErrNotEncoded) && (err != nil || owner != a.ID)) {
					bad("%s: %s: key ID %q is not an AKIA ID of this account (use KeyID, or an old-format ID)", where, who, k.ID)
				}
				if keys[k.ID] {
					bad("%s: %s: duplicate key ID %q", where, who, k.ID)
				}
				keys[k.ID] = true
				if k.Status != "Active" && k.Status != "Inactive" {
					bad("%s: %s: key %s: status %q is not Active or Inactive", where, who, k.ID, k.Status)
				}
				if k.LastUsedDaysAgo != nil && *k.LastUsedDaysAgo > k.CreatedDaysAgo {
					bad("%s: %s: key %s: used before it was created", where, who, k.ID)
				}
				if k.ReactivatedDaysAgo != nil && *k.ReactivatedDaysAgo > k.CreatedDaysAgo {
					bad("%s: %s: key %s: reactivated before it was created", where, who, k.ID)
				}
			}
		}
		checkKeys("root", a.Root.Keys)
		users := map[string]*User{}
		for i, u := range a.Users {
			if !namePattern.MatchString(u.Name) || !pathPattern.MatchString(u.Path) {
				bad("%s: user %q with path %q: not a valid IAM user name and path", where, u.Name, u.Path)
			}
			if users[u.Name] != nil {
				bad("%s: duplicate user %q", where, u.Name)
			}
			users[u.Name] = &a.Users[i]
			checkKeys(fmt.Sprintf("user %q", u.Name), u.Keys)
			for _, g := range u.Groups {
				if !slices.ContainsFunc(a.Groups, func(x Group) bool { return x.Name == g }) {
					bad("%s: user %q: no group %q", where, u.Name, g)
				}
			}
		}
		for _, r := range a.Roles {
			if !namePattern.MatchString(r.Name) || !pathPattern.MatchString(r.Path) {
				bad("%s: role %q with path %q: not a valid IAM role name and path", where, r.Name, r.Path)
			}
		}
		for i, e := range a.Events {
			if e.Name == "" || e.Source == "" {
				bad("%s: event %d: name and source are required", where, i)
			}
			if e.CallerAccount != "" {
				if !validAccountID(e.CallerAccount) || e.CallerAccount == a.ID {
					bad("%s: event %d: caller account %q is not another account's 12-digit ID", where, i, e.CallerAccount)
				}
				continue
			}
			var slots []Key
			switch u := users[e.User]; {
			case e.User == RootName:
				slots = a.Root.Keys
			case u != nil:
				slots = u.Keys
			default:
				bad("%s: event %d: no user %q", where, i, e.User)
				continue
			}
			if e.Key < 0 || e.Key > len(slots) {
				bad("%s: event %d: user %q has no key %d", where, i, e.User, e.Key)
			}
		}
		f := a.Faults
		if f.ThrottleRate < 0 || f.ThrottleRate > 1 || f.IAMRate < 0 || f.IAMBurst < 0 || f.LatencyMS < 0 || f.ReportLimitExceeded < 0 {
			bad("%s: faults: rates, burst and latency must not be negative, throttle_rate at most 1", where)
		}
		for _, action := range f.Deny {
			if !actionPattern.MatchString(action) {
				bad("%s: faults: deny %q is not service:Action", where, action)
			}
		}
	}
	if managers > 1 {
		bad("%d management accounts, an organization has one", managers)
	}
	w.validateOrg(bad)
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("invalid world: %w", err)
	}
	return nil
}

// validateOrg checks that units and SCPs named exist, and that a unit's
// parent comes before it (so the tree has no cycle).
func (w *World) validateOrg(bad func(string, ...any)) {
	scps := map[string]bool{}
	for _, p := range w.SCPs {
		if scps[p.Name] || !namePattern.MatchString(p.Name) {
			bad("SCP %q: duplicate or not a valid policy name", p.Name)
		}
		scps[p.Name] = true
	}
	attached := func(where string, names []string) {
		for _, n := range names {
			if !scps[n] {
				bad("%s: no SCP %q", where, n)
			}
		}
	}
	attached("root", w.RootSCPs)
	units := map[string]bool{}
	for _, u := range w.Units {
		if units[u.Name] || !namePattern.MatchString(u.Name) {
			bad("unit %q: duplicate or not a valid name", u.Name)
		}
		if u.Parent != "" && !units[u.Parent] {
			bad("unit %q: parent %q is not a unit listed before it", u.Name, u.Parent)
		}
		units[u.Name] = true
		attached(fmt.Sprintf("unit %q", u.Name), u.SCPs)
	}
	for _, a := range w.Accounts {
		if a.Unit != "" && !units[a.Unit] {
			bad("account %q: no unit %q", a.ID, a.Unit)
		}
		attached(fmt.Sprintf("account %q", a.ID), a.SCPs)
	}
}
