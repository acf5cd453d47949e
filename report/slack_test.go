package report_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/keyaudit/keyaudit/internal/golden"
	"github.com/keyaudit/keyaudit/internal/slackcapture"
	"github.com/keyaudit/keyaudit/report"
	"github.com/keyaudit/keyaudit/rules"
)

const token = "xoxb-test-secret-token-do-not-leak"

func TestSlackBotPostsBlocks(t *testing.T) {
	srv := slackcapture.Start()
	defer srv.Stop()
	r := fixture()
	added, resolved := report.Diff(nil, r)
	s := &report.Slack{Token: token, Channel: "#security", APIURL: srv.GetAPIURL()}
	sent, err := s.Notify(context.Background(), r, added, resolved, "s3://reports/keyaudit/2026/11/24/run/")
	if err != nil || !sent {
		t.Fatalf("sent %v, err %v", sent, err)
	}
	posts := srv.Posts()
	if len(posts) != 1 || posts[0].Channel != "#security" {
		t.Fatalf("posts = %+v", posts)
	}
	text := blockText(posts[0].Blocks)
	for _, want := range []string{"2 new", "1 critical", "could not be audited", "payments (222222222222)", "New since the last run", "AKIA…AAA7", "s3://reports/keyaudit/2026/11/24/run/"} {
		if !strings.Contains(text, want) {
			t.Errorf("message lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "AKIAAAAAAAAAAAAAAAA7") {
		t.Error("a full key ID reached Slack")
	}
	blocks, _ := json.MarshalIndent(posts[0].Blocks, "", "  ")
	golden.Assert(t, "slack/fixture.blocks.json", append(blocks, '\n'))
}

func TestSlackRetriesRateLimit(t *testing.T) {
	srv := slackcapture.Start()
	defer srv.Stop()
	srv.RateLimit = 1
	s := &report.Slack{Token: token, Channel: "#security", APIURL: srv.GetAPIURL()}
	if sent, err := s.Notify(context.Background(), fixture(), nil, nil, ""); err != nil || !sent {
		t.Fatalf("sent %v, err %v", sent, err)
	}
	if n := len(srv.Posts()); n != 1 {
		t.Errorf("%d posts after a rate limit, want 1", n)
	}
}

func TestSlackQuietNight(t *testing.T) {
	srv := slackcapture.Start()
	defer srv.Stop()
	r := empty()
	s := &report.Slack{Token: token, Channel: "#security", APIURL: srv.GetAPIURL(), OnlyChanges: true}
	if sent, err := s.Notify(context.Background(), r, nil, nil, ""); sent || err != nil {
		t.Errorf("only-changes on a quiet night: sent %v, err %v", sent, err)
	}
	s.OnlyChanges = false
	if sent, err := s.Notify(context.Background(), r, nil, nil, ""); !sent || err != nil {
		t.Fatalf("sent %v, err %v", sent, err)
	}
	if text := blockText(srv.Posts()[0].Blocks); !strings.Contains(text, "all clear") {
		t.Errorf("quiet night message: %s", text)
	}
}

func TestSlackLimitsOnLargeReports(t *testing.T) {
	r := fixture()
	for i := range 500 {
		f := r.Findings[1]
		f.Fingerprint = fmt.Sprintf("%016x", i)
		f.Principal = strings.Repeat("long-name-", 40)
		r.Findings = append(r.Findings, f)
	}
	added, _ := report.Diff(nil, r)
	blocks := report.SlackBlocks(r, added, added, "s3://b/p/")
	if len(blocks) > 50 {
		t.Errorf("%d blocks, Slack allows 50", len(blocks))
	}
	data, _ := json.Marshal(blocks)
	var decoded []map[string]any
	_ = json.Unmarshal(data, &decoded)
	for _, b := range decoded {
		if txt, ok := b["text"].(map[string]any); ok {
			if n := len([]rune(txt["text"].(string))); n > 3000 {
				t.Errorf("a %s block has %d characters, Slack allows 3000", b["type"], n)
			}
		}
	}
	if !strings.Contains(blockText(decoded), "more new findings: see the report") {
		t.Error("no pointer to the report for the findings left out")
	}
}

func TestSlackWebhookAndSecretsStayOut(t *testing.T) {
	var got map[string]any
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewDecoder(r.Body).Decode(&got)
	}))
	defer hook.Close()
	s := &report.Slack{WebhookURL: hook.URL + "/services/T000/B000/secretpath"}
	if sent, err := s.Notify(context.Background(), fixture(), nil, nil, ""); !sent || err != nil {
		t.Fatalf("sent %v, err %v", sent, err)
	}
	if got["blocks"] == nil {
		t.Errorf("webhook payload has no blocks: %v", got)
	}

	// A failing post names neither the webhook URL nor the token.
	dead := &report.Slack{WebhookURL: "http://127.0.0.1:1/services/T000/B000/secretpath"}
	_, err := dead.Notify(context.Background(), fixture(), nil, nil, "")
	if err == nil || strings.Contains(err.Error(), "secretpath") {
		t.Errorf("err = %v: want an error without the webhook URL", err)
	}
	bot := &report.Slack{Token: token, Channel: "#x", APIURL: "http://127.0.0.1:1/api/"}
	_, err = bot.Notify(context.Background(), fixture(), nil, nil, "")
	if err == nil || strings.Contains(err.Error(), token) {
		t.Errorf("err = %v: want an error without the token", err)
	}
}

func TestDiff(t *testing.T) {
	prev := fixture()
	cur := fixture()
	cur.Findings = cur.Findings[1:] // the root key was deleted
	cur.Findings = append(cur.Findings, rules.Finding{Rule: "key-inactive", Severity: rules.Low, AccountID: "111111111111", Principal: "old", Fingerprint: "9999999999999999"})
	added, resolved := report.Diff(prev, cur)
	if len(added) != 1 || added[0].Fingerprint != "9999999999999999" {
		t.Errorf("added = %+v", added)
	}
	if len(resolved) != 1 || resolved[0].Rule != "root-access-key" {
		t.Errorf("resolved = %+v", resolved)
	}
	// An account that could not be audited tonight resolves nothing.
	cur.Accounts[0].Status = "error"
	if _, resolved := report.Diff(prev, cur); len(resolved) != 0 {
		t.Errorf("resolved in an account not audited: %+v", resolved)
	}
}

func blockText(blocks []map[string]any) string {
	data, _ := json.Marshal(blocks)
	return string(data)
}
