package deliver

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"github.com/keyaudit/keyaudit/report"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/keyaudit/keyaudit/audit/inventory"
	"github.com/keyaudit/keyaudit/rules"
	"github.com/slack-go/slack"
)

// Block Kit limits (api.slack.com/reference/block-kit/blocks).
const (
	maxBlocks      = 50
	maxSectionText = 3000
	maxHeaderText  = 150
	listedFindings = 10 // per section, before "…and N more"
)

// Slack posts a run's summary to Slack through an incoming webhook or a
// bot token and channel. The webhook URL and the token are secrets: they
// never appear in errors or logs.
type Slack struct {
	WebhookURL string
	Token      string
	Channel    string
	// APIURL points the bot client elsewhere (tests); empty for Slack's.
	APIURL string
	// OnlyChanges sends nothing on a quiet night instead of an all-clear.
	OnlyChanges bool
	HTTPClient  *http.Client
	// Attempts bounds the posts tried when Slack rate-limits (default 3).
	Attempts int
}

// Notify posts the message for a run; it reports whether one was sent.
// Without the previous ranking it lists the kill-first top 5 as they are.
func (s *Slack) Notify(ctx context.Context, r *report.Report, ch report.Changes, location string) (bool, error) {
	return s.notify(ctx, r, ch, report.TopChanges{}, location)
}

func (s *Slack) notify(ctx context.Context, r *report.Report, ch report.Changes, top report.TopChanges, location string) (bool, error) {
	if s.OnlyChanges && quiet(r, ch) && len(top.Entrants) == 0 {
		return false, nil
	}
	blocks := slackBlocks(r, ch, top, location)
	fallback := slackTitle(r, ch)
	client := s.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	post := func() error {
		if s.WebhookURL != "" {
			return slack.PostWebhookCustomHTTPContext(ctx, s.WebhookURL, client, &slack.WebhookMessage{Text: fallback, Blocks: &slack.Blocks{BlockSet: blocks}})
		}
		opts := []slack.Option{slack.OptionHTTPClient(client)}
		if s.APIURL != "" {
			opts = append(opts, slack.OptionAPIURL(s.APIURL))
		}
		_, _, err := slack.New(s.Token, opts...).PostMessageContext(ctx, s.Channel, slack.MsgOptionText(fallback, false), slack.MsgOptionBlocks(blocks...))
		return err
	}
	attempts := max(1, cmp.Or(s.Attempts, 3))
	for i := 1; ; i++ {
		err := post()
		var limited *slack.RateLimitedError
		if err == nil {
			return true, nil
		}
		if !errors.As(err, &limited) || i == attempts {
			return false, fmt.Errorf("post to Slack: %w", redact(err))
		}
		select {
		case <-ctx.Done():
			return false, fmt.Errorf("post to Slack: %w", ctx.Err())
		case <-time.After(limited.RetryAfter):
		}
	}
}

// Baselines keep the baseline (report.Baseline) of the last run announced
// to Slack; S3Sink keeps it as announced.json.
type Baselines interface {
	ReadAnnounced(ctx context.Context) (*report.Report, error)
	WriteAnnounced(ctx context.Context, baseline *report.Report) error
}

// Announce tells Slack what changed since the last run it announced (the
// store's baseline), then records this run as announced. A post that
// fails leaves the record alone, so the next run posts the news this one
// could not deliver. It reports the changes and whether a message was sent.
func (s *Slack) Announce(ctx context.Context, store Baselines, r *report.Report, location string) (report.Changes, bool, error) {
	base, err := store.ReadAnnounced(ctx)
	if err != nil {
		return report.Changes{}, false, fmt.Errorf("read the last announced run, to tell Slack what changed: %w", err)
	}
	ch := report.Diff(base, r)
	sent, err := s.notify(ctx, r, ch, report.DiffTop(base, r), location)
	if err != nil {
		return ch, false, err
	}
	announced := report.Baseline(base, r)
	// The next run's top 5 is compared with this one's.
	announced.Risk = r.Risk[:min(report.SlackTop, len(r.Risk))]
	if err := store.WriteAnnounced(ctx, announced); err != nil {
		return ch, sent, fmt.Errorf("record the run as announced (the next message will repeat its news): %w", err)
	}
	return ch, sent, nil
}

// riskLine is one ranked key for Slack, its ID masked.
func riskLine(k rules.Risk) string {
	key := fmt.Sprintf("slot %d", k.KeySlot)
	if k.AccessKeyID != "" {
		key = inventory.MaskKeyID(k.AccessKeyID)
	}
	return fmt.Sprintf("• *#%d* (score %d) %s in %s `%s` — %s", k.Rank, k.Score, esc(k.Principal), esc(report.AccountLabel(k.AccountID, k.AccountName)), key, esc(k.Reason()))
}

// redact drops the request URL from transport errors: a webhook URL is a
// credential.
func redact(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s request failed: %w", ue.Op, ue.Err)
	}
	return err
}

func quiet(r *report.Report, ch report.Changes) bool {
	return ch.Compared && len(ch.Added)+len(ch.Resolved)+len(ch.Suppressed) == 0 && r.Complete()
}

// slackTitle is the header and the notification text: what changed, then
// what is open, so that a night with nothing new but findings open never
// reads as all clear.
func slackTitle(r *report.Report, ch report.Changes) string {
	var news []string
	for _, c := range []struct {
		n    int
		what string
	}{{len(ch.Added), "new"}, {len(ch.Resolved), "resolved"}, {len(ch.Suppressed), "suppressed"}} {
		if c.n > 0 {
			news = append(news, fmt.Sprintf("%d %s", c.n, c.what))
		}
	}
	switch {
	case ch.Refused != nil:
		news = []string{"not compared with the last run"}
	case !ch.Compared:
		news = []string{"first report"}
	case len(news) == 0:
		news = []string{"nothing new"}
	}
	parts := []string{strings.Join(news, ", "), openText(r)}
	if n := len(r.Accounts) - r.Summary.Accounts[string(inventory.StatusOK)]; n > 0 {
		parts = append(parts, fmt.Sprintf("%d of %d accounts not audited", n, len(r.Accounts)))
	}
	if r.Incomplete != "" {
		parts = append(parts, "account listing incomplete")
	}
	title := "keyaudit: " + strings.Join(parts, " · ")
	if r.Demo {
		title = "[DEMO] " + title
	}
	return title
}

// openText counts the open findings by severity.
func openText(r *report.Report) string {
	var counts []string
	for _, sev := range rules.Severities {
		if n := r.Summary.BySeverity[string(sev)]; n > 0 {
			counts = append(counts, fmt.Sprintf("%d %s", n, sev))
		}
	}
	switch {
	case len(counts) > 0:
		return strings.Join(counts, ", ") + " open"
	case r.Complete():
		return "all clear"
	}
	return "nothing open in the accounts audited"
}

// SlackBlocks builds the Block Kit message: header, why the run was not
// compared (if so), counts, accounts not audited, what is new, resolved or
// suppressed (or, not compared, everything open), the worst open findings,
// and where the report is. It stays within Block Kit's limits by listing at most a
// few findings per section and pointing to the report for the rest.
//
// The kill-first top 5 follows: its new entrants when top compares with
// the last announced run, else the top 5 as it is.
func SlackBlocks(r *report.Report, ch report.Changes, location string) []slack.Block {
	return slackBlocks(r, ch, report.TopChanges{}, location)
}

func slackBlocks(r *report.Report, ch report.Changes, top report.TopChanges, location string) []slack.Block {
	section := func(s string) slack.Block { return slack.NewSectionBlock(mrkdwnText(fit(s, maxSectionText)), nil, nil) }
	blocks := []slack.Block{slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType, fit(slackTitle(r, ch), maxHeaderText), false, false))}

	if ch.Refused != nil {
		blocks = append(blocks, section(fmt.Sprintf(":warning: *Not compared with the last run:* %s. Listed below is everything open.", esc(ch.Refused.Error()))))
	}
	s := r.Summary
	blocks = append(blocks, section(fmt.Sprintf("*Open findings:* %d critical · %d high · %d medium · %d low (%d suppressed) in %d of %d accounts, as of %s",
		s.BySeverity["critical"], s.BySeverity["high"], s.BySeverity["medium"], s.BySeverity["low"], s.Suppressed,
		s.Accounts[string(inventory.StatusOK)], len(r.Accounts), r.AsOf.UTC().Format("2006-01-02 15:04 MST"))))

	var failed []string
	for _, a := range r.Accounts {
		if a.Status != inventory.StatusOK {
			failed = append(failed, fmt.Sprintf("• %s — %s: %s", esc(report.AccountLabel(a.ID, a.Name)), a.Status, esc(a.Error)))
		}
	}
	if r.Incomplete != "" {
		blocks = append(blocks, section(":warning: *Incomplete:* "+esc(r.Incomplete)))
	}
	if len(failed) > 0 {
		blocks = append(blocks, section(listText(fmt.Sprintf(":warning: *%d account(s) could not be audited:*", len(failed)), failed, "accounts")))
	}
	var open []rules.Finding
	for _, f := range r.Findings {
		if f.Suppressed == nil {
			open = append(open, f)
		}
	}
	if !ch.Compared && len(open) > 0 {
		blocks = append(blocks, section(listText(fmt.Sprintf("*Open (%d):*", len(open)), findingLines(bySeverity(open)), "open findings")))
	}
	if len(ch.Added) > 0 {
		blocks = append(blocks, section(listText(fmt.Sprintf(":new: *New since the last run (%d):*", len(ch.Added)), findingLines(bySeverity(ch.Added)), "new findings")))
	}
	if len(ch.Resolved) > 0 {
		blocks = append(blocks, section(listText(fmt.Sprintf(":white_check_mark: *Resolved since the last run (%d):*", len(ch.Resolved)), findingLines(bySeverity(ch.Resolved)), "resolved findings")))
	}
	if len(ch.Suppressed) > 0 {
		var lines []string
		for _, f := range bySeverity(ch.Suppressed) {
			until := ""
			if !f.Suppressed.Expires.IsZero() {
				until = ", until " + f.Suppressed.Expires.UTC().Format(time.DateOnly)
			}
			lines = append(lines, fmt.Sprintf("%s — %s%s", findingLine(f), esc(f.Suppressed.Reason), until))
		}
		blocks = append(blocks, section(listText(fmt.Sprintf(":zipper_mouth_face: *Suppressed since the last run, not fixed (%d):*", len(ch.Suppressed)), lines, "suppressed findings")))
	}
	if len(open) > 0 {
		var lines []string
		for _, f := range bySeverity(open)[:min(5, len(open))] {
			lines = append(lines, fmt.Sprintf("• *%s* %s — %s\n   _%s_", f.Severity, esc(findingOwner(f)), esc(f.Message), esc(f.Recommendation)))
		}
		blocks = append(blocks, slack.NewDividerBlock(), section("*Top findings:*\n"+strings.Join(lines, "\n")))
	}
	var ranked []string
	switch {
	case top.Compared:
		for _, k := range top.Entrants {
			ranked = append(ranked, riskLine(k))
		}
		if len(ranked) > 0 {
			blocks = append(blocks, section(listText(fmt.Sprintf(":dart: *New in the kill-first top %d (%d):*", report.SlackTop, len(ranked)), ranked, "keys")))
		}
	case len(r.Risk) > 0:
		for _, k := range r.Risk[:min(report.SlackTop, len(r.Risk))] {
			ranked = append(ranked, riskLine(k))
		}
		blocks = append(blocks, section(listText(fmt.Sprintf(":dart: *Kill first (top %d of %d keys):*", len(ranked), len(r.Risk)), ranked, "keys")))
	}
	where := "Report: " + esc(location)
	if location == "" {
		where = "Report: not stored"
	}
	blocks = append(blocks, slack.NewContextBlock("", mrkdwnText(fit(where+" · run "+esc(r.RunID), maxSectionText))))
	return blocks[:min(len(blocks), maxBlocks)]
}

func findingLines(fs []rules.Finding) []string {
	lines := make([]string, 0, len(fs))
	for _, f := range fs {
		lines = append(lines, findingLine(f))
	}
	return lines
}

func findingLine(f rules.Finding) string {
	key := ""
	if f.AccessKeyID != "" {
		key = " `" + inventory.MaskKeyID(f.AccessKeyID) + "`"
	}
	return fmt.Sprintf("• *%s* `%s` %s%s", f.Severity, f.Rule, esc(findingOwner(f)), key)
}

func findingOwner(f rules.Finding) string {
	return fmt.Sprintf("%s in %s", f.Principal, report.AccountLabel(f.AccountID, f.AccountName))
}

// listText lists the first lines under a heading, as many as fit in a
// section, and counts the rest.
func listText(heading string, lines []string, what string) string {
	out := heading
	shown := 0
	for _, l := range lines {
		if shown == listedFindings || len([]rune(out))+len([]rune(l))+100 > maxSectionText {
			break
		}
		out += "\n" + l
		shown++
	}
	if rest := len(lines) - shown; rest > 0 {
		out += fmt.Sprintf("\n…and %d more %s: see the report", rest, what)
	}
	return out
}

func bySeverity(fs []rules.Finding) []rules.Finding {
	out := append([]rules.Finding(nil), fs...)
	slices.SortStableFunc(out, func(a, b rules.Finding) int { return cmp.Compare(b.Severity.Rank(), a.Severity.Rank()) })
	return out
}

// fit cuts s to n characters, marking the cut.
func fit(s string, n int) string {
	if len([]rune(s)) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

// mrkdwnText is a mrkdwn text object sent verbatim: Slack then does not
// turn bare URLs, channel names or mentions in it into links.
func mrkdwnText(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, s, false, true)
}

var (
	// Slack's three escapes, then the formatting characters swapped for
	// look-alikes: a value can be neither bold, struck nor code, nor shape
	// a [text](url) link. Underscores are handled apart, in esc.
	mrkdwn = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;",
		"*", "\u2217", "~", "\u223c", "`", "\u02cb", "[", "\uff3b", "]", "\uff3d")
	keyIDs = regexp.MustCompile(`\bA[KS]IA[A-Z2-7]{16}\b`)
)

// esc prepares a value from AWS or input for Slack mrkdwn: key IDs masked
// (Slack is not the auditors' record), &, < and > escaped so that no
// <!channel>, <@user> or <url|text> can form, and the formatting
// characters neutralised, control characters made spaces. An underscore inside a word stays, so that
// svc_deploy reads as it is named: Slack italicises only at word
// boundaries, and there the underscore is swapped for a look-alike.
func esc(s string) string {
	rs := []rune(mrkdwn.Replace(keyIDs.ReplaceAllStringFunc(s, inventory.MaskKeyID)))
	word := func(i int) bool {
		return i >= 0 && i < len(rs) && (unicode.IsLetter(rs[i]) || unicode.IsDigit(rs[i]))
	}
	for i, r := range rs {
		switch {
		case r == '_' && !(word(i-1) && word(i+1)):
			rs[i] = '\u02cd'
		case unicode.IsControl(r): // a newline would start a fake line
			rs[i] = ' '
		}
	}
	return string(rs)
}
