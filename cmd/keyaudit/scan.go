package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/keyaudit/keyaudit/internal/deliver"
	"github.com/keyaudit/keyaudit/internal/pipeline"
	"github.com/keyaudit/keyaudit/report"
	"github.com/spf13/cobra"
)

// scanExample puts each command on a line of its own under what it does,
// so that none runs into its description and each can be pasted.
const scanExample = `  # the account of your current credentials
  keyaudit scan
  # a named profile (SSO, role_arn + mfa_serial, ...)
  keyaudit scan --profile prod --region eu-west-1
  # every active account of the organization
  keyaudit scan --org
  # the accounts named
  keyaudit scan --accounts 111111111111,222222222222
  # offline, from downloaded credential reports
  keyaudit scan --credential-report report.csv
  # a simulated organization, no AWS needed
  keyaudit scan --demo`

// offlineFlag selects scan's offline mode, which has flags of its own: a
// flag of the live audit means nothing there, and is unknown.
const offlineFlag = "credential-report"

// offlineScan reports whether args run scan in its offline mode.
func offlineScan(args []string) bool {
	if len(args) == 0 || args[0] != "scan" {
		return false
	}
	for _, a := range args[1:] {
		if a == "--" {
			return false
		}
		if a == "--"+offlineFlag || strings.HasPrefix(a, "--"+offlineFlag+"=") {
			return true
		}
	}
	return false
}

type scanOptions struct {
	common
	live
	slack       slackFlags
	hub         hubFlags
	concurrency int
	allKeyIDs   bool
}

func newScan(e *env) *cobra.Command {
	var o scanOptions
	cmd := &cobra.Command{
		Use:   "scan [flags]",
		Short: "Audit the access keys of an account, a list of accounts or the organization",
		Long: `Audits access keys and prints findings with rotation plans.

With --credential-report FILE, scan audits downloaded credential reports offline,
with flags of its own (keyaudit scan --credential-report FILE --help).`,
		Example: scanExample,
		Args:    noArgs,
		RunE:    func(cmd *cobra.Command, _ []string) error { return o.run(cmd, e) },
	}
	fs := cmd.Flags()
	fs.SortFlags = false
	o.live.register(fs, true)
	fs.IntVar(&o.concurrency, "concurrency", 0, fmt.Sprintf("accounts audited at once, 1-%d; 0, the default, derives it from the number of accounts and the time left (--timeout, else 15m)", pipeline.MaxConcurrency))
	inGroup(fs, groupAWS, "concurrency")
	o.common.register(fs, "no progress bar, banner or report locations: only errors on standard error", true)
	o.slack.register(fs)
	o.hub.register(fs)
	fs.BoolVar(&o.allKeyIDs, "all-key-ids", false, "name every key (one ListAccessKeys call per user with keys); by default only the keys a finding or the kill-first ranking's CloudTrail budget is about")
	inGroup(fs, groupAWS, "all-key-ids")
	return cmd
}

func (o *scanOptions) run(cmd *cobra.Command, e *env) error {
	if err := o.common.startLog(e); err != nil {
		return err
	}
	opts, err := o.common.options()
	if err != nil {
		return err
	}
	opts.Concurrency, opts.AllKeyIDs = o.concurrency, o.allKeyIDs
	if err := o.live.settings(&opts.Settings); err != nil {
		return err
	}
	if err := o.common.checkSinks(e, o.live.profile, o.live.region); err != nil {
		return err
	}
	if err := o.hub.validate(); err != nil {
		return err
	}
	d, err := o.slack.delivery(e.getenv, o.hub.on, &o.output)
	if err != nil {
		return err
	}
	ctx, conn, deps, cleanup, err := o.live.connect(cmd.Context(), e, &o.common, opts)
	defer cleanup()
	if err != nil {
		return err
	}
	opts.Deps = deps
	if o.hub.on {
		d.SecurityHub = conn.SecurityHub(o.hub.region)
	}
	prog := newProgress(e, o.quiet, o.verbose)
	opts.Progress, opts.Listed, opts.Planned = prog.done, prog.listed, prog.plan
	r := pipeline.Live(ctx, opts, conn.Targets, conn.IAM)
	prog.finish()
	defaultFormat := ""
	if o.demo {
		defaultFormat = "table"
	}
	// Delivery has its own time budget (deliver.Budget) from the command's
	// context, not the audit's: a --timeout that stopped the audit must not
	// also stop the report of what was audited.
	return o.common.deliver(cmd.Context(), e, d, r, defaultFormat)
}

// offlineOptions are scan's offline mode: downloaded credential reports
// in, the report out, and Slack told.
type offlineOptions struct {
	common
	slack   slackFlags
	reports []string
	// profile and region are --out s3://'s credentials: the audit itself
	// reaches no AWS.
	profile, region string
}

func newOfflineScan(e *env) *cobra.Command {
	var o offlineOptions
	cmd := &cobra.Command{
		Use:     "scan --credential-report FILE... [flags]",
		Short:   "Audit the access keys of an account, a list of accounts or the organization",
		Long:    "Audits downloaded credential reports offline (aws iam get-credential-report), and prints findings with rotation plans.",
		Example: scanExample,
		Args:    noArgs,
		RunE:    func(cmd *cobra.Command, _ []string) error { return o.run(cmd, e) },
	}
	fs := cmd.Flags()
	fs.SortFlags = false
	fs.StringArrayVar(&o.reports, offlineFlag, nil, "audit this downloaded credential report offline (repeatable)")
	inGroup(fs, groupSelection, offlineFlag)
	o.common.register(fs, "no banner or report locations: only errors on standard error", true)
	fs.StringVar(&o.profile, "profile", "", "AWS profile to write --out s3:// with (default: the standard credential chain)")
	fs.StringVar(&o.region, "region", "", "AWS region to reach --out s3:// from (default: from the profile, else us-east-1)")
	inGroup(fs, groupOutput, "profile", "region")
	o.slack.register(fs)
	return cmd
}

func (o *offlineOptions) run(cmd *cobra.Command, e *env) error {
	if err := o.common.startLog(e); err != nil {
		return err
	}
	opts, err := o.common.options()
	if err != nil {
		return err
	}
	if (o.profile != "" || o.region != "") && !strings.HasPrefix(o.out, "s3://") {
		return badInput("--profile and --region of an offline scan name the credentials of --out s3://, and there is none: drop them, or add --out s3://bucket/prefix")
	}
	if err := o.common.checkSinks(e, o.profile, o.region); err != nil {
		return err
	}
	d, err := o.slack.delivery(e.getenv, false, &o.output)
	if err != nil {
		return err
	}
	r, err := pipeline.Offline(opts, o.reports)
	if err != nil {
		return usageErr(err)
	}
	return o.common.deliver(cmd.Context(), e, d, r, "")
}

// reportWriter writes the report where the output flags say: the
// delivery's Writer.
type reportWriter struct {
	o             *output
	e             *env
	defaultFormat string
}

func (w reportWriter) Write(ctx context.Context, r *report.Report) (string, error) {
	return w.o.deliver(ctx, w.e, r, w.defaultFormat)
}

// deliver writes the report, imports into Security Hub and alerts, then
// says what was done; the outcome is the worst of delivery, importing,
// alerting and what the report earns.
func (c *common) deliver(ctx context.Context, e *env, d deliver.Delivery, r *report.Report, defaultFormat string) error {
	d.Writer, d.Budget = reportWriter{o: &c.output, e: e, defaultFormat: defaultFormat}, deliver.Budget
	out := d.Deliver(ctx, r)
	if out.Written != nil {
		return worst(out.Written, c.output.verdict(r))
	}
	var imported, notified error
	switch {
	case out.Imported != nil:
		imported = incomplete(out.Imported)
	case d.SecurityHub != nil && c.note != nil:
		c.note(fmt.Sprintf("imported %d findings into Security Hub %s in %s (%d unchanged)", out.Import.Imported, d.SecurityHub.Account, d.SecurityHub.Region, out.Import.Unchanged))
	}
	for _, w := range out.Warnings {
		if c.say != nil {
			c.say("warning: " + w)
		}
	}
	if out.Changes.Refused != nil && c.say != nil {
		c.say(fmt.Sprintf("warning: the previous report was not compared: %v", out.Changes.Refused))
	}
	switch {
	case out.Announced != nil:
		notified = incomplete(out.Announced) // it says it was Slack
	case out.Sent && c.note != nil:
		c.note("posted to Slack: " + deliver.Headline(r, out.Changes))
	}
	return worst(notified, imported, c.output.verdict(r))
}
