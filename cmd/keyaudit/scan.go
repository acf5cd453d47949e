package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/keyaudit/keyaudit/audit"
	"github.com/keyaudit/keyaudit/internal/run"
)

const scanSynopsis = `Usage: keyaudit scan [flags]

Audits access keys and prints findings with rotation plans.

  keyaudit scan                                   the account of your current credentials
  keyaudit scan --profile prod --region eu-west-1 a named profile (SSO, role_arn + mfa_serial, ...)
  keyaudit scan --org                             every active account of the organization
  keyaudit scan --accounts 111111111111,222222222222
  keyaudit scan --credential-report report.csv    offline, from downloaded credential reports
  keyaudit scan --demo                            a simulated organization, no AWS needed`

// scanFlags are the inputs of `keyaudit scan`.
type scanFlags struct {
	output
	reports      listFlag
	demo         bool
	profile      string
	region       string
	org          bool
	accounts     string
	accountsFile string
	exclude      string
	role         audit.RoleSpec
	concurrency  int
	timeout      time.Duration
	asOf         string
	configFile   string
	quiet        bool
	logFormat    string
	verbose      bool
}

func scan(ctx context.Context, args []string, stdout, stderr io.Writer, stdin io.Reader) (int, error) {
	var f scanFlags
	fs := newFlags("scan", scanSynopsis)
	f.output.register(fs)
	fs.Var(&f.reports, "credential-report", "audit this downloaded credential report offline (repeatable)")
	fs.BoolVar(&f.demo, "demo", false, "audit a simulated demo organization served locally (no AWS account needed)")
	fs.StringVar(&f.profile, "profile", "", "AWS profile to use (default: the standard credential chain)")
	fs.StringVar(&f.region, "region", "", "AWS region for API calls (default: from the profile, else us-east-1)")
	fs.BoolVar(&f.org, "org", false, "audit every active account of the AWS Organization (run as the management account)")
	fs.StringVar(&f.accounts, "accounts", "", "comma-separated account IDs to audit")
	fs.StringVar(&f.accountsFile, "accounts-file", "", "file of account IDs to audit, one per line (# comments)")
	fs.StringVar(&f.exclude, "exclude-accounts", "", "comma-separated account IDs not to audit")
	fs.StringVar(&f.role.Name, "role-name", "KeyAuditRole", "role to assume in each audited account")
	fs.StringVar(&f.role.Path, "role-path", "/", "path of that role")
	fs.StringVar(&f.role.ExternalID, "external-id", "", "external ID the member role expects")
	fs.StringVar(&f.role.SessionName, "session-name", "", "role session name, visible in CloudTrail (default: keyaudit-RUNID)")
	fs.BoolVar(&f.role.InCaller, "assume-role-in-caller-account", false, "assume the role in the caller's own account too")
	fs.IntVar(&f.concurrency, "concurrency", 10, "accounts audited at once")
	fs.DurationVar(&f.timeout, "timeout", 0, "stop starting accounts in time to finish by this long (e.g. 10m); the rest are reported as skipped")
	fs.StringVar(&f.asOf, "as-of", "", "judge as of this RFC 3339 time instead of now")
	fs.StringVar(&f.configFile, "config", "", "YAML file with thresholds and suppressions")
	fs.BoolVar(&f.quiet, "quiet", false, "no progress bar and only errors on standard error")
	fs.StringVar(&f.logFormat, "log-format", "text", "log format on standard error: text or json")
	fs.BoolVar(&f.verbose, "verbose", false, "log each account as it is audited")
	if err := parse(fs, args, stdout); err != nil {
		return exitUsage, err
	}
	if fs.NArg() > 0 {
		return exitUsage, badInput("unexpected argument %q (see keyaudit scan --help)", fs.Arg(0))
	}
	if err := f.output.validate(); err != nil {
		return exitUsage, err
	}
	started := time.Now().UTC()
	now, err := parseAsOf(f.asOf, started)
	if err != nil {
		return exitUsage, err
	}
	cfg, err := loadConfig(f.configFile)
	if err != nil {
		return exitUsage, err
	}
	runID := run.NewID(started)
	opts := run.Options{RunID: runID, Now: now, Started: started, Config: cfg, Demo: f.demo}
	log, err := newLogger(stderr, f.logFormat, f.quiet, f.verbose)
	if err != nil {
		return exitUsage, err
	}
	opts.Logger = log.With("run_id", runID)

	if len(f.reports) > 0 {
		if f.demo || f.org || f.accounts != "" || f.accountsFile != "" || f.profile != "" {
			return exitUsage, badInput("--credential-report audits files offline: it cannot be combined with --demo, --org, --accounts, --accounts-file or --profile")
		}
		r, err := run.Offline(opts, f.reports)
		if err != nil {
			return exitUsage, usageError{err}
		}
		return f.output.deliver(r, stdout, "")
	}

	if f.role.SessionName == "" {
		f.role.SessionName = "keyaudit-" + runID
	}
	if err := f.role.Validate(); err != nil {
		return exitUsage, usageError{err}
	}
	if f.concurrency < 1 || f.concurrency > 200 {
		return exitUsage, badInput("--concurrency must be from 1 to 200, got %d", f.concurrency)
	}
	exclude, err := audit.ParseAccountList("--exclude-accounts", f.exclude)
	if err != nil {
		return exitUsage, usageError{err}
	}
	explicit, err := f.explicitTargets()
	if err != nil {
		return exitUsage, err
	}
	if f.org && len(explicit) > 0 {
		return exitUsage, badInput("--org discovers the accounts itself: drop --accounts and --accounts-file, or drop --org")
	}

	var env *awsEnv
	defaultFormat := ""
	if f.demo {
		if f.profile != "" || len(explicit) > 0 {
			return exitUsage, badInput("--demo audits its own simulated organization: drop --profile, --accounts and --accounts-file")
		}
		env, err = startDemo(ctx, stderr)
		if err != nil {
			return exitIncomplete, err
		}
		defer env.close()
		f.org = true
		defaultFormat = "table"
	} else {
		env, err = loadAWS(ctx, f.profile, f.region, stdin, stderr)
		if err != nil {
			return exitUsage, err
		}
	}

	if f.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, f.timeout)
		defer cancel()
	}
	caller, err := env.callerAccount(ctx)
	if err != nil {
		return exitIncomplete, err
	}
	targets := explicit
	switch {
	case f.org:
		targets, err = audit.DiscoverOrg(ctx, organizations.NewFromConfig(env.cfg))
		if err != nil {
			return exitIncomplete, err
		}
	case len(targets) == 0:
		targets = []audit.Target{{AccountID: caller}}
	}
	targets = audit.Exclude(targets, exclude)
	if len(targets) == 0 {
		return exitUsage, badInput("no accounts left to audit after --exclude-accounts")
	}

	sessions := audit.NewSessions(env.cfg, caller, f.role)
	prog := newProgress(stderr, len(targets), f.quiet, opts)
	sched := &audit.Scheduler{Concurrency: f.concurrency, MinTime: 20 * time.Second, Done: prog.done}
	r := run.Live(ctx, opts, sched, audit.NewCollector(), targets, func(ctx context.Context, id string) (audit.IAM, error) {
		cfg, err := sessions.Config(ctx, id)
		if err != nil {
			return nil, err
		}
		return iam.NewFromConfig(cfg), nil
	})
	prog.finish()
	return f.output.deliver(r, stdout, defaultFormat)
}

// explicitTargets reads --accounts and --accounts-file.
func (f *scanFlags) explicitTargets() ([]audit.Target, error) {
	ids, err := audit.ParseAccountList("--accounts", f.accounts)
	if err != nil {
		return nil, usageError{err}
	}
	var targets []audit.Target
	for _, id := range ids {
		targets = append(targets, audit.Target{AccountID: id})
	}
	if f.accountsFile != "" {
		file, err := os.Open(f.accountsFile)
		if err != nil {
			return nil, badInput("--accounts-file: %v", err)
		}
		defer file.Close()
		more, err := audit.ReadAccountsFile(f.accountsFile, file)
		if err != nil {
			return nil, usageError{err}
		}
		targets = append(targets, more...)
	}
	return dedupe(targets), nil
}

func dedupe(ts []audit.Target) []audit.Target {
	seen := map[string]bool{}
	out := ts[:0]
	for _, t := range ts {
		if !seen[t.AccountID] {
			seen[t.AccountID] = true
			out = append(out, t)
		}
	}
	return out
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
