package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"runtime/debug"
	"time"

	"github.com/keyaudit/keyaudit/audit"
	"github.com/keyaudit/keyaudit/internal/pipeline"
	"github.com/keyaudit/keyaudit/rules"
	"github.com/spf13/pflag"
)

// common are the flags of every audit command: the clock, the rules'
// configuration, where the report goes, and logging.
type common struct {
	output
	asOf       string
	configFile string
	cisVersion string
	quiet      bool
	logFormat  string
	verbose    bool

	started time.Time // set by startLog, with the run's ID
	runID   string
}

// register adds the common flags; scan alone logs per account (verbose).
func (c *common) register(fs *pflag.FlagSet, quiet string, verbose bool) {
	c.output.register(fs)
	fs.StringVar(&c.asOf, "as-of", "", "judge as of this RFC 3339 time instead of now")
	fs.StringVar(&c.configFile, "config", "", "YAML file with thresholds and suppressions")
	cisFlag(fs, &c.cisVersion)
	fs.BoolVarP(&c.quiet, "quiet", "q", false, quiet)
	fs.StringVar(&c.logFormat, "log-format", "text", "log format on standard error: text or json")
	inGroup(fs, groupOutput, "as-of", "config", "cis-version", "quiet", "log-format")
	if verbose {
		fs.BoolVar(&c.verbose, "verbose", false, "log each account as it is audited")
		inGroup(fs, groupOutput, "verbose")
	}
}

// startLog makes the run's logger, before any other flag is checked: with
// --log-format json every line on standard error is JSON, the error that a
// flag is wrong too.
func (c *common) startLog(e *env) error {
	log, err := newLogger(e.stderr, c.logFormat, c.quiet, c.verbose)
	if err != nil {
		return err
	}
	c.started = time.Now().UTC()
	c.runID = pipeline.NewID(c.started)
	log = log.With("run_id", c.runID)
	c.output.log = log
	// The soft memory limit main or GOMEMLIMIT set, as the runtime has it.
	if limit := debug.SetMemoryLimit(-1); limit < math.MaxInt64 {
		log.Info("soft memory limit", "mib", limit>>20)
	}
	switch {
	case c.logFormat == "json":
		e.jsonLog = log
		c.output.say = func(line string) { log.Warn(line) }
		c.output.note = func(line string) { log.Info(line) }
	case !c.quiet:
		c.output.say = func(line string) { fmt.Fprintln(e.stderr, line) }
		c.output.note = c.output.say
	}
	return nil
}

// options parses the common flags into the run's options; the logger is
// startLog's.
func (c *common) options() (pipeline.Options, error) {
	if err := c.output.validate(); err != nil {
		return pipeline.Options{}, err
	}
	now, err := parseAsOf(c.asOf, c.started)
	if err != nil {
		return pipeline.Options{}, err
	}
	cfg, err := loadConfig(c.configFile, c.cisVersion)
	if err != nil {
		return pipeline.Options{}, err
	}
	return pipeline.Options{Settings: pipeline.Settings{Names: cliNames, RunID: c.runID, Started: c.started, Now: now, Config: cfg},
		Deps: pipeline.Deps{Logger: c.output.log}}, nil
}

// checkSinks makes sure the report can be delivered before any audit
// work: a long run is never lost to a typo, a permission or an
// unreachable bucket. profile and region are the run's --profile and
// --region: --out s3:// is written with the run's credentials.
func (c *common) checkSinks(e *env, profile, region string) error {
	if err := c.output.checkDir(); err != nil {
		return err
	}
	return c.output.checkS3(e, profile, region)
}

// parseAsOf reads --as-of; empty means now.
func parseAsOf(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return now, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		if t, err = time.Parse(time.DateOnly, s); err != nil {
			return time.Time{}, badInput("--as-of %q is not an RFC 3339 time such as 2026-11-24T00:00:00Z", s)
		}
	}
	if err := pipeline.CheckAsOf("--as-of", t, now); err != nil {
		return time.Time{}, usageErr(err)
	}
	return t.UTC(), nil
}

// cisFlag adds --cis-version, which overrides the config file's cis_version.
func cisFlag(fs *pflag.FlagSet, v *string) {
	fs.StringVar(v, "cis-version", "", "CIS AWS Foundations Benchmark version whose ids are shown: v4.0.1 (also v1.4.0-v4.0.0), v5.0.0, v6.0.0 or v7.0.0 (default: the config's cis_version, else v6.0.0)")
}

// loadConfig reads --config, or returns the defaults, then applies --cis-version.
func loadConfig(path, cisVersion string) (rules.Config, error) {
	cfg := rules.Defaults()
	if path != "" {
		var err error
		if cfg, err = rules.LoadConfig(path); err != nil {
			return rules.Config{}, usageErr(err)
		}
	}
	if cisVersion != "" {
		v, err := rules.ParseCISVersion(cisVersion)
		if err != nil {
			return rules.Config{}, badInput("--cis-version: %v", err)
		}
		cfg.CISVersion = v
	}
	return cfg, nil
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

// live are the flags that say which accounts to reach and how; they only
// bind values, which settings translates into the run's settings.
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
	trail        bool
	trailDays    int
}

// cliNames name the run's settings as the CLI's flags.
var cliNames = pipeline.Names{Accounts: "--accounts", AccountsFile: "--accounts-file", Exclude: "--exclude-accounts", Org: "--org",
	Concurrency: "--concurrency", ExternalID: "--external-id", TrailDays: "--trail-days", Timeout: "--timeout",
	AsOf: "--as-of", Region: "--region", Profile: "AWS_PROFILE or --profile"}

// register adds the live flags; exclude says whether the command audits
// accounts (scan) rather than only knowing which are audited (whois).
func (l *live) register(fs *pflag.FlagSet, exclude bool) {
	fs.BoolVar(&l.demo, "demo", false, "use a simulated demo organization served locally (no AWS account needed)")
	fs.BoolVar(&l.org, "org", false, "every active account of the AWS Organization (run as the management account)")
	fs.StringVar(&l.accounts, "accounts", "", "comma-separated account IDs")
	fs.StringVar(&l.accountsFile, "accounts-file", "", "file of account IDs, one per line (# comments)")
	inGroup(fs, groupSelection, "demo", "org", "accounts", "accounts-file")
	if exclude {
		fs.StringVar(&l.exclude, "exclude-accounts", "", "comma-separated account IDs to leave out")
		inGroup(fs, groupSelection, "exclude-accounts")
	}
	fs.StringVar(&l.profile, "profile", "", "AWS profile to use (default: the standard credential chain)")
	fs.StringVar(&l.region, "region", "", "AWS region for API calls (default: from the profile, else us-east-1)")
	fs.StringVar(&l.role.Name, "role-name", pipeline.DefaultRoleName, "role to assume in each account")
	fs.StringVar(&l.role.Path, "role-path", pipeline.DefaultRolePath, "path of that role")
	fs.StringVar(&l.role.ExternalID, "external-id", "", "external ID the role expects")
	fs.StringVar(&l.role.SessionName, "session-name", "", "role session name, visible in CloudTrail (default: keyaudit-RUNID)")
	fs.BoolVar(&l.role.InCaller, "assume-role-in-caller-account", false, "assume the role in the caller's own account too")
	fs.DurationVar(&l.timeout, "timeout", 0, "finish within this long (e.g. 10m): what is not reached in time is reported as missing")
	fs.BoolVar(&l.trail, "trail", false, "read CloudTrail event history for who uses each key (and, for a temporary key, who issued it)")
	fs.IntVar(&l.trailDays, "trail-days", pipeline.DefaultTrailDays, fmt.Sprintf("how many days of CloudTrail event history --trail reads (at most %d)", pipeline.MaxTrailDays))
	inGroup(fs, groupAWS, "profile", "region", "role-name", "role-path", "external-id", "session-name", "assume-role-in-caller-account", "timeout", "trail", "trail-days")
}

// settings translates the live flags into s and validates it.
func (l *live) settings(s *pipeline.Settings) error {
	if l.demo && (l.profile != "" || l.accounts != "" || l.accountsFile != "") {
		return badInput("--demo uses its own simulated organization: drop --profile, --accounts and --accounts-file")
	}
	s.Names = cliNames
	s.Demo, s.Org = l.demo, l.org || l.demo
	s.Accounts, s.AccountsFile, s.Exclude = []string{l.accounts}, l.accountsFile, []string{l.exclude}
	s.Role = l.role
	s.Timeout, s.Trail, s.TrailDays = l.timeout, l.trail, l.trailDays
	s.Region = l.region
	if l.timeout > 0 && l.timeout < pipeline.MinTimeout {
		return badInput("--timeout %s is too short: no account starts with less than %s left, and the accounts must be listed first; give at least %s", l.timeout, pipeline.AccountTime, pipeline.MinTimeout)
	}
	if err := s.Validate(); err != nil {
		return usageErr(err)
	}
	return nil
}

// connect loads credentials (or starts the demo), resolves the targets of
// the validated opts and returns the run's dependencies on AWS. The
// returned context carries --timeout; cleanup is always safe to call.
func (l *live) connect(ctx context.Context, e *env, c *common, opts pipeline.Options) (context.Context, *pipeline.Conn, pipeline.Deps, func(), error) {
	noop := func() {}
	var aws *awsEnv
	var err error
	if l.demo {
		aws, err = startDemo(ctx, opts.Logger, c.say)
	} else {
		aws, err = loadAWS(ctx, opts.Logger, c.say, l.profile, l.region, e)
	}
	if err != nil {
		return ctx, nil, pipeline.Deps{}, noop, err
	}
	cleanup := aws.close
	if opts.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.Timeout)
		cleanup = func() { cancel(); aws.close() }
	}
	conn, err := pipeline.Dial(ctx, aws.cfg, opts.Selection())
	switch {
	case errors.Is(err, pipeline.ErrNoTargets):
		return ctx, nil, pipeline.Deps{}, cleanup, badInput("no accounts left to audit after --exclude-accounts")
	case errors.Is(err, pipeline.ErrEmptyOrg):
		return ctx, nil, pipeline.Deps{}, cleanup, usageErr(fmt.Errorf("--org: %w", err))
	case err != nil:
		return ctx, nil, pipeline.Deps{}, cleanup, dialErr(ctx, err)
	}
	return ctx, conn, conn.Deps(&opts.Settings, opts.Logger), cleanup, nil
}

// dialErr is the outcome of a run that audited nothing, with the hint its
// error calls for: a network error is never told to sign in.
func dialErr(ctx context.Context, err error) error {
	retry, hinted := cliNames.Unaudited(ctx, err)
	if retry {
		// AWS may be back tomorrow: the run is incomplete, not misconfigured.
		return incomplete(fmt.Errorf("nothing audited: %w", hinted))
	}
	return usageErr(hinted)
}
