package pipeline

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"slices"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/keyaudit/keyaudit/audit"
	"github.com/keyaudit/keyaudit/internal/deliver"
)

// ErrNoTargets: the exclusions left no account to audit.
var ErrNoTargets = errors.New("no accounts left to audit after the exclusions")

// ErrEmptyOrg: the organization listed no active account, exclusions or
// not. The management account is always one, so the listing is not the
// organization the caller thinks it is.
var ErrEmptyOrg = errors.New("the organization listed no active account: check that the credentials are of its management account or a delegated administrator")

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

	cfg      aws.Config
	sessions *audit.Sessions
	scps     *audit.SCPs // read with the caller's credentials, as the organization is listed

	mu      sync.Mutex
	tracers map[string]*audit.Tracer

	// listed are the targets listed so far, exclusions applied; org lists
	// the rest of an organization, nil when there is no more to list.
	listed  []audit.Target
	org     *audit.OrgListing
	exclude []string
	// active counts the accounts listed before the exclusions.
	active int
}

// Dial asks STS whose the credentials in cfg are, resolves the selection
// to targets, and prepares a session per account. An organization is
// listed here only up to its first account left after the exclusions; the
// rest is listed as it is audited (Targets). Dial's errors are the
// caller's configuration or credentials: nothing was audited yet.
func Dial(ctx context.Context, cfg aws.Config, sel Selection) (*Conn, error) {
	who, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return nil, fmt.Errorf("find out who the credentials belong to (sts:GetCallerIdentity): %w", audit.Explain(err))
	}
	c := &Conn{Caller: aws.ToString(who.Account), Partition: "aws", cfg: cfg, tracers: map[string]*audit.Tracer{}, exclude: sel.Exclude}
	if a, err := arn.Parse(aws.ToString(who.Arn)); err == nil {
		c.Partition = a.Partition
	}
	if !slices.Contains(Partitions, c.Partition) {
		return nil, fmt.Errorf("the credentials belong to partition %q, which keyaudit does not support (%s)", c.Partition, strings.Join(Partitions, ", "))
	}
	switch {
	case sel.Org:
		c.org = audit.ListOrg(organizations.NewFromConfig(cfg))
		for len(c.listed) == 0 && c.org != nil {
			if _, err := c.next(ctx); err != nil {
				return nil, fmt.Errorf("%w (run as the management account or a delegated administrator)", err)
			}
		}
	case len(sel.Accounts) > 0:
		c.listed = audit.Exclude(sel.Accounts, sel.Exclude)
	default:
		c.listed = audit.Exclude([]audit.Target{{AccountID: c.Caller}}, sel.Exclude)
	}
	switch {
	case sel.Org && c.active == 0:
		return nil, ErrEmptyOrg
	case len(c.listed) == 0:
		return nil, ErrNoTargets
	}
	c.sessions = audit.NewSessions(cfg, c.Caller, sel.Role)
	c.scps = audit.NewSCPs(organizations.NewFromConfig(cfg))
	return c, nil
}

// next lists the organization's next page, exclusions applied.
func (c *Conn) next(ctx context.Context) ([]audit.Target, error) {
	page, err := c.org.Next(ctx)
	if err != nil {
		return nil, err
	}
	if !c.org.More() {
		c.org = nil
	}
	c.active += len(page)
	page = audit.Exclude(page, c.exclude)
	c.listed = append(c.listed, page...)
	return page, nil
}

// Targets yields the accounts to audit a page at a time: those listed so
// far, then the organization's further pages as they are listed; a
// listing error ends it. It is a Lister. Iterate it from one goroutine at
// a time; another iteration starts again from the first account.
func (c *Conn) Targets(ctx context.Context) iter.Seq2[[]audit.Target, error] {
	return func(yield func([]audit.Target, error) bool) {
		if !yield(c.listed[:len(c.listed):len(c.listed)], nil) {
			return
		}
		for c.org != nil {
			page, err := c.next(ctx)
			if err != nil {
				yield(nil, err)
				return
			}
			if !yield(page, nil) {
				return
			}
		}
	}
}

// List lists every account to audit.
func (c *Conn) List(ctx context.Context) ([]audit.Target, error) {
	for _, err := range c.Targets(ctx) {
		if err != nil {
			return nil, err
		}
	}
	return c.listed, nil
}

// IAM returns the IAM client that acts in one account; it is a Connect.
// The client is also the account's audit.SCPReader, so that its blast
// radius is judged within the organization's service control policies.
func (c *Conn) IAM(ctx context.Context, accountID string) (audit.IAM, error) {
	cfg, err := c.sessions.Config(ctx, accountID)
	if err != nil {
		return nil, err
	}
	return AccountClient{iam.NewFromConfig(cfg), c.scps}, nil
}

// AccountClient is an account's IAM client and the run's reader of
// service control policies.
type AccountClient struct {
	*iam.Client
	*audit.SCPs
}

// SecurityHub is the Security Hub sink of the caller's account in region,
// or in the run's region when region is empty.
func (c *Conn) SecurityHub(region string) *deliver.SecurityHub {
	cfg := c.cfg.Copy()
	if region != "" {
		cfg.Region = region
	}
	return &deliver.SecurityHub{Client: securityhub.NewFromConfig(cfg), Partition: c.Partition, Region: cfg.Region, Account: c.Caller}
}

// Deps are what a run of s depends on through c: IAM in each account,
// and CloudTrail for the kill-first ranking and, when s.Trail, for the
// plans; log is the run's logger.
func (c *Conn) Deps(s *Settings, log *slog.Logger) Deps {
	d := Deps{Logger: log, Connect: c.IAM, RiskTracer: c.Tracers(s.TrailDays)}
	if s.Trail {
		d.Tracer = d.RiskTracer
	}
	return d
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

// Unaudited says what err, the failure of a run that audited nothing,
// means: retry when the run may succeed as it is, later (AWS could not be
// reached or throttled it, or the run was stopped), else the person's
// configuration or credentials are wrong; hinted is err with what to try.
func (n Names) Unaudited(ctx context.Context, err error) (retry bool, hinted error) {
	switch class := audit.Classify(err); {
	case ctx.Err() != nil, class == audit.ClassNetwork:
		return true, err
	case class == audit.ClassThrottled:
		return true, fmt.Errorf("%w; run again later", err)
	case class == audit.ClassCredentials && n.Profile != "":
		return false, fmt.Errorf("%w; check %s, run aws sso login, or use aws-vault exec", err, n.Profile)
	case class == audit.ClassPermission:
		return false, fmt.Errorf("%w; use credentials allowed to make this call (see the README's permissions)", err)
	}
	return false, err
}

// throttled reports whether AWS still refused err for its request rate
// after the retries.
func throttled(err error) bool {
	return retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err) == aws.TrueTernary
}
