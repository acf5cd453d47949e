// Package pipeline is the audit pipeline both entrypoints share: targets →
// collect → inventory → rules → findings → report. The CLI and the Lambda
// only fill Options and deliver the report.
package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"time"

	"github.com/keyaudit/keyaudit/audit"
	"github.com/keyaudit/keyaudit/audit/inventory"
	"github.com/keyaudit/keyaudit/report"
	"github.com/keyaudit/keyaudit/rules"
)

// Options configure one run.
type Options struct {
	RunID string
	// Now is the clock the rules judge by: --as-of, or when the run started.
	Now time.Time
	// Started is when the run began (the report's generated_at).
	Started time.Time
	Config  rules.Config
	Demo    bool
	Logger  *slog.Logger
	// Audited are the accounts of the audited set or organization; keys
	// found belonging to any other account are foreign. When nil, the
	// accounts of the inventory are the set.
	Audited map[string]bool
	// Tracer, when set, traces in CloudTrail who uses each key that a
	// finding says must be replaced or removed (scan --trail).
	Tracer func(ctx context.Context, accountID string) (*audit.Tracer, error)
}

func (o *Options) env(audited map[string]bool) rules.Env {
	if o.Audited != nil {
		audited = o.Audited
	}
	return rules.Env{Now: o.Now, Config: o.Config, Audited: audited}
}

func (o *Options) logger() *slog.Logger {
	if o.Logger != nil {
		return o.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// Offline audits downloaded credential reports. A file that cannot be read
// or parsed is an input error: the caller exits 2 rather than report an
// audit of half the files as complete.
func Offline(opts Options, files []string) (*report.Report, error) {
	accounts := make([]inventory.Account, 0, len(files))
	seen := map[string]string{}
	for _, name := range files {
		acct, err := parseFile(name)
		if err != nil {
			return nil, err
		}
		if prev, ok := seen[acct.ID]; ok {
			return nil, fmt.Errorf("%s: account %s is already audited from %s: give one credential report per account", name, acct.ID, prev)
		}
		seen[acct.ID] = name
		accounts = append(accounts, *acct)
	}
	return Build(opts, accounts, nil), nil
}

func parseFile(name string) (*inventory.Account, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("open credential report: %w", err)
	}
	defer f.Close()
	return inventory.ParseCredentialReport(name, f)
}

// Build evaluates the rules over the inventory and assembles the report.
func Build(opts Options, accounts []inventory.Account, sightings []inventory.Sighting) *report.Report {
	audited := make(map[string]bool, len(accounts))
	for _, a := range accounts {
		audited[a.ID] = true
	}
	res := rules.Evaluate(opts.env(audited), accounts, sightings)

	r := &report.Report{
		SchemaVersion: report.SchemaVersion,
		RunID:         opts.RunID,
		GeneratedAt:   opts.Started.UTC(),
		AsOf:          opts.Now.UTC(),
		Demo:          opts.Demo,
		Accounts:      make([]report.Account, 0, len(accounts)),
		Findings:      res.Findings,
		Warnings:      res.Warnings,
	}
	if r.Findings == nil {
		r.Findings = []rules.Finding{}
	}
	for _, a := range accounts {
		ra := report.Account{ID: a.ID, Name: a.Name, Status: string(a.Status), Error: a.Error}
		for _, u := range a.Principals() {
			if !u.Root {
				ra.Users++
			}
			ra.Keys += len(u.Keys)
			for _, k := range u.Keys {
				if k.Active && !k.CreatedAt.IsZero() {
					r.KeyAges = append(r.KeyAges, max(0, int(opts.Now.Sub(k.CreatedAt)/(24*time.Hour))))
				}
			}
		}
		r.Accounts = append(r.Accounts, ra)
		for _, w := range a.Warnings {
			r.Warnings = append(r.Warnings, fmt.Sprintf("account %s: %s", a.ID, w))
		}
	}
	sort.SliceStable(r.Accounts, func(i, j int) bool { return r.Accounts[i].ID < r.Accounts[j].ID })
	sort.Ints(r.KeyAges)
	r.Summary = report.Summarize(r.Findings, r.Accounts)
	return r
}

// Connect returns the IAM client that acts in one account.
type Connect func(ctx context.Context, accountID string) (audit.IAM, error)

// Live audits the targets through the AWS APIs, at most s.Concurrency
// accounts at once, and reports every target as ok, error or skipped.
func Live(ctx context.Context, opts Options, s *audit.Scheduler, c *audit.Collector, targets []audit.Target, connect Connect) *report.Report {
	log := opts.logger()
	env := opts.env(nil)
	accounts := s.Run(ctx, targets, func(ctx context.Context, t audit.Target) inventory.Account {
		start := time.Now()
		client, err := connect(ctx, t.AccountID)
		if err != nil {
			log.Info("account not audited", "account", t.AccountID, "error", err)
			return audit.Failed(t, err)
		}
		acct, err := c.Collect(ctx, client, t.AccountID)
		if err != nil {
			log.Info("account not audited", "account", t.AccountID, "error", err)
			return audit.Failed(t, err)
		}
		acct.Name = t.Name
		// Confirm, with GetAccessKeyLastUsed, the keys that the (possibly
		// hours old) credential report would have us accuse of disuse.
		found := rules.Evaluate(env, []inventory.Account{*acct}, nil).Findings
		if ids := rules.KeysToConfirm(found)[acct.ID]; len(ids) > 0 {
			if err := c.Confirm(ctx, client, acct, ids); err != nil {
				acct.Warnings = append(acct.Warnings, fmt.Sprintf("last use not confirmed, judged by the credential report: %v", err))
			}
		}
		if opts.Tracer != nil {
			if err := trace(ctx, opts, acct, rules.Evaluate(env, []inventory.Account{*acct}, nil).Findings); err != nil {
				acct.Warnings = append(acct.Warnings, fmt.Sprintf("key use not traced in CloudTrail: %v", err))
			}
		}
		log.Info("account audited", "account", t.AccountID, "users", len(acct.Users), "took", time.Since(start).Round(time.Millisecond))
		return *acct
	})
	return Build(opts, accounts, nil)
}

// NewID names a run by its start time, which sorts and reads well in S3
// keys and logs.
func NewID(started time.Time) string {
	return started.UTC().Format("20060102T150405Z")
}

// trace reads CloudTrail for every key a finding would have replaced or
// removed, so its rotation plan can name the applications to move.
func trace(ctx context.Context, opts Options, acct *inventory.Account, findings []rules.Finding) error {
	tracer, err := opts.Tracer(ctx, acct.ID)
	if err != nil {
		return err
	}
	for _, u := range acct.Principals() {
		for i := range u.Keys {
			k := &u.Keys[i]
			if k.ID == "" || k.Usage != nil || !needsPlan(findings, k.ID) {
				continue
			}
			if k.Usage, err = tracer.Usage(ctx, k.ID, TrailRegions(k.LastUsed.Region), opts.Now); err != nil {
				return err
			}
		}
	}
	return nil
}

func needsPlan(findings []rules.Finding, keyID string) bool {
	for _, f := range findings {
		if f.AccessKeyID == keyID && len(f.RotationPlan) > 0 {
			return true
		}
	}
	return false
}

// TrailRegions are the regions whose event history is searched for a key:
// us-east-1, where IAM and STS events are recorded, and the region the key
// was last used in.
func TrailRegions(lastUsed string) []string {
	if lastUsed == "" || lastUsed == "us-east-1" {
		return []string{"us-east-1"}
	}
	return []string{"us-east-1", lastUsed}
}
