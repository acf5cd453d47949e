package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/keyaudit/keyaudit/audit"
	"github.com/keyaudit/keyaudit/internal/pipeline"
	"github.com/keyaudit/keyaudit/report"
)

const scanSynopsis = `Usage: keyaudit scan [flags]

Audits access keys and prints findings with rotation plans.

  keyaudit scan                                   the account of your current credentials
  keyaudit scan --profile prod --region eu-west-1 a named profile (SSO, role_arn + mfa_serial, ...)
  keyaudit scan --org                             every active account of the organization
  keyaudit scan --accounts 111111111111,222222222222
  keyaudit scan --credential-report report.csv    offline, from downloaded credential reports
  keyaudit scan --demo                            a simulated organization, no AWS needed`

// common are the flags of every audit command: the clock, the rules'
// configuration, where the report goes, and logging.
type common struct {
	output
	asOf       string
	configFile string
	quiet      bool
	logFormat  string
	verbose    bool
}

func (c *common) register(fs *flag.FlagSet) {
	c.output.register(fs)
	fs.StringVar(&c.asOf, "as-of", "", "judge as of this RFC 3339 time instead of now")
	fs.StringVar(&c.configFile, "config", "", "YAML file with thresholds and suppressions")
	fs.BoolVar(&c.quiet, "quiet", false, "no progress bar and only errors on standard error")
	fs.StringVar(&c.logFormat, "log-format", "text", "log format on standard error: text or json")
	fs.BoolVar(&c.verbose, "verbose", false, "log each account as it is audited")
}

// options validates the common flags and returns the run's options.
func (c *common) options(stderr io.Writer) (pipeline.Options, error) {
	if err := c.output.validate(); err != nil {
		return pipeline.Options{}, err
	}
	started := time.Now().UTC()
	now, err := parseAsOf(c.asOf, started)
	if err != nil {
		return pipeline.Options{}, err
	}
	cfg, err := loadConfig(c.configFile)
	if err != nil {
		return pipeline.Options{}, err
	}
	log, err := newLogger(stderr, c.logFormat, c.quiet, c.verbose)
	if err != nil {
		return pipeline.Options{}, err
	}
	id := pipeline.NewID(started)
	return pipeline.Options{RunID: id, Now: now, Started: started, Config: cfg, Logger: log.With("run_id", id)}, nil
}

// live are the flags that say which accounts to reach and how.
type live struct {
	demo         bool
	profile      string
	region       string
	org          bool
	accounts     string
	accountsFile string
	exclude      string
	role         audit.RoleSpec
	timeout      time.Duration
}

func (l *live) register(fs *flag.FlagSet) {
	fs.BoolVar(&l.demo, "demo", false, "use a simulated demo organization served locally (no AWS account needed)")
	fs.StringVar(&l.profile, "profile", "", "AWS profile to use (default: the standard credential chain)")
	fs.StringVar(&l.region, "region", "", "AWS region for API calls (default: from the profile, else us-east-1)")
	fs.BoolVar(&l.org, "org", false, "every active account of the AWS Organization (run as the management account)")
	fs.StringVar(&l.accounts, "accounts", "", "comma-separated account IDs")
	fs.StringVar(&l.accountsFile, "accounts-file", "", "file of account IDs, one per line (# comments)")
	fs.StringVar(&l.exclude, "exclude-accounts", "", "comma-separated account IDs to leave out")
	fs.StringVar(&l.role.Name, "role-name", "KeyAuditRole", "role to assume in each account")
	fs.StringVar(&l.role.Path, "role-path", "/", "path of that role")
	fs.StringVar(&l.role.ExternalID, "external-id", "", "external ID the role expects")
	fs.StringVar(&l.role.SessionName, "session-name", "", "role session name, visible in CloudTrail (default: keyaudit-RUNID)")
	fs.BoolVar(&l.role.InCaller, "assume-role-in-caller-account", false, "assume the role in the caller's own account too")
	fs.DurationVar(&l.timeout, "timeout", 0, "finish within this long (e.g. 10m): accounts not reached in time are reported as skipped")
}

// connect validates the flags, loads credentials (or starts the demo) and
// resolves the targets. The returned context carries --timeout.
func (l *live) connect(ctx context.Context, opts *pipeline.Options, stdin io.Reader, stderr io.Writer) (context.Context, *pipeline.Conn, func(), error) {
	noop := func() {}
	if l.role.SessionName == "" {
		l.role.SessionName = "keyaudit-" + opts.RunID
	}
	if err := l.role.Validate(); err != nil {
		return ctx, nil, noop, usageError{err}
	}
	exclude, err := audit.ParseAccountList("--exclude-accounts", l.exclude)
	if err != nil {
		return ctx, nil, noop, usageError{err}
	}
	explicit, err := l.explicitTargets()
	if err != nil {
		return ctx, nil, noop, err
	}
	if l.org && len(explicit) > 0 {
		return ctx, nil, noop, badInput("--org discovers the accounts itself: drop --accounts and --accounts-file, or drop --org")
	}
	var env *awsEnv
	if l.demo {
		if l.profile != "" || len(explicit) > 0 {
			return ctx, nil, noop, badInput("--demo uses its own simulated organization: drop --profile, --accounts and --accounts-file")
		}
		if env, err = startDemo(ctx, opts.Logger, stderr); err != nil {
			return ctx, nil, noop, err
		}
		l.org = true
	} else if env, err = loadAWS(ctx, opts.Logger, l.profile, l.region, stdin, stderr); err != nil {
		return ctx, nil, noop, err
	}
	opts.Demo = l.demo
	opts.Hint = pipeline.Hints{ExternalID: "--external-id", Concurrency: "--concurrency"}.Hint
	cleanup := env.close
	if l.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, l.timeout)
		cleanup = func() { cancel(); env.close() }
	}
	conn, err := pipeline.Dial(ctx, env.cfg, pipeline.Selection{Org: l.org, Accounts: explicit, Exclude: exclude, Role: l.role})
	switch {
	case errors.Is(err, pipeline.ErrNoTargets):
		return ctx, nil, cleanup, badInput("no accounts left to audit after --exclude-accounts")
	case err != nil:
		return ctx, nil, cleanup, fmt.Errorf("%w; check AWS_PROFILE, run aws sso login, or use aws-vault exec", err)
	}
	return ctx, conn, cleanup, nil
}

// trailDays validates --trail-days: CloudTrail event history keeps 90 days.
func trailDays(n int) error {
	if n < 1 || n > 90 {
		return badInput("--trail-days must be from 1 to 90 (what CloudTrail event history keeps), got %d", n)
	}
	return nil
}

// explicitTargets reads --accounts and --accounts-file.
func (l *live) explicitTargets() ([]audit.Target, error) {
	ids, err := audit.ParseAccountList("--accounts", l.accounts)
	if err != nil {
		return nil, usageError{err}
	}
	var targets []audit.Target
	for _, id := range ids {
		targets = append(targets, audit.Target{AccountID: id})
	}
	if l.accountsFile != "" {
		file, err := os.Open(l.accountsFile)
		if err != nil {
			return nil, badInput("--accounts-file: %v", err)
		}
		defer file.Close()
		more, err := audit.ReadAccountsFile(l.accountsFile, file)
		if err != nil {
			return nil, usageError{err}
		}
		targets = append(targets, more...)
	}
	seen := map[string]bool{}
	out := targets[:0]
	for _, t := range targets {
		if !seen[t.AccountID] {
			seen[t.AccountID] = true
			out = append(out, t)
		}
	}
	return out, nil
}

func scan(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	var (
		c           common
		l           live
		sl          slackFlags
		reports     listFlag
		concurrency int
		trail       bool
		days        int
	)
	fs := newFlags("scan", scanSynopsis)
	c.register(fs)
	l.register(fs)
	sl.register(fs)
	fs.Var(&reports, "credential-report", "audit this downloaded credential report offline (repeatable)")
	fs.IntVar(&concurrency, "concurrency", 10, "accounts audited at once")
	fs.BoolVar(&trail, "trail", false, "trace in CloudTrail who uses each key that must be replaced or removed, and name them in its rotation plan")
	fs.IntVar(&days, "trail-days", 30, "how many days of CloudTrail event history --trail reads (at most 90)")
	if err := parse(fs, args, stdout); err != nil {
		return exitUsage, err
	}
	if fs.NArg() > 0 {
		return exitUsage, badInput("unexpected argument %q (see keyaudit scan --help)", fs.Arg(0))
	}
	opts, err := c.options(stderr)
	if err != nil {
		return exitUsage, err
	}
	notifier, err := sl.notifier(os.Getenv)
	if err != nil {
		return exitUsage, err
	}
	deliver := func(r *report.Report, defaultFormat string) (int, error) {
		var prev *report.Report
		if notifier != nil {
			if prev, err = sl.previousReport(ctx, &c.output); err != nil {
				return exitUsage, err
			}
		}
		code, err := c.deliver(ctx, r, stdout, stderr, defaultFormat)
		if err != nil || notifier == nil {
			return code, err
		}
		return code, notify(ctx, notifier, prev, r, c.out, stderr)
	}
	if len(reports) > 0 {
		if l.demo || l.org || l.accounts != "" || l.accountsFile != "" || l.profile != "" {
			return exitUsage, badInput("--credential-report audits files offline: it cannot be combined with --demo, --org, --accounts, --accounts-file or --profile")
		}
		r, err := pipeline.Offline(opts, reports)
		if err != nil {
			return exitUsage, usageError{err}
		}
		return deliver(r, "")
	}
	if concurrency < 1 || concurrency > 200 {
		return exitUsage, badInput("--concurrency must be from 1 to 200, got %d", concurrency)
	}
	if err := trailDays(days); err != nil {
		return exitUsage, err
	}
	ctx, cn, cleanup, err := l.connect(ctx, &opts, stdin, stderr)
	defer cleanup()
	if err != nil {
		return exitIncomplete, err
	}
	if trail {
		opts.Tracer = cn.Tracers(days)
	}
	prog := newProgress(stderr, len(cn.Targets), c.quiet)
	opts.Concurrency, opts.MinTime, opts.Progress = concurrency, 20*time.Second, prog.done
	r := pipeline.Live(ctx, opts, cn.Targets, cn.IAM)
	prog.finish()
	defaultFormat := ""
	if l.demo {
		defaultFormat = "table"
	}
	return deliver(r, defaultFormat)
}

func newLogger(w io.Writer, format string, quiet, verbose bool) (*slog.Logger, error) {
	level := slog.LevelWarn
	switch {
	case quiet:
		level = slog.LevelError
	case verbose:
		level = slog.LevelInfo
	}
	o := &slog.HandlerOptions{Level: level}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, o)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, o)), nil
	}
	return nil, badInput("--log-format %q: use text or json", format)
}
