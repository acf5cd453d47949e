package audit

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/keyaudit/keyaudit/audit/inventory"
)

// ErrDenied marks an account keyaudit was not allowed into.
var ErrDenied = errors.New("access denied")

var (
	roleNamePattern    = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)
	rolePathPattern    = regexp.MustCompile(`^/([\x21-\x7E]{0,510}/)?$`)
	sessionNamePattern = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)
	externalIDPattern  = regexp.MustCompile(`^[\w+=,.@:/-]+$`)
)

// Sessions hands out credentials per account: the caller's own for its own
// account, an assumed role everywhere else, each cached for the run and
// refreshed before it expires.
type Sessions struct {
	base          aws.Config
	callerAccount string
	role          RoleSpec

	mu    sync.Mutex
	cache map[string]aws.Config
}

// RoleSpec says which role to assume in each audited account.
type RoleSpec struct {
	Name        string // default KeyAuditRole
	Path        string // default "/"
	ExternalID  string
	SessionName string
	// InCaller assumes the role in the caller's own account too, instead
	// of using the caller's credentials there.
	InCaller bool
}

// Validate checks the role settings before any call is made.
func (r RoleSpec) Validate() error {
	if !roleNamePattern.MatchString(r.Name) {
		return fmt.Errorf("role name %q is not a valid IAM role name (1-64 of letters, digits and +=,.@_-)", r.Name)
	}
	if !rolePathPattern.MatchString(r.Path) {
		return fmt.Errorf("role path %q is not a valid IAM path (it starts and ends with /)", r.Path)
	}
	if !sessionNamePattern.MatchString(r.SessionName) {
		return fmt.Errorf("session name %q is not valid: 2-64 of letters, digits and +=,.@_-", r.SessionName)
	}
	if r.ExternalID != "" && (len(r.ExternalID) < 2 || len(r.ExternalID) > 1224 || !externalIDPattern.MatchString(r.ExternalID)) {
		return fmt.Errorf("external ID is not valid: 2-1224 of letters, digits and +=,.@:/-")
	}
	return nil
}

// NewSessions returns credentials per account, based on the caller's config.
func NewSessions(base aws.Config, callerAccount string, role RoleSpec) *Sessions {
	return &Sessions{base: base, callerAccount: callerAccount, role: role, cache: map[string]aws.Config{}}
}

// RoleARN is the role assumed in accountID.
func (s *Sessions) RoleARN(accountID string) string {
	return fmt.Sprintf("arn:%s:iam::%s:role%s%s", inventory.Partition(s.base.Region), accountID, s.role.Path, s.role.Name)
}

// Config returns an aws.Config whose credentials act in accountID. It
// assumes the role at once, so that a missing or untrusting role is an
// error for this account now rather than on its first IAM call.
// Its clients share a throttle gate per service and region
// (WithThrottleGate).
func (s *Sessions) Config(ctx context.Context, accountID string) (aws.Config, error) {
	s.mu.Lock()
	cfg, ok := s.cache[accountID]
	s.mu.Unlock()
	if ok {
		return cfg, nil
	}
	if accountID == s.callerAccount && !s.role.InCaller {
		return s.keep(accountID, WithThrottleGate(s.base)), nil
	}
	arn := s.RoleARN(accountID)
	provider := stscreds.NewAssumeRoleProvider(sts.NewFromConfig(s.base), arn, func(o *stscreds.AssumeRoleOptions) {
		o.RoleSessionName = s.role.SessionName
		if s.role.ExternalID != "" {
			o.ExternalID = aws.String(s.role.ExternalID)
		}
		// One hour is the most AWS allows when the caller is itself an
		// assumed role (role chaining); the cache refreshes before expiry.
		o.Duration = time.Hour
	})
	cfg = WithThrottleGate(s.base)
	cfg.Credentials = aws.NewCredentialsCache(provider, func(o *aws.CredentialsCacheOptions) {
		o.ExpiryWindow = 5 * time.Minute
	})
	if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
		var ae smithy.APIError
		if errors.As(err, &ae) && ae.ErrorCode() == "AccessDenied" {
			return aws.Config{}, fmt.Errorf("cannot assume role %s (%s): deploy the member role to account %s (template.yaml's StackSet), and make it trust the auditing principal: %w",
				arn, ae.ErrorMessage(), accountID, ErrDenied)
		}
		return aws.Config{}, fmt.Errorf("assume role %s: %w", arn, Explain(err))
	}
	return s.keep(accountID, cfg), nil
}

// keep caches cfg for accountID, unless a call for the same account stored
// one first: then that one, with its throttle gate, is kept and returned.
func (s *Sessions) keep(accountID string, cfg aws.Config) aws.Config {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cached, ok := s.cache[accountID]; ok {
		return cached
	}
	s.cache[accountID] = cfg
	return cfg
}
