package main

import (
	"os"

	"github.com/keyaudit/keyaudit/internal/deliver"
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

// delivery checks the alert flags before the audit starts, so a missing
// secret or a wrong --previous is a usage error and not a surprise after
// a long run, and returns the delivery they ask for. hub says whether
// --security-hub, which reads --previous too, is on; an --out s3:// sink
// keeps the runs Slack and Security Hub compare with.
func (s *slackFlags) delivery(getenv func(string) string, hub bool, o *output) (deliver.Delivery, error) {
	var d deliver.Delivery
	if o.sink != nil {
		d.History = o.sink
	}
	if !s.on {
		if s.channel != "" || s.onlyChanges {
			return d, badInput("--slack-channel and --slack-only-changes need --slack")
		}
		if s.previous != "" && !hub {
			return d, badInput("--previous needs --slack or --security-hub")
		}
	} else {
		n := &deliver.Slack{WebhookURL: getenv("KEYAUDIT_SLACK_WEBHOOK_URL"), Token: getenv("KEYAUDIT_SLACK_TOKEN"), Channel: s.channel,
			OnlyChanges: s.onlyChanges, APIURL: getenv("KEYAUDIT_SLACK_API_URL")}
		switch {
		case n.WebhookURL == "" && n.Token == "":
			return d, badInput("--slack needs KEYAUDIT_SLACK_WEBHOOK_URL, or KEYAUDIT_SLACK_TOKEN with --slack-channel, in the environment")
		case n.WebhookURL == "" && n.Channel == "":
			return d, badInput("a Slack bot token needs --slack-channel")
		case n.WebhookURL != "" && !deliver.IsWebhookURL(n.WebhookURL):
			// The value is a credential: say what is wrong, never echo it.
			return d, badInput("KEYAUDIT_SLACK_WEBHOOK_URL is not an https:// URL: use the webhook URL Slack gave, https://hooks.slack.com/...")
		}
		d.Slack = n
	}
	var err error
	d.Previous, err = s.readPrevious()
	return d, err
}

// readPrevious reads --previous before the audit, so a wrong path stops
// the run at once rather than after it.
func (s *slackFlags) readPrevious() (*report.Report, error) {
	if s.previous == "" {
		return nil, nil
	}
	f, err := os.Open(s.previous)
	if err != nil {
		return nil, badInput("--previous: %v", err)
	}
	defer f.Close()
	r, err := report.ReadReport(f)
	if err != nil {
		return nil, badInput("--previous %s: %v", s.previous, err)
	}
	return r, nil
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
