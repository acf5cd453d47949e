package main

import (
	"context"
	"strings"
	"time"

	"github.com/keyaudit/keyaudit/audit"
	"github.com/keyaudit/keyaudit/internal/pipeline"
	"github.com/keyaudit/keyaudit/report"
	"github.com/spf13/cobra"
)

// liveOnly are the scan flags that mean nothing to an offline audit of
// credential reports.
var liveOnly = []string{"demo", "org", "accounts", "accounts-file", "exclude-accounts", "profile", "region",
	"role-name", "role-path", "external-id", "session-name", "assume-role-in-caller-account", "timeout", "trail", "trail-days", "concurrency",
	"security-hub", "security-hub-region", "all-key-ids"}

type scanOptions struct {
	common
	live
	slack       slackFlags
	hub         hubFlags
	reports     []string
	concurrency int
	allKeyIDs   bool
}

func newScan(e *env) *cobra.Command {
	var o scanOptions
	cmd := &cobra.Command{
		Use:   "scan [flags]",
		Short: "Audit the access keys of an account, a list of accounts or the organization",
		Long:  "Audits access keys and prints findings with rotation plans.",
		Example: `  keyaudit scan                                   the account of your current credentials
  keyaudit scan --profile prod --region eu-west-1 a named profile (SSO, role_arn + mfa_serial, ...)
  keyaudit scan --org                             every active account of the organization
  keyaudit scan --accounts 111111111111,222222222222
  keyaudit scan --credential-report report.csv    offline, from downloaded credential reports
  keyaudit scan --demo                            a simulated organization, no AWS needed`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return o.run(cmd, e) },
	}
	fs := cmd.Flags()
	fs.SortFlags = false
	o.live.register(fs, true)
	fs.StringArrayVar(&o.reports, "credential-report", nil, "audit this downloaded credential report offline (repeatable)")
	inGroup(fs, groupSelection, "credential-report")
	fs.IntVar(&o.concurrency, "concurrency", 0, "accounts audited at once, 1-200 (default: derived from the number of accounts and the time left, --timeout or else 15m)")
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
	ctx := cmd.Context()
	if len(o.reports) > 0 {
		for _, name := range liveOnly {
			if cmd.Flags().Changed(name) {
				return badInput("--%s has no meaning for an offline audit of --credential-report files: drop one of them", name)
			}
		}
	} else {
		// Left out, it is 0: derived from the accounts and the time left.
		if cmd.Flags().Changed("concurrency") && (o.concurrency < 1 || o.concurrency > audit.MaxConcurrency) {
			return badInput("--concurrency must be from 1 to %d, got %d (leave it out to derive it from the accounts and the time left)", audit.MaxConcurrency, o.concurrency)
		}
		if err := o.live.validate(); err != nil {
			return err
		}
	}
	opts, err := o.common.options(e)
	if err != nil {
		return err
	}
	if err := o.hub.validate(); err != nil {
		return err
	}
	notifier, err := o.slack.notifier(e.getenv, o.hub.on)
	if err != nil {
		return err
	}
	prev, err := o.slack.readPrevious()
	if err != nil {
		return err
	}
	if len(o.reports) > 0 {
		r, err := pipeline.Offline(opts, o.reports)
		if err != nil {
			return usageErr(err)
		}
		return o.deliver(ctx, e, notifier, nil, prev, r, "")
	}
	opts.AllKeyIDs = o.allKeyIDs
	ctx, conn, cleanup, err := o.live.connect(ctx, e, &o.common, &opts)
	defer cleanup()
	if err != nil {
		return err
	}
	var hub *report.SecurityHub
	if o.hub.on {
		hub = conn.SecurityHub(o.hub.region)
	}
	prog := newProgress(e, o.quiet, o.verbose)
	opts.Concurrency, opts.Progress, opts.Listed, opts.Planned = o.concurrency, prog.done, prog.listed, prog.plan
	// The kill-first ranking profiles its budget of keys in CloudTrail.
	opts.RiskTracer = conn.Tracers(o.trailDays)
	r := pipeline.Live(ctx, opts, conn.Targets, conn.IAM)
	prog.finish()
	defaultFormat := ""
	if o.demo {
		defaultFormat = "table"
	}
	// Delivery gets its own time budget from the parent context: a
	// --timeout that stopped the audit must not also stop the report of
	// what was audited.
	dctx, cancel := context.WithTimeout(cmd.Context(), deliveryBudget)
	defer cancel()
	return o.deliver(dctx, e, notifier, hub, prev, r, defaultFormat)
}

// deliveryBudget bounds writing, alerting and importing after the audit.
const deliveryBudget = 3 * time.Minute

// deliver writes the report, then alerts and imports into Security Hub;
// the outcome is the worst of delivery, alerting, importing and what the
// report earns.
func (o *scanOptions) deliver(ctx context.Context, e *env, notifier *report.Slack, hub *report.SecurityHub, prev, r *report.Report, defaultFormat string) error {
	// Security Hub archives what the previous run found and this one did
	// not; in S3 that is latest.json, which the write below replaces.
	hubPrev, prevErr := prev, error(nil)
	if hub != nil && prev == nil && strings.HasPrefix(o.out, "s3://") {
		hubPrev, prevErr = o.output.sink.Latest(ctx)
	}
	delivered := o.output.deliver(ctx, e, r, defaultFormat)
	var notified, imported error
	if delivered == nil && notifier != nil {
		notified = notify(ctx, notifier, &o.output, prev, r)
	}
	if delivered == nil && hub != nil {
		imported = importFindings(ctx, hub, &o.output, hubPrev, prevErr, r)
	}
	return worst(delivered, notified, imported, o.output.verdict(r))
}
