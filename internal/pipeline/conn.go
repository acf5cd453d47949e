package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/keyaudit/keyaudit/audit"
	"github.com/keyaudit/keyaudit/report"
)

// ErrNoTargets: the exclusions left no account to audit.
var ErrNoTargets = errors.New("no accounts left to audit after the exclusions")

// Selection says which accounts a live run covers and how it reaches them.
type Selection struct {
	// Org discovers every active account of the organization. Otherwise
	// Accounts are audited, or, when there are none, the caller's own.
	Org      bool
	Accounts []audit.Target
	Exclude  []string
	Role     audit.RoleSpec
}

// Conn is a live run's view of AWS: whose credentials, which accounts, and
// credentials in each.
type Conn struct {
	// Caller is the account of the credentials the run acts with.
	Caller string
	// Partition is the caller's partition (aws, aws-cn, aws-us-gov).
	Partition string
	Targets   []audit.Target

	cfg      aws.Config
	sessions *audit.Sessions

	mu      sync.Mutex
	tracers map[string]*audit.Tracer
}

// Dial asks STS whose the credentials in cfg are, resolves the selection
// to targets, and prepares a session per account. Its errors are the
// caller's configuration or credentials: nothing was audited yet.
func Dial(ctx context.Context, cfg aws.Config, sel Selection) (*Conn, error) {
	who, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return nil, fmt.Errorf("find out who the credentials belong to (sts:GetCallerIdentity): %w", audit.Explain(err))
	}
	c := &Conn{Caller: aws.ToString(who.Account), Partition: "aws", cfg: cfg, tracers: map[string]*audit.Tracer{}}
	if a, err := arn.Parse(aws.ToString(who.Arn)); err == nil {
		c.Partition = a.Partition
	}
	switch {
	case sel.Org:
		if c.Targets, err = audit.DiscoverOrg(ctx, organizations.NewFromConfig(cfg)); err != nil {
			return nil, err
		}
	case len(sel.Accounts) > 0:
		c.Targets = sel.Accounts
	default:
		c.Targets = []audit.Target{{AccountID: c.Caller}}
	}
	if c.Targets = audit.Exclude(c.Targets, sel.Exclude); len(c.Targets) == 0 {
		return nil, ErrNoTargets
	}
	c.sessions = audit.NewSessions(cfg, c.Caller, sel.Role)
	return c, nil
}

// IAM returns the IAM client that acts in one account; it is a Connect.
func (c *Conn) IAM(ctx context.Context, accountID string) (audit.IAM, error) {
	cfg, err := c.sessions.Config(ctx, accountID)
	if err != nil {
		return nil, err
	}
	return iam.NewFromConfig(cfg), nil
}

// SecurityHub is the Security Hub sink of the caller's account in region,
// or in the run's region when region is empty.
func (c *Conn) SecurityHub(region string) *report.SecurityHub {
	cfg := c.cfg.Copy()
	if region != "" {
		cfg.Region = region
	}
	return &report.SecurityHub{Client: securityhub.NewFromConfig(cfg), Partition: c.Partition, Region: cfg.Region, Account: c.Caller}
}

// Tracers returns a TracerFunc reading days of CloudTrail event history.
// It hands out one tracer per account, so the per-region rate limit holds
// across every key traced in that account.
func (c *Conn) Tracers(days int) TracerFunc {
	return func(ctx context.Context, accountID string) (*audit.Tracer, error) {
		c.mu.Lock()
		t, ok := c.tracers[accountID]
		c.mu.Unlock()
		if ok {
			return t, nil
		}
		cfg, err := c.sessions.Config(ctx, accountID)
		if err != nil {
			return nil, err
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if t, ok := c.tracers[accountID]; ok {
			return t, nil
		}
		t = audit.NewTracer(cfg, days)
		c.tracers[accountID] = t
		return t, nil
	}
}

// Audited is the set of target accounts, for telling foreign keys apart.
func (c *Conn) Audited() map[string]bool {
	m := make(map[string]bool, len(c.Targets))
	for _, t := range c.Targets {
		m[t.AccountID] = true
	}
	return m
}

// Hints names, for one entrypoint, the settings a person would change when
// an account's error calls for it: the flags of the CLI, the environment
// variables of the Lambda. audit's own errors name no setting.
type Hints struct {
	ExternalID  string // e.g. "--external-id"
	Concurrency string // e.g. "--concurrency"
}

// Hint adds to err the setting to try, where one helps.
func (h Hints) Hint(err error) error {
	switch {
	case errors.Is(err, audit.ErrDenied) && h.ExternalID != "":
		return fmt.Errorf("%w (if the role requires an external ID, set %s)", err, h.ExternalID)
	case throttled(err) && h.Concurrency != "":
		return fmt.Errorf("%w (lower %s, or run again later)", err, h.Concurrency)
	}
	return err
}

// throttled reports whether AWS still refused err for its request rate
// after the retries.
func throttled(err error) bool {
	return retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err) == aws.TrueTernary
}
