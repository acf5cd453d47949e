package main

import (
	"context"
	"encoding/json"
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
	fs.StringVar(&s.previous, "previous", "", "previous JSON report, for what is new and resolved (default with --out s3://: its latest.json)")
	inGroup(fs, groupAlerts, "slack", "slack-channel", "slack-only-changes", "previous")
}

// notifier checks the settings before the audit starts, so a missing
// secret is a usage error and not a surprise after a long run.
func (s *slackFlags) notifier(getenv func(string) string) (*report.Slack, error) {
	if !s.on {
		if s.channel != "" || s.onlyChanges || s.previous != "" {
			return nil, badInput("--slack-channel, --slack-only-changes and --previous need --slack")
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
	var r report.Report
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, badInput("--previous %s is not a keyaudit JSON report: %v", s.previous, err)
	}
	return &r, nil
}

// previousS3 is the latest.json of an --out s3:// location, read before
// the new report replaces it; nil without one.
func previousS3(ctx context.Context, o *output) (*report.Report, error) {
	if !strings.HasPrefix(o.out, "s3://") {
		return nil, nil
	}
	sink, err := o.s3Sink(ctx)
	if err != nil {
		return nil, err
	}
	return sink.Latest(ctx)
}

// notify posts the summary after the report was delivered; an error means
// the alert was not delivered (exit 3).
func notify(ctx context.Context, e *env, n *report.Slack, prev, r *report.Report, location string, quiet bool) error {
	added, resolved := report.Diff(prev, r)
	sent, err := n.Notify(ctx, r, added, resolved, location)
	if err != nil {
		return incomplete(fmt.Errorf("post to Slack: %w", err))
	}
	if sent && !quiet {
		fmt.Fprintf(e.stderr, "posted to Slack: %d new, %d resolved\n", len(added), len(resolved))
	}
	return nil
}
