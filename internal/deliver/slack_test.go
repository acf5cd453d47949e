package deliver_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyaudit/keyaudit/audit/inventory"
	"github.com/keyaudit/keyaudit/internal/deliver"
	"github.com/keyaudit/keyaudit/internal/golden"
	"github.com/keyaudit/keyaudit/internal/slackcapture"
	"github.com/keyaudit/keyaudit/report"
	"github.com/keyaudit/keyaudit/report/reporttest"
	"github.com/keyaudit/keyaudit/rules"
)

const token = "xoxb-test-secret-token-do-not-leak"

// post sends one message through the real slack-go client to a local
// Slack and returns what arrived.
func post(t *testing.T, r *report.Report, ch report.Changes, location string) slackcapture.Post {
	t.Helper()
	srv := slackcapture.Start()
	defer srv.Stop()
	s := &deliver.Slack{Token: token, Channel: "#security", APIURL: srv.GetAPIURL()}
	sent, err := s.Notify(context.Background(), r, ch, location)
	require.NoError(t, err, "post to the local Slack")
	require.True(t, sent, "a message was sent")
	posts := srv.Posts()
	require.Len(t, posts, 1, "posts")
	return posts[0]
}

func TestSlackBotPostsBlocks(t *testing.T) {
	r := fixture()
	prev := fixture()
	prev.Findings = nil // the same accounts, nothing found the night before
	p := post(t, r, report.Diff(prev, r), "s3://reports/keyaudit/2026/11/24/run/")
	assert.Equal(t, "#security", p.Channel, "channel")
	text := blockText(p.Blocks)
	for _, want := range []string{"2 new", "1 critical", "could not be audited", "payments (222222222222)", "New since the last run", "AKIA…AAA7",
		"https://s3.console.aws.amazon.com/s3/buckets/reports?prefix=keyaudit%2F2026%2F11%2F24%2Frun%2F|Open the report in the S3 console"} {
		assert.Contains(t, text, want, "message")
	}
	assert.NotContains(t, text, "AKIAAAAAAAAAAAAAAAA7", "a full key ID reached Slack")
	assert.NotContains(t, text, "s3://", "an s3:// URL is no link")
	blocks, err := json.MarshalIndent(p.Blocks, "", "  ")
	require.NoError(t, err)
	golden.Assert(t, "slack/fixture.blocks.json", append(blocks, '\n'))
}

func TestSlackFirstReportListsWhatIsOpen(t *testing.T) {
	p := post(t, fixture(), report.Diff(nil, fixture()), "")
	text := blockText(p.Blocks)
	assert.Contains(t, text, "first report", "header")
	assert.Contains(t, text, "Top findings:", "the worst open keys listed")
	assert.Contains(t, text, "`root-access-key` — Delete the root user's access key", "the root key and what to do")
	assert.NotContains(t, text, "New since the last run", "nothing is new without a previous run")
}

func TestSlackRetriesRateLimit(t *testing.T) {
	srv := slackcapture.Start()
	defer srv.Stop()
	srv.RateLimit = 1
	s := &deliver.Slack{Token: token, Channel: "#security", APIURL: srv.GetAPIURL()}
	sent, err := s.Notify(context.Background(), fixture(), report.Changes{}, "")
	require.NoError(t, err, "post after a rate limit")
	assert.True(t, sent, "sent after a rate limit")
	assert.Len(t, srv.Posts(), 1, "posts after a rate limit")
}

func TestSlackQuietNight(t *testing.T) {
	srv := slackcapture.Start()
	defer srv.Stop()
	r := empty()
	ch := report.Diff(empty(), r)
	s := &deliver.Slack{Token: token, Channel: "#security", APIURL: srv.GetAPIURL(), OnlyChanges: true}
	sent, err := s.Notify(context.Background(), r, ch, "")
	require.NoError(t, err, "only-changes on a quiet night")
	assert.False(t, sent, "only-changes on a quiet night sends nothing")

	s.OnlyChanges = false
	sent, err = s.Notify(context.Background(), r, ch, "")
	require.NoError(t, err, "quiet night")
	require.True(t, sent, "quiet night")
	assert.Contains(t, blockText(srv.Posts()[0].Blocks), "all clear", "quiet night message")
}

func TestSlackLimitsOnLargeReports(t *testing.T) {
	r := fixture()
	for i := range 500 {
		f := r.Findings[1]
		f.Fingerprint = fmt.Sprintf("%016x", i)
		f.Principal = fmt.Sprintf("%s%d", strings.Repeat("long-name-", 40), i)
		r.Findings = append(r.Findings, f)
	}
	prev := fixture()
	prev.Findings = nil
	ch := report.Diff(prev, r)
	ch.Resolved = ch.Added
	blocks := deliver.SlackBlocks(r, ch, "s3://b/p/")
	assert.LessOrEqual(t, len(blocks), 50, "Slack allows 50 blocks")
	data, err := json.Marshal(blocks)
	require.NoError(t, err)
	var decoded []map[string]any
	require.NoError(t, json.Unmarshal(data, &decoded))
	for _, b := range decoded {
		if txt, ok := b["text"].(map[string]any); ok {
			assert.LessOrEqual(t, len([]rune(txt["text"].(string))), 3000, "a %s block: Slack allows 3000 characters", b["type"])
		}
	}
	assert.Contains(t, blockText(decoded), "…and 497 more keys: see the report", "pointer to the report for the findings left out")
}

func TestSlackWebhookAndSecretsStayOut(t *testing.T) {
	var got map[string]any
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewDecoder(r.Body).Decode(&got)
	}))
	defer hook.Close()
	s := &deliver.Slack{WebhookURL: hook.URL + "/services/T000/B000/secretpath"}
	sent, err := s.Notify(context.Background(), fixture(), report.Changes{}, "")
	require.NoError(t, err, "webhook post")
	assert.True(t, sent, "webhook post sent")
	assert.NotNil(t, got["blocks"], "webhook payload has blocks")

	// A failing post names neither the webhook URL nor the token.
	dead := &deliver.Slack{WebhookURL: "http://127.0.0.1:1/services/T000/B000/secretpath"}
	_, err = dead.Notify(context.Background(), fixture(), report.Changes{}, "")
	require.Error(t, err, "webhook to a closed port")
	assert.NotContains(t, err.Error(), "secretpath", "webhook error")
	bot := &deliver.Slack{Token: token, Channel: "#x", APIURL: "http://127.0.0.1:1/api/"}
	_, err = bot.Notify(context.Background(), fixture(), report.Changes{}, "")
	require.Error(t, err, "bot post to a closed port")
	assert.NotContains(t, err.Error(), token, "bot error")
}

func blockText(blocks []map[string]any) string {
	data, _ := json.Marshal(blocks)
	return string(data)
}

func TestSlackShowsSuppressedApart(t *testing.T) {
	ok := map[string]inventory.Status{acctA: "ok"}
	legacy := reporttest.FindingIn(acctA, "a1", rules.Medium)
	muted := legacy
	muted.Suppressed = &rules.Suppress{Reason: "mainframe retirement, INC-42", Expires: asOf.AddDate(0, 1, 0)}
	p := post(t, reporttest.RunOf(ok, muted), report.Diff(reporttest.RunOf(ok, legacy), reporttest.RunOf(ok, muted)), "")
	text := blockText(p.Blocks)
	assert.Contains(t, text, "Suppressed since the last run, not fixed (1)", "suppressed section")
	assert.Contains(t, text, "user-a1 in 111111111111 — mainframe retirement, INC-42, until 2026-12-24", "suppression reason and expiry")
	assert.NotContains(t, text, "Resolved", "a suppression is not a resolution")
	assert.Equal(t, "keyaudit: 1 suppressed · all clear", p.Text, "notification text")
}

func TestSlackHeadlineSaysWhatIsOpen(t *testing.T) {
	ok := map[string]inventory.Status{acctA: "ok"}
	crit, high := reporttest.FindingIn(acctA, "a1", rules.Critical), reporttest.FindingIn(acctA, "a2", rules.High)
	for _, tt := range []struct {
		name      string
		prev, cur *report.Report
		want      string
	}{
		{"nothing new, findings open", reporttest.RunOf(ok, crit, high), reporttest.RunOf(ok, crit, high), "keyaudit: nothing new · 1 critical, 1 high open"},
		{"one new", reporttest.RunOf(ok, crit), reporttest.RunOf(ok, crit, high), "keyaudit: 1 new · 1 critical, 1 high open"},
		{"one resolved, nothing open", reporttest.RunOf(ok, crit), reporttest.RunOf(ok), "keyaudit: 1 resolved · all clear"},
		{"quiet and clear", reporttest.RunOf(ok), reporttest.RunOf(ok), "keyaudit: nothing new · all clear"},
		{"an account not audited is not clear", reporttest.RunOf(ok), reporttest.RunOf(map[string]inventory.Status{acctA: "ok", acctB: "error"}),
			"keyaudit: nothing new · nothing open in the accounts audited · 1 of 2 accounts not audited"},
		{"first report", nil, reporttest.RunOf(ok, high), "keyaudit: first report · 1 high open"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := post(t, tt.cur, report.Diff(tt.prev, tt.cur), "")
			require.NotEmpty(t, p.Blocks, "case %s: blocks", tt.name)
			header := p.Blocks[0]["text"].(map[string]any)["text"]
			assert.Equal(t, tt.want, header, "case %s: header", tt.name)
			assert.Equal(t, tt.want, p.Text, "case %s: notification text", tt.name)
		})
	}
}

func TestSlackNewerSchemaPostsEverythingWithAWarning(t *testing.T) {
	newer := readReport("slack/previous-v10.json")
	r := reporttest.RunOf(map[string]inventory.Status{acctA: "ok"}, reporttest.FindingIn(acctA, "a1", rules.Critical), reporttest.FindingIn(acctA, "a2", rules.Medium))
	p := post(t, r, report.Diff(newer, r), "")
	text := blockText(p.Blocks)
	assert.Equal(t, "keyaudit: not compared with the last run · 1 critical, 1 medium open", p.Text, "notification text")
	assert.Contains(t, text, `:warning: *Not compared with the last run:* the earlier report was written by a newer keyaudit (schema_version \"10\"; this one reads up to \"`+report.SchemaVersion+`\")`, "warning line")
	assert.Contains(t, text, "*Top findings:*\\n• *critical* user-a1 in 111111111111 `key-rotation` — Rotate the key.\\n• *medium* user-a2", "the open findings are listed")
	assert.NotContains(t, text, "New since the last run", "nothing is called new")
}

// TestSlackEscapesHostileValues: values from AWS or input can make no link,
// mention, formatting or line of their own in Slack; a URL or host name in
// them is defanged, since Slack's clients link bare URLs.
func TestSlackEscapesHostileValues(t *testing.T) {
	const lure = "[Reset your key here](https://evil.example/login) *URGENT*"
	r := fixture()
	r.Accounts[1].Name = lure
	r.Accounts[1].Error = "<!channel> ~struck~ `code` _leaning_\n• *critical* fake row"
	r.Findings[0].AccountName = "Rotate at https://evil.example/login now"
	r.Findings[1].Principal = "<!channel> svc_deploy <https://evil.example|click> <@U123>"
	r.Risk[2].Principal = "www.evil.example.com"
	r.Risk[1].Principal = "svc\u202egnp.exe"
	p := post(t, r, report.Diff(nil, r), "")

	all := strings.Join(texts(p.Blocks), "\n")
	for _, want := range []string{
		"［Reset your key here］(hxxps[:]//evil[.]example/login) ∗URGENT∗",
		"&lt;!channel&gt; ∼struck∼ ˋcodeˋ ˍleaningˍ • ∗critical∗ fake row",
		"Rotate at hxxps[:]//evil[.]example/login now (111111111111)",
		"&lt;!channel&gt; svc_deploy &lt;hxxps[:]//evil[.]example|click&gt; &lt;@U123&gt;",
		"www[.]evil[.]example[.]com in prod",
		"svcgnp[.]exe",
	} {
		assert.Contains(t, all, want, "the value is shown, defused")
	}
	for _, bad := range []string{"<!channel>", "<https://", "<@U123>", "](", "*URGENT*", "~struck~", "`code`", "_leaning_", "\n• *critical* fake",
		"https://evil", "evil.example", "\u202e"} {
		assert.NotContains(t, all, bad, "hostile syntax reached Slack")
	}
	assert.NotContains(t, p.Text, "<", "notification text")
	for _, obj := range textObjects(p.Blocks) {
		if obj["type"] == "mrkdwn" {
			assert.Equal(t, true, obj["verbatim"], "mrkdwn is sent verbatim, so Slack links no bare URL: %s", obj["text"])
		}
	}
}

// textObjects finds every text object in decoded blocks.
func textObjects(v any) []map[string]any {
	var out []map[string]any
	switch v := v.(type) {
	case map[string]any:
		if _, ok := v["text"].(string); ok {
			out = append(out, v)
		}
		for _, child := range v {
			out = append(out, textObjects(child)...)
		}
	case []any:
		for _, child := range v {
			out = append(out, textObjects(child)...)
		}
	case []map[string]any:
		for _, child := range v {
			out = append(out, textObjects(child)...)
		}
	}
	return out
}

func texts(blocks []map[string]any) []string {
	var out []string
	for _, obj := range textObjects(blocks) {
		out = append(out, obj["text"].(string))
	}
	return out
}

// Announce remembers the kill-first top 5 and posts only the keys that
// enter it; a run with no earlier ranking lists the top 5 as it is.
func TestSlackKillFirstEntrants(t *testing.T) {
	ctx := context.Background()
	sink := localSink(t)
	srv := slackcapture.Start()
	defer srv.Stop()
	s := &deliver.Slack{Token: token, Channel: "#security", APIURL: srv.GetAPIURL()}

	first := fixture()
	_, _, err := s.Announce(ctx, sink, first, "")
	require.NoError(t, err, "case first night")
	text := blockText(srv.Posts()[0].Blocks)
	assert.Contains(t, text, "Kill first (top 3 of 3 keys)", "case first night: the top listed")
	assert.Contains(t, text, "*#1* (score 82) \\u0026lt;root_account\\u0026gt; in prod (111111111111) `slot 1`", "case first night: rank 1")
	assert.Contains(t, text, "AKIA…AAA7", "case first night: key masked")
	assert.NotContains(t, text, "AKIAAAAAAAAAAAAAAAA7", "case first night: full key ID")

	second := fixture()
	_, _, err = s.Announce(ctx, sink, second, "")
	require.NoError(t, err, "case same top")
	text = blockText(srv.Posts()[1].Blocks)
	assert.NotContains(t, text, "Kill first", "case same top: the top is not listed")
	assert.NotContains(t, text, "New in the kill-first", "case same top: no entrant")

	third := fixture()
	newcomer := rules.Risk{Rank: 1, AccountID: "111111111111", AccountName: "prod", Principal: "intruder", AccessKeyID: "AKIAAAAAAAAAAAAAAAA9", Score: 99,
		Factors: []rules.Factor{{ID: rules.FactorNewIPs, Weight: 15, Detail: "4 public IP(s) first seen in the last 7 days"}}}
	third.Risk = append([]rules.Risk{newcomer}, third.Risk...)
	_, _, err = s.Announce(ctx, sink, third, "")
	require.NoError(t, err, "case newcomer")
	text = blockText(srv.Posts()[2].Blocks)
	assert.Contains(t, text, "New in the kill-first top 5 (1)", "case newcomer: heading")
	assert.Contains(t, text, "intruder in prod (111111111111) `AKIA…AAA9` — 4 public IP(s) first seen in the last 7 days", "case newcomer: line")
	assert.NotContains(t, text, "legacy", "case newcomer: only entrants listed")
}

func TestDiffTop(t *testing.T) {
	cur := fixture()
	assert.False(t, report.DiffTop(nil, cur).Compared, "case no previous run")
	prev := fixture()
	prev.Risk = nil
	assert.False(t, report.DiffTop(prev, cur).Compared, "case previous run without ranking")
	prev = fixture()
	prev.Risk = prev.Risk[1:]
	tc := report.DiffTop(prev, cur)
	require.True(t, tc.Compared, "case one left the top")
	require.Len(t, tc.Entrants, 1, "case one left the top")
	assert.Equal(t, cur.Risk[0].Principal, tc.Entrants[0].Principal, "case one left the top")
}

// demo is the report of `keyaudit scan --demo --format json`.
func demo() *report.Report { return readReport("slack/demo.report.json") }

const demoLocation = "s3://keyaudit-reports/keyaudit/2026/11/24/20261124T000000Z/"

// TestSlackDemoMessage: the demo's first report is a short message a
// person reads: a few blocks, each key masked apart from every other and
// listed at most twice, one action per key, and a link anyone signed in
// can click.
func TestSlackDemoMessage(t *testing.T) {
	r := demo()
	p := post(t, r, report.Diff(nil, r), demoLocation)
	text := strings.Join(texts(p.Blocks), "\n")
	data, err := json.Marshal(p.Blocks)
	require.NoError(t, err)
	assert.LessOrEqual(t, len(p.Blocks), 6, "blocks")
	assert.LessOrEqual(t, len(data), 3600, "bytes of blocks")
	assert.LessOrEqual(t, strings.Count(text, "\n")+1, 18, "lines")
	assert.Regexp(t, `<https://s3\.console\.aws\.amazon\.com/s3/buckets/keyaudit-reports\?prefix=keyaudit%2F2026%2F11%2F24%2F20261124T000000Z%2F\|[^>]+>`, text, "link to the report")
	assert.NotContains(t, text, "s3://", "an s3:// URL is no link")

	masks := map[string]string{}
	for _, k := range r.Risk {
		if k.AccessKeyID == "" {
			continue
		}
		mask := maskIn(t, text, k.AccessKeyID)
		if mask == "" {
			continue // not in the message
		}
		for id, other := range masks {
			assert.NotEqual(t, other, mask, "keys %s and %s show the same text", id, k.AccessKeyID)
		}
		masks[k.AccessKeyID] = mask
		assert.LessOrEqual(t, strings.Count(text, "`"+mask+"`"), 2, "key %s is listed more than twice", mask)
	}
	assert.Contains(t, masks, "AKIAXA4A6GUKAXPOYXNF", "alice's key is shown")
	assert.Contains(t, masks, "AKIA2YFQQ5J5AXPOYXNF", "ci-deploy's key is shown")
}

// maskIn finds how the message shows a key: its prefix, an ellipsis and a
// tail of it.
func maskIn(t *testing.T, text, id string) string {
	t.Helper()
	for n := len(id) - 4; n >= 4; n-- {
		if m := id[:4] + "…" + id[len(id)-n:]; strings.Contains(text, "`"+m+"`") {
			return m
		}
	}
	assert.NotContains(t, text, id, "a full key ID reached Slack")
	return ""
}

// TestSlackRetryAfterBeyondDeadline: Slack asking to wait longer than the
// time left fails at once, with time left to say so, not at the deadline.
func TestSlackRetryAfterBeyondDeadline(t *testing.T) {
	srv := slackcapture.Start()
	defer srv.Stop()
	srv.RateLimit, srv.RetryAfter = 1, "600"
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s := &deliver.Slack{Token: token, Channel: "#security", APIURL: srv.GetAPIURL()}
	sent, err := s.Notify(ctx, fixture(), report.Changes{}, "")
	require.Error(t, err, "a Retry-After of 600 s with 20 s left")
	assert.False(t, sent, "nothing sent")
	assert.NoError(t, ctx.Err(), "failed before the deadline")
	assert.Contains(t, err.Error(), "Slack asks to wait 10m0s, more than the", "error")
	assert.Equal(t, 1, strings.Count(err.Error(), "post to Slack"), "error says once what failed: %v", err)
}

// TestSlackQuietNightListsNothing: a night that changed nothing posts its
// headline and counts, not the lists of the night before.
func TestSlackQuietNightListsNothing(t *testing.T) {
	p := post(t, demo(), report.Diff(demo(), demo()), demoLocation)
	text := strings.Join(texts(p.Blocks), "\n")
	assert.Equal(t, "[DEMO] keyaudit: nothing new · 1 critical, 1 high, 4 medium, 1 low open · 1 of 5 accounts not audited", p.Text, "headline")
	for _, list := range []string{"Top findings", "Kill first", "`AKIA…"} {
		assert.NotContains(t, text, list, "a quiet night lists nothing")
	}
}

// TestSlackOneVoicePerKey: a key with two findings is one line, with its
// action's summary, never the findings' recommendations that disagree
// (legacy-backup's rotation says rotate, its action retires it).
func TestSlackOneVoicePerKey(t *testing.T) {
	r := demo()
	p := post(t, r, report.Diff(nil, r), demoLocation)
	text := strings.Join(texts(p.Blocks), "\n")
	var lines []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, "legacy-backup") && strings.Contains(l, "key-rotation") {
			lines = append(lines, l)
		}
	}
	require.Len(t, lines, 1, "one line for legacy-backup's key among its findings:\n%s", text)
	assert.Contains(t, lines[0], "`key-rotation` `key-unused` — Retire the key: nothing uses it.", "the key's rules and its action")
	assert.NotContains(t, text, "Rotate the key: create a new one (or use", "a finding's recommendation that the action overrides")
}
