package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/keyaudit/keyaudit/report"
	"github.com/spf13/pflag"
)

// slackFlags send a scan's summary to Slack. The webhook URL and the bot
// token come from the environment, never from flags, which would leave
// them in shell history and process lists.
type slackFlags struct {
	on          bool
	channel     string
	onlyChanges bool
	previous    string
}

func (s *slackFlags) register(fs *pflag.FlagSet) {
	fs.BoolVar(&s.on, "slack", false, "post a summary to Slack: webhook URL from KEYAUDIT_SLACK_WEBHOOK_URL, or bot token from KEYAUDIT_SLACK_TOKEN with --slack-channel")
	fs.StringVar(&s.channel, "slack-channel", "", "channel for a bot token, e.g. #security")
	fs.BoolVar(&s.onlyChanges, "slack-only-changes", false, "post nothing when nothing changed since the previous report")
	fs.StringVar(&s.previous, "previous", "", "previous JSON report, for what is new and resolved (default with --out s3://: the last run there)")
	inGroup(fs, groupAlerts, "slack", "slack-channel", "slack-only-changes", "previous")
}

// notifier checks the settings before the audit starts, so a missing
// secret is a usage error and not a surprise after a long run.
// hub says whether --security-hub, which reads --previous too, is on.
func (s *slackFlags) notifier(getenv func(string) string, hub bool) (*report.Slack, error) {
	if !s.on {
		if s.channel != "" || s.onlyChanges {
			return nil, badInput("--slack-channel and --slack-only-changes need --slack")
		}
		if s.previous != "" && !hub {
			return nil, badInput("--previous needs --slack or --security-hub")
		}
		return nil, nil
	}
	n := &report.Slack{WebhookURL: getenv("KEYAUDIT_SLACK_WEBHOOK_URL"), Token: getenv("KEYAUDIT_SLACK_TOKEN"), Channel: s.channel,
		OnlyChanges: s.onlyChanges, APIURL: getenv("KEYAUDIT_SLACK_API_URL")}
	switch {
	case n.WebhookURL == "" && n.Token == "":
		return nil, badInput("--slack needs KEYAUDIT_SLACK_WEBHOOK_URL, or KEYAUDIT_SLACK_TOKEN with --slack-channel, in the environment")
	case n.WebhookURL == "" && n.Channel == "":
		return nil, badInput("a Slack bot token needs --slack-channel")
	}
	return n, nil
}

// readPrevious reads --previous before the audit, so a wrong path stops
// the run at once rather than after it.
func (s *slackFlags) readPrevious() (*report.Report, error) {
	if s.previous == "" {
		return nil, nil
	}
	data, err := os.ReadFile(s.previous)
	if err != nil {
		return nil, badInput("--previous: %v", err)
	}
	r, err := report.ReadReport(bytes.NewReader(data))
	if err != nil {
		return nil, badInput("--previous %s: %v", s.previous, err)
	}
	return r, nil
}

// notify posts the summary after the report was delivered; an error means
// the alert was not delivered (exit 3). With --previous it diffs against
// that file; with --out s3:// against the last run announced there, so news
// a failed post missed is posted next time; else everything open is news.
func notify(ctx context.Context, n *report.Slack, o *output, prev, r *report.Report) error {
	var (
		ch   report.Changes
		sent bool
		err  error
	)
	if prev == nil && strings.HasPrefix(o.out, "s3://") {
		ch, sent, err = n.Announce(ctx, o.sink, r, o.out)
	} else {
		ch = report.Diff(prev, r)
		sent, err = n.Notify(ctx, r, ch, o.out)
	}
	if ch.Refused != nil && o.say != nil {
		o.say(fmt.Sprintf("warning: the previous report was not compared: %v", ch.Refused))
	}
	if err != nil {
		return incomplete(fmt.Errorf("post to Slack: %w", err))
	}
	if sent && o.note != nil {
		o.note(fmt.Sprintf("posted to Slack: %d new, %d resolved, %d suppressed", len(ch.Added), len(ch.Resolved), len(ch.Suppressed)))
	}
	return nil
}

// hubFlags import a scan's findings into AWS Security Hub.
type hubFlags struct {
	on     bool
	region string
}

func (h *hubFlags) register(fs *pflag.FlagSet) {
	fs.BoolVar(&h.on, "security-hub", false, "import the findings into AWS Security Hub in the caller's account (the management or delegated administrator account), after the report is written")
	fs.StringVar(&h.region, "security-hub-region", "", "region of that Security Hub, where findings are aggregated (default: the session's region)")
	inGroup(fs, groupAlerts, "security-hub", "security-hub-region")
}

func (h *hubFlags) validate() error {
	if h.region != "" && !h.on {
		return badInput("--security-hub-region needs --security-hub")
	}
	return nil
}

// importFindings sends the findings to Security Hub after the report was
// delivered, archiving what prev found and r no longer does; an error means
// the findings did not all arrive (exit 3), the report is written anyway.
func importFindings(ctx context.Context, hub *report.SecurityHub, o *output, prev *report.Report, prevErr error, r *report.Report) error {
	if prevErr != nil {
		return incomplete(fmt.Errorf("import into Security Hub: read the previous run, to archive what it found and this one did not: %w", prevErr))
	}
	reportURL := ""
	if strings.HasPrefix(o.out, "s3://") {
		reportURL = o.out
	}
	if err := hub.Import(ctx, r, prev, reportURL); err != nil {
		return incomplete(fmt.Errorf("import into Security Hub %s in %s: %w", hub.Account, hub.Region, err))
	}
	if o.note != nil {
		o.note(fmt.Sprintf("imported %d findings into Security Hub %s in %s", len(r.Findings), hub.Account, hub.Region))
	}
	return nil
}
