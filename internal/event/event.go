// Package event reads the EventBridge events the real-time path acts on:
// CloudTrail records of IAM calls that change a principal's keys, console
// access, MFA or permissions, and the AWS Health event of a key AWS found
// exposed (docs/event.md). It knows no SDK: it turns one event into what
// keyaudit judges, and says why when it will not.
package event

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/keyaudit/keyaudit/audit/inventory"
)

// Event is one EventBridge event about a principal's keys, as keyaudit judges it.
type Event struct {
	// ID is CloudTrail's eventID; for AWS Health, the event's id and the
	// exposed key: the idempotency key of the real-time path.
	ID   string `json:"id"`
	Kind Kind   `json:"kind"`
	// Name is the API call (CreateAccessKey, ...) or AWS_RISK_CREDENTIALS_EXPOSED.
	Name    string    `json:"name"`
	Time    time.Time `json:"time"`
	Account string    `json:"account_id"` // the account whose principal changed
	Region  string    `json:"region"`
	User    string    `json:"user,omitempty"` // the IAM user; empty when Root or not named (Health)
	Root    bool      `json:"root,omitempty"`
	// KeyID is the key created, re-activated or exposed, when the event
	// names one; always an access key ID (inventory.ClassifyKeyID).
	KeyID    string `json:"access_key_id,omitempty"`
	Actor    string `json:"actor,omitempty"` // userIdentity.arn, else its principalId; empty for Health
	SourceIP string `json:"source_ip,omitempty"`
}

// Kind is what changed.
type Kind string

const (
	KeyCreated          Kind = "key-created"
	KeyActivated        Kind = "key-activated"
	LoginProfileCreated Kind = "login-profile-created"
	MFARemoved          Kind = "mfa-removed"
	PermissionsChanged  Kind = "permissions-changed"
	RootKeyCreated      Kind = "root-key-created"
	KeyExposed          Kind = "key-exposed"
)

// ErrIgnored wraps the reason a well-formed event is not acted on (a key
// set Inactive, a call that failed): acknowledge it, post nothing.
var ErrIgnored = errors.New("event not acted on")

// MaxSize is the largest event Parse reads: EventBridge delivers at most 256 KB.
const MaxSize = 256 << 10

// The sources and detail types read, as EventBridge names them.
const (
	sourceIAM        = "aws.iam"
	sourceHealth     = "aws.health"
	detailCloudTrail = "AWS API Call via CloudTrail"
	detailHealth     = "AWS Health Event"
	// HealthExposed is the AWS Health event type of a key AWS found
	// exposed in public (a repository, a paste).
	HealthExposed = "AWS_RISK_CREDENTIALS_EXPOSED"
)

// calls are the IAM calls acted on, and what each changes.
var calls = map[string]Kind{
	"CreateAccessKey":        KeyCreated,
	"UpdateAccessKey":        KeyActivated,
	"CreateLoginProfile":     LoginProfileCreated,
	"DeactivateMFADevice":    MFARemoved,
	"DeleteVirtualMFADevice": MFARemoved,
	"AttachUserPolicy":       PermissionsChanged,
	"PutUserPolicy":          PermissionsChanged,
	"AddUserToGroup":         PermissionsChanged,
}

// Calls lists the IAM calls acted on, for help and documentation.
const Calls = "CreateAccessKey, UpdateAccessKey (to Active), CreateLoginProfile, DeactivateMFADevice, DeleteVirtualMFADevice, AttachUserPolicy, PutUserPolicy, AddUserToGroup"

// envelope is EventBridge's part of every event.
type envelope struct {
	Version    string          `json:"version"`
	ID         string          `json:"id"`
	DetailType string          `json:"detail-type"`
	Source     string          `json:"source"`
	Account    string          `json:"account"`
	Time       string          `json:"time"`
	Region     string          `json:"region"`
	Detail     json.RawMessage `json:"detail"`
}

// record is the part of a CloudTrail record read. Times are strings, so
// that a bad one is reported without its value.
type record struct {
	EventSource  string `json:"eventSource"`
	EventName    string `json:"eventName"`
	EventTime    string `json:"eventTime"`
	EventID      string `json:"eventID"`
	AWSRegion    string `json:"awsRegion"`
	SourceIP     string `json:"sourceIPAddress"`
	Recipient    string `json:"recipientAccountId"`
	ErrorCode    string `json:"errorCode"`
	UserIdentity struct {
		Type        string `json:"type"`
		PrincipalID string `json:"principalId"`
		ARN         string `json:"arn"`
		UserName    string `json:"userName"`
	} `json:"userIdentity"`
	Request  *request `json:"requestParameters"`
	Response *struct {
		AccessKey *accessKey `json:"accessKey"`
	} `json:"responseElements"`
}

// request holds the request parameters read: never a password or a
// policy document, which CloudTrail may record.
type request struct {
	UserName    string `json:"userName"`
	AccessKeyID string `json:"accessKeyId"`
	Status      string `json:"status"`
}

// accessKey is CreateAccessKey's answer as CloudTrail records it (without
// the secret, which it never records).
type accessKey struct {
	AccessKeyID string `json:"accessKeyId"`
	UserName    string `json:"userName"`
}

// health is the part of an AWS Health event read.
type health struct {
	EventTypeCode string `json:"eventTypeCode"`
	Entities      []struct {
		Value string `json:"entityValue"`
	} `json:"affectedEntities"`
}

// Parse reads one EventBridge event about one principal. An AWS Health
// event naming several keys is several events: use ParseAll.
func Parse(data []byte) (Event, error) {
	evs, err := ParseAll(data)
	if err != nil {
		return Event{}, err
	}
	if len(evs) != 1 {
		return Event{}, fmt.Errorf("the event names %d exposed keys: judge each (ParseAll)", len(evs))
	}
	return evs[0], nil
}

// ParseAll reads one EventBridge event: a CloudTrail record is one Event,
// an AWS Health exposure one Event per key it names. Its errors name the
// field that is wrong and never quote a value that is not a key ID: an
// event may carry a secret where an ID was expected. A well-formed event
// that is not acted on is ErrIgnored, wrapped with the reason.
func ParseAll(data []byte) ([]Event, error) {
	if len(data) > MaxSize {
		return nil, fmt.Errorf("event is %d bytes, more than the %d KiB EventBridge delivers: not one event", len(data), MaxSize>>10)
	}
	var env envelope
	if err := decode(data, &env, "event"); err != nil {
		return nil, err
	}
	if len(env.Detail) == 0 || string(env.Detail) == "null" {
		return nil, errors.New("event has no detail: not an EventBridge event (want version, id, detail-type, source, account, time, region, detail)")
	}
	switch {
	case env.Source == sourceIAM && env.DetailType == detailCloudTrail:
		ev, err := cloudTrail(env)
		if err != nil {
			return nil, err
		}
		return []Event{ev}, nil
	case env.Source == sourceHealth && env.DetailType == detailHealth:
		return healthEvents(env)
	}
	return nil, fmt.Errorf("event is not one keyaudit reads: want source %q with detail-type %q, or %q with %q", sourceIAM, detailCloudTrail, sourceHealth, detailHealth)
}

// decode unmarshals JSON, wording errors without the values they met.
func decode(data []byte, v any, what string) error {
	err := json.Unmarshal(data, v)
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &syntax):
		return fmt.Errorf("%s is not JSON: syntax error at byte %d", what, syntax.Offset)
	case errors.As(err, &typ):
		return fmt.Errorf("%s: field %s is a JSON %s, want %s", what, typ.Field, typ.Value, typ.Type)
	}
	return fmt.Errorf("%s is not JSON", what)
}

// cloudTrail reads a CloudTrail record of an IAM call.
func cloudTrail(env envelope) (Event, error) {
	var r record
	if err := decode(env.Detail, &r, "detail"); err != nil {
		return Event{}, err
	}
	if r.EventSource != "iam.amazonaws.com" {
		return Event{}, errors.New("detail.eventSource is not iam.amazonaws.com: not an IAM call")
	}
	kind, ok := calls[r.EventName]
	if !ok {
		return Event{}, fmt.Errorf("%w: detail.eventName is not a call keyaudit acts on (%s)", ErrIgnored, Calls)
	}
	ev := Event{ID: r.EventID, Kind: kind, Name: r.EventName, Account: r.Recipient, Region: r.AWSRegion, SourceIP: r.SourceIP,
		Actor: r.UserIdentity.ARN}
	if ev.Actor == "" {
		ev.Actor = r.UserIdentity.PrincipalID
	}
	if !validID.MatchString(ev.ID) {
		return Event{}, errors.New("detail.eventID is missing or not an event ID (letters, digits and dashes)")
	}
	if ev.Account == "" {
		ev.Account = env.Account
	}
	if !inventory.ValidAccountID(ev.Account) {
		return Event{}, errors.New("detail.recipientAccountId is missing or not a 12-digit account ID")
	}
	if ev.Region == "" {
		ev.Region = env.Region
	}
	var err error
	if ev.Time, err = parseTime(r.EventTime, "detail.eventTime"); err != nil {
		return Event{}, err
	}
	if r.ErrorCode != "" {
		return Event{}, fmt.Errorf("%w: %s failed (detail.errorCode is set): nothing changed", ErrIgnored, ev.Name)
	}
	if err := principal(&ev, &r); err != nil {
		return Event{}, err
	}
	return ev, nil
}

// principal names whose keys, access or permissions the call changed, and
// the key it names. A call with no userName acts on the caller itself:
// root's own key when the caller is root (CloudTrail's userIdentity.type
// Root), the IAM user's own otherwise.
func principal(ev *Event, r *record) error {
	var req request
	if r.Request != nil {
		req = *r.Request
	}
	user, key := req.UserName, req.AccessKeyID
	switch ev.Name {
	case "CreateAccessKey":
		var ak *accessKey
		if r.Response != nil {
			ak = r.Response.AccessKey
		}
		if ak == nil {
			return errors.New("detail.responseElements.accessKey is missing: a CreateAccessKey record that succeeded names the key it created")
		}
		key = ak.AccessKeyID
		if user == "" {
			user = ak.UserName
		}
	case "UpdateAccessKey":
		switch req.Status {
		case "Active":
		case "Inactive":
			return fmt.Errorf("%w: UpdateAccessKey set the key Inactive: nothing to act on", ErrIgnored)
		default:
			return errors.New("detail.requestParameters.status is neither Active nor Inactive")
		}
	}
	switch {
	case user != "":
	case r.UserIdentity.Type == "Root":
		ev.Root = true
	case r.UserIdentity.Type == "IAMUser":
		user = r.UserIdentity.UserName
	}
	if !ev.Root && !validUser.MatchString(user) {
		if user == "" && ev.Name == "DeleteVirtualMFADevice" {
			// The call names only the device; the DeactivateMFADevice
			// before it names the user.
			return fmt.Errorf("%w: DeleteVirtualMFADevice by another principal names no user: the DeactivateMFADevice event before it does", ErrIgnored)
		}
		return fmt.Errorf("detail.requestParameters.userName is missing or not an IAM user name, and the caller is not the user itself")
	}
	ev.User = user
	if ev.Root && ev.Kind == KeyCreated {
		ev.Kind = RootKeyCreated
	}
	if key == "" && ev.Kind != KeyCreated && ev.Kind != RootKeyCreated && ev.Kind != KeyActivated {
		return nil
	}
	if kind, err := inventory.ClassifyKeyID(key); err != nil || kind != inventory.KindLongTerm {
		return fmt.Errorf("the key %s names is not an access key ID (AKIA…)", ev.Name)
	}
	ev.KeyID = key
	return nil
}

// healthEvents reads an AWS Health exposure: one event per key it names.
func healthEvents(env envelope) ([]Event, error) {
	var h health
	if err := decode(env.Detail, &h, "detail"); err != nil {
		return nil, err
	}
	if h.EventTypeCode != HealthExposed {
		return nil, fmt.Errorf("%w: an AWS Health event other than %s", ErrIgnored, HealthExposed)
	}
	if !validID.MatchString(env.ID) {
		return nil, errors.New("id is missing or not an event ID (letters, digits and dashes)")
	}
	if !inventory.ValidAccountID(env.Account) {
		return nil, errors.New("account is missing or not a 12-digit account ID")
	}
	at, err := parseTime(env.Time, "time")
	if err != nil {
		return nil, err
	}
	if len(h.Entities) == 0 {
		return nil, errors.New("detail.affectedEntities is empty: the event names no exposed key")
	}
	out := make([]Event, 0, len(h.Entities))
	seen := map[string]bool{}
	for i, e := range h.Entities {
		if kind, err := inventory.ClassifyKeyID(e.Value); err != nil || kind != inventory.KindLongTerm {
			return nil, fmt.Errorf("detail.affectedEntities[%d].entityValue is not an access key ID (AKIA…)", i)
		}
		if seen[e.Value] {
			continue
		}
		seen[e.Value] = true
		out = append(out, Event{ID: env.ID + "-" + e.Value, Kind: KeyExposed, Name: HealthExposed, Time: at,
			Account: env.Account, Region: env.Region, KeyID: e.Value})
	}
	return out, nil
}

func parseTime(v, field string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s is missing or not an RFC 3339 time", field)
	}
	return t.UTC(), nil
}

var (
	// validID: CloudTrail's event IDs and EventBridge's are UUIDs; the ID
	// becomes part of an S3 key, so nothing else is taken.
	validID = regexp.MustCompile(`^[A-Za-z0-9-]{1,128}$`)
	// validUser: IAM user names (IAM User Guide, "IAM object quotas").
	validUser = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)
)

// String describes the event for people: what changed, whose, by whom.
func (e Event) String() string {
	who := "user " + e.User
	switch {
	case e.Root:
		who = "the root user"
	case e.User == "":
		who = "key " + inventory.MaskKeyID(e.KeyID)
	}
	s := fmt.Sprintf("%s: %s of %s in account %s at %s", e.Kind, e.Name, who, e.Account, e.Time.Format(time.RFC3339))
	if e.Actor != "" {
		s += " by " + e.Actor
	}
	if e.SourceIP != "" {
		s += " from " + e.SourceIP
	}
	return strings.TrimSpace(s)
}
