package deliver

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/keyaudit/keyaudit/audit/inventory"
	"github.com/keyaudit/keyaudit/report"
	"github.com/keyaudit/keyaudit/rules"
	"github.com/slack-go/slack"
)

// Block Kit limits (api.slack.com/reference/block-kit/blocks).
const (
	maxBlocks      = 50
	maxSectionText = 3000
	maxHeaderText  = 150
	listedLines    = 10 // accounts or ranked keys per section, before "…and N more"
	listedKeys     = 5  // keys per section of findings
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
	// Acted is a section (mrkdwn) telling what the run changed: the
	// Lambda's remediation, with its journal and undo command. A run that
	// changed something is announced even on a quiet night.
	Acted string
}

// Notify posts the message for a run; it reports whether one was sent.
// Without the previous ranking it lists the kill-first top 5 as they are.
func (s *Slack) Notify(ctx context.Context, r *report.Report, ch report.Changes, location string) (bool, error) {
	return s.notify(ctx, r, ch, report.TopChanges{}, location)
}

func (s *Slack) notify(ctx context.Context, r *report.Report, ch report.Changes, top report.TopChanges, location string) (bool, error) {
	if s.OnlyChanges && quiet(r, ch) && len(top.Entrants) == 0 && s.Acted == "" {
		return false, nil
	}
	blocks := slackBlocks(r, ch, top, location)
	if s.Acted != "" {
		// Right under the headline: what was done matters before what is open.
		acted := slack.NewSectionBlock(mrkdwnText(fit(s.Acted, maxSectionText)), nil, nil)
		blocks = slices.Insert(blocks, 1, slack.Block(acted))[:min(len(blocks)+1, maxBlocks)]
	}
	if err := s.post(ctx, Headline(r, ch), blocks); err != nil {
		return false, err
	}
	return true, nil
}

// post sends one message, its notification text fallback, retrying while
// Slack rate-limits within the attempts and ctx's deadline.
func (s *Slack) post(ctx context.Context, fallback string, blocks []slack.Block) error {
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
			return nil
		}
		if !errors.As(err, &limited) || i == attempts {
			return fmt.Errorf("post to Slack: %w", redact(err))
		}
		// Waiting past the deadline would only be killed there (a Lambda
		// with no summary): fail now, while there is time to say so.
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < limited.RetryAfter {
			return fmt.Errorf("post to Slack: rate limited, and Slack asks to wait %s, more than the %s left", limited.RetryAfter, time.Until(deadline).Round(time.Second))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("post to Slack: %w", ctx.Err())
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

// redact drops the request URL from transport errors: a webhook URL is a
// credential.
func redact(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s request failed: %w", strings.ToLower(ue.Op), ue.Err)
	}
	return err
}

func quiet(r *report.Report, ch report.Changes) bool { return unchanged(ch) && r.Complete() }

func unchanged(ch report.Changes) bool {
	return ch.Compared && len(ch.Added)+len(ch.Resolved)+len(ch.Suppressed) == 0
}

// Headline is a Slack message's header and notification text: what
// changed, then what is open, so that a night with nothing new but
// findings open never reads as all clear. The CLI says it once posted.
func Headline(r *report.Report, ch report.Changes) string {
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
		parts = append(parts, "run incomplete")
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

// SlackBlocks builds the Block Kit message: a headline, why the run was
// not compared (if so), the counts, accounts not audited, the keys with
// new, resolved or suppressed findings, the worst other open keys (on a
// first report, the worst open keys), the kill-first top 5, and a link to
// the report. A key is one line per section, with its action's summary
// (one voice per key), and is listed at most twice: once for its findings,
// once in the ranking. Each section lists at most a few keys and points to
// the report for the rest, so the message stays short and within Block
// Kit's limits.
//
// The kill-first top 5 lists its new entrants when top compares with the
// last announced run, else the top 5 as it is.
func SlackBlocks(r *report.Report, ch report.Changes, location string) []slack.Block {
	return slackBlocks(r, ch, report.TopChanges{}, location)
}

func slackBlocks(r *report.Report, ch report.Changes, top report.TopChanges, location string) []slack.Block {
	m := newMessage(r, ch)
	section := func(s string) slack.Block { return slack.NewSectionBlock(mrkdwnText(fit(s, maxSectionText)), nil, nil) }
	blocks := []slack.Block{slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType, fit(Headline(r, ch), maxHeaderText), false, false))}

	if ch.Refused != nil {
		blocks = append(blocks, section(fmt.Sprintf(":warning: *Not compared with the last run:* %s. Listed below is the worst of what is open.", m.esc(ch.Refused.Error()))))
	}
	s := r.Summary
	blocks = append(blocks, section(fmt.Sprintf("*Open findings:* %d critical · %d high · %d medium · %d low (%d suppressed) in %d of %d accounts, as of %s",
		s.BySeverity["critical"], s.BySeverity["high"], s.BySeverity["medium"], s.BySeverity["low"], s.Suppressed,
		s.Accounts[string(inventory.StatusOK)], len(r.Accounts), r.AsOf.UTC().Format("2006-01-02 15:04 MST"))))

	var failed []string
	for _, a := range r.Accounts {
		if a.Status != inventory.StatusOK {
			failed = append(failed, fmt.Sprintf("• %s — %s: %s", m.esc(report.AccountLabel(a.ID, a.Name)), a.Status, m.esc(a.Error)))
		}
	}
	if r.Incomplete != "" {
		blocks = append(blocks, section(":warning: *Incomplete:* "+m.esc(r.Incomplete)))
	}
	if len(failed) > 0 {
		blocks = append(blocks, section(listText(fmt.Sprintf(":warning: *%d account(s) could not be audited:*", len(failed)), failed, listedLines, "accounts")))
	}
	listed := map[findingKey]bool{}
	if len(ch.Added) > 0 {
		blocks = append(blocks, section(m.keyList(fmt.Sprintf(":new: *New since the last run (%d):*", len(ch.Added)), ch.Added, listed, true)))
	}
	if len(ch.Resolved) > 0 {
		blocks = append(blocks, section(m.keyList(fmt.Sprintf(":white_check_mark: *Resolved since the last run (%d):*", len(ch.Resolved)), ch.Resolved, listed, false)))
	}
	if len(ch.Suppressed) > 0 {
		var lines []string
		for _, f := range bySeverity(ch.Suppressed) {
			until := ""
			if !f.Suppressed.Expires.IsZero() {
				until = ", until " + f.Suppressed.Expires.UTC().Format(time.DateOnly)
			}
			lines = append(lines, fmt.Sprintf("%s — %s%s", m.findingLine(f), m.esc(f.Suppressed.Reason), until))
			listed[keyOfFinding(f)] = true
		}
		blocks = append(blocks, section(listText(fmt.Sprintf(":zipper_mouth_face: *Suppressed since the last run, not fixed (%d):*", len(ch.Suppressed)), lines, listedKeys, "suppressed findings")))
	}
	// A night that changed nothing says so in its headline and counts
	// (and names the accounts not audited), but lists no keys.
	calm := unchanged(ch)
	var open []rules.Finding
	for _, f := range r.Findings {
		if f.Suppressed == nil && !listed[keyOfFinding(f)] {
			open = append(open, f)
		}
	}
	if len(open) > 0 && !calm {
		heading := "*Top findings:*"
		if len(listed) > 0 {
			heading = "*Top findings, besides those above:*"
		}
		blocks = append(blocks, section(m.keyList(heading, open, listed, true)))
	}
	var ranked []string
	switch {
	case top.Compared:
		for _, k := range top.Entrants {
			ranked = append(ranked, m.riskLine(k))
		}
		if len(ranked) > 0 {
			blocks = append(blocks, section(listText(fmt.Sprintf(":dart: *New in the kill-first top %d (%d):*", report.SlackTop, len(ranked)), ranked, listedLines, "keys")))
		}
	case len(r.Risk) > 0 && !calm:
		for _, k := range r.Risk[:min(report.SlackTop, len(r.Risk))] {
			ranked = append(ranked, m.riskLine(k))
		}
		blocks = append(blocks, section(listText(fmt.Sprintf(":dart: *Kill first (top %d of %d keys):*", len(ranked), len(r.Risk)), ranked, listedLines, "keys")))
	}
	blocks = append(blocks, slack.NewContextBlock("", mrkdwnText(fit(reportLink(location)+" · run "+m.esc(r.RunID), maxSectionText))))
	return blocks[:min(len(blocks), maxBlocks)]
}

// reportLink is the footer's link to the report: the S3 console's page of
// the run's folder, which a person signed in to the account can open (an
// s3:// URL or a local path is no link anyone can click).
func reportLink(location string) string {
	bucket, prefix, err := ParseS3URL(location)
	switch {
	case location == "":
		return "Report: not stored"
	case err != nil:
		return "Report: stored where the scan ran, not linked"
	}
	u := url.URL{Scheme: "https", Host: "s3.console.aws.amazon.com", Path: "/s3/buckets/" + bucket,
		RawQuery: url.Values{"prefix": {prefix + "/"}}.Encode()}
	// In a <url|text> link, | and > would end the URL: Encode escapes both.
	return "<" + u.String() + "|Open the report in the S3 console>"
}

// findingKey identifies the key a finding is about, as actions do.
type findingKey struct {
	account, principal, key string
	slot                    int
}

func keyOfFinding(f rules.Finding) findingKey {
	return findingKey{f.AccountID, f.Principal, f.AccessKeyID, f.KeySlot}
}

// message holds what every line of one Slack message shares.
type message struct {
	action func(f *rules.Finding) rules.Action
	masks  map[string]string
}

func newMessage(r *report.Report, ch report.Changes) *message {
	// Every key ID the message can show is in the report or the changes,
	// found in their JSON an element at a time: the whole report marshalled
	// would be held at once. An element that does not marshal (none: a
	// report is written as JSON) leaves its IDs to the four-character mask.
	seen := map[string]bool{}
	scan := func(v any) {
		data, _ := json.Marshal(v)
		for _, id := range keyIDs.FindAll(data, -1) {
			seen[string(id)] = true
		}
	}
	head := *r
	head.Accounts, head.Findings, head.Actions, head.Risk, head.Resolved = nil, nil, nil, nil, nil
	scan(&head)
	for i := range r.Accounts {
		scan(&r.Accounts[i])
	}
	for _, fs := range [][]rules.Finding{r.Findings, r.Resolved, ch.Added, ch.Resolved, ch.Suppressed} {
		for i := range fs {
			scan(&fs[i])
		}
	}
	for i := range r.Actions {
		scan(&r.Actions[i])
	}
	for i := range r.Risk {
		scan(&r.Risk[i])
	}
	return &message{action: report.ActionIndex(r.Actions), masks: uniqueMasks(slices.Collect(maps.Keys(seen)))}
}

// mask shows a key ID as its prefix and its last characters: four, or as
// many more as keep it apart from every other key of the message.
func (m *message) mask(id string) string {
	if s, ok := m.masks[id]; ok {
		return s
	}
	return inventory.MaskKeyID(id)
}

// uniqueMasks masks each key ID with the shortest tail, at least four
// characters, that no other key of the same prefix ends with: the demo's
// alice and ci-deploy both end in YXNF. Sorted by prefix and reversed
// tail, the longest tail a key shares is with a neighbour.
func uniqueMasks(ids []string) map[string]string {
	slices.SortFunc(ids, func(a, b string) int { return cmp.Compare(sortTail(a), sortTail(b)) })
	ids = slices.Compact(ids)
	out := make(map[string]string, len(ids))
	for i, id := range ids {
		n := 4
		for _, j := range []int{i - 1, i + 1} {
			if j >= 0 && j < len(ids) && ids[j][:4] == id[:4] {
				n = max(n, sharedTail(id, ids[j])+1)
			}
		}
		out[id] = id[:4] + "…" + id[len(id)-min(n, len(id)-4):]
	}
	return out
}

func sortTail(id string) string {
	b := []byte(id[4:])
	slices.Reverse(b)
	return id[:4] + string(b)
}

func sharedTail(a, b string) int {
	n := 0
	for n < len(a) && n < len(b) && a[len(a)-1-n] == b[len(b)-1-n] {
		n++
	}
	return n
}

// keyList lists the keys of findings, worst first, one line each: the
// key's findings and, with summary, what its action says to do. The keys
// listed are added to listed.
func (m *message) keyList(heading string, fs []rules.Finding, listed map[findingKey]bool, summary bool) string {
	var order []findingKey
	byKey := map[findingKey][]rules.Finding{}
	for _, f := range bySeverity(fs) {
		k := keyOfFinding(f)
		if byKey[k] == nil {
			order = append(order, k)
		}
		byKey[k] = append(byKey[k], f)
	}
	lines := make([]string, 0, len(order))
	for _, k := range order {
		kf := byKey[k]
		var ids []string
		for _, f := range kf {
			if id := "`" + f.Rule + "`"; !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
		line := fmt.Sprintf("• *%s* %s%s %s", kf[0].Severity, m.esc(findingOwner(kf[0])), m.keyText(kf[0].AccessKeyID, kf[0].KeySlot), strings.Join(ids, " "))
		if summary {
			line += " — " + m.esc(cmp.Or(m.action(&kf[0]).Summary, kf[0].Recommendation))
		}
		lines = append(lines, line)
		listed[k] = true
	}
	return listText(heading, lines, listedKeys, "keys")
}

// keyText names a key in a line: its masked ID, else its slot.
func (m *message) keyText(id string, slot int) string {
	switch {
	case id != "":
		return " `" + m.mask(id) + "`"
	case slot > 0:
		return fmt.Sprintf(" `slot %d`", slot)
	}
	return ""
}

// riskLine is one ranked key for Slack, its ID masked.
func (m *message) riskLine(k rules.Risk) string {
	return fmt.Sprintf("• *#%d* (score %d) %s in %s%s — %s", k.Rank, k.Score, m.esc(k.Principal), m.esc(report.AccountLabel(k.AccountID, k.AccountName)), m.keyText(k.AccessKeyID, k.KeySlot), m.esc(k.Reason()))
}

func (m *message) findingLine(f rules.Finding) string {
	return fmt.Sprintf("• *%s* `%s` %s%s", f.Severity, f.Rule, m.esc(findingOwner(f)), m.keyText(f.AccessKeyID, f.KeySlot))
}

func findingOwner(f rules.Finding) string {
	return fmt.Sprintf("%s in %s", f.Principal, report.AccountLabel(f.AccountID, f.AccountName))
}

// listText lists the first lines under a heading, at most limit and as
// many as fit in a section, and counts the rest.
func listText(heading string, lines []string, limit int, what string) string {
	out := heading
	shown := 0
	for _, l := range lines {
		if shown == limit || len([]rune(out))+len([]rune(l))+100 > maxSectionText {
			break
		}
		out += "\n" + l
		shown++
	}
	if rest := len(lines) - shown; rest == 1 {
		out += fmt.Sprintf("\n…and 1 more %s: see the report", strings.TrimSuffix(what, "s"))
	} else if rest > 1 {
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
	// Slack links a host name alone too (labels joined by dots, the last
	// starting with a letter, so that "1.14" and "e.g." are left alone).
	hosts = regexp.MustCompile(`[\p{L}\p{N}-]+(?:\.[\p{L}\p{N}-]+)*\.\p{L}[\p{L}\p{N}-]+`)
)

// esc prepares a value from AWS or input for Slack mrkdwn: key IDs masked
// (Slack is not the auditors' record), &, < and > escaped so that no
// <!channel>, <@user> or <url|text> can form, the formatting characters
// neutralised, control characters made spaces, bidirectional controls
// dropped, and URLs (report.Defang) and host names defanged, since a
// member account's root can name its account with a link. An underscore inside a word stays, so
// that svc_deploy reads as it is named: Slack italicises only at word
// boundaries, and there the underscore is swapped for a look-alike.
func (m *message) esc(s string) string {
	s = mrkdwn.Replace(keyIDs.ReplaceAllStringFunc(s, m.mask))
	s = hosts.ReplaceAllStringFunc(report.Defang(s), func(host string) string { return strings.ReplaceAll(host, ".", "[.]") })
	rs := []rune(s)
	word := func(i int) bool {
		return i >= 0 && i < len(rs) && (unicode.IsLetter(rs[i]) || unicode.IsDigit(rs[i]))
	}
	var b strings.Builder
	for i, r := range rs {
		switch {
		case r == '_' && !(word(i-1) && word(i+1)):
			b.WriteRune('\u02cd')
		case unicode.IsControl(r): // a newline would start a fake line
			b.WriteRune(' ')
		case unicode.Is(unicode.Bidi_Control, r): // dropped: it would reorder what follows
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
