package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/keyaudit/keyaudit/audit/inventory"
	"github.com/keyaudit/keyaudit/internal/awssim"
	"github.com/keyaudit/keyaudit/internal/golden"
	"github.com/keyaudit/keyaudit/internal/slackcapture"
	"github.com/keyaudit/keyaudit/report"
)

const asOf = "2026-11-24T00:00:00Z"

// keyaudit runs the command as a user would and returns its exit code and outputs.
func keyaudit(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

func decode(t *testing.T, s string) report.Report {
	t.Helper()
	var r report.Report
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		t.Fatalf("output is not a JSON report: %v\n%s", err, s)
	}
	return r
}

func TestBadInputExitsTwoWithOneLine(t *testing.T) {
	dir := t.TempDir()
	badConfig := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(badConfig, []byte("thresholds:\n  unused_days: -3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	accountsFile := filepath.Join(dir, "accounts.txt")
	if err := os.WriteFile(accountsFile, []byte("111111111111\n12345\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	report := golden.Path("credential-reports/realistic.csv")
	tests := []struct {
		name string
		args []string
		want string // in the one line on standard error
	}{
		{"unknown command", []string{"audit"}, `unknown command "audit"`},
		{"unknown flag", []string{"scan", "--bogus"}, "flag provided but not defined: -bogus"},
		{"bad as-of", []string{"scan", "--credential-report", report, "--as-of", "yesterday"}, `--as-of "yesterday"`},
		{"missing file", []string{"scan", "--credential-report", filepath.Join(dir, "nope.csv")}, "nope.csv"},
		{"malformed report", []string{"scan", "--credential-report", golden.Path("credential-reports/bad-timestamp.csv")}, "bad-timestamp.csv:"},
		{"bad config", []string{"scan", "--credential-report", report, "--config", badConfig}, "bad.yaml:2"},
		{"bad format", []string{"scan", "--credential-report", report, "--format", "xml"}, `"xml"`},
		{"bad fail-on", []string{"scan", "--credential-report", report, "--fail-on", "severe"}, `"severe"`},
		{"bad account", []string{"scan", "--accounts", "12345"}, `"12345" is not an AWS account ID`},
		{"bad accounts file", []string{"scan", "--accounts-file", accountsFile}, "accounts.txt:2"},
		{"bad role name", []string{"scan", "--role-name", "bad role"}, `role name "bad role"`},
		{"bad concurrency", []string{"scan", "--concurrency", "0"}, "--concurrency"},
		{"bad trail days", []string{"scan", "--trail-days", "91"}, "--trail-days"},
		{"reports and org", []string{"scan", "--credential-report", report, "--org"}, "cannot be combined"},
		{"stray argument", []string{"scan", "extra"}, `unexpected argument "extra"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := keyaudit(t, "", tt.args...)
			if code != exitUsage {
				t.Errorf("exit code %d, want %d; stderr: %s", code, exitUsage, stderr)
			}
			if lines := strings.Count(strings.TrimRight(stderr, "\n"), "\n") + 1; lines != 1 {
				t.Errorf("stderr has %d lines, want one:\n%s", lines, stderr)
			}
			if !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr %q does not mention %q", stderr, tt.want)
			}
			if strings.Contains(stderr, "goroutine") || strings.Contains(stderr, "panic") {
				t.Errorf("stderr shows a stack trace: %s", stderr)
			}
		})
	}
}

func TestHelpExitsZero(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"scan", "--help"}, {"whois", "-h"}, {"rules", "--help"}} {
		code, stdout, _ := keyaudit(t, "", args...)
		if code != exitOK || !strings.Contains(stdout, "Usage") {
			t.Errorf("%v: exit %d, stdout %q", args, code, stdout)
		}
	}
}

func TestOfflineScan(t *testing.T) {
	file := golden.Path("credential-reports/realistic.csv")
	code, stdout, stderr := keyaudit(t, "", "scan", "--credential-report", file, "--as-of", asOf, "--format", "json")
	if code != exitOK {
		t.Fatalf("exit %d, want 0 (no --fail-on); stderr: %s", code, stderr)
	}
	r := decode(t, stdout)
	for _, rule := range []string{"root-access-key", "key-rotation", "key-unused", "key-setup-unused", "key-two-active", "key-inactive", "key-without-mfa"} {
		if r.Summary.ByRule[rule] == 0 {
			t.Errorf("rule %s did not fire on the realistic fixture; summary %v", rule, r.Summary.ByRule)
		}
	}
	golden.ValidReport(t, []byte(stdout))

	code, _, _ = keyaudit(t, "", "scan", "--credential-report", file, "--as-of", asOf, "--format", "json", "--fail-on", "high")
	if code != exitFindings {
		t.Errorf("with --fail-on high: exit %d, want %d", code, exitFindings)
	}
}

func TestOutDirWritesEveryFormat(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	code, stdout, stderr := keyaudit(t, "", "scan", "--credential-report", golden.Path("credential-reports/realistic.csv"), "--as-of", asOf, "--out", dir)
	if code != exitOK {
		t.Fatalf("exit %d; stderr: %s", code, stderr)
	}
	if stdout != "" {
		t.Errorf("wrote to standard output with --out: %q", stdout)
	}
	for _, f := range report.Formats {
		if st, err := os.Stat(filepath.Join(dir, f.FileName())); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f.FileName(), err)
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("temporary file left behind: %s", e.Name())
		}
	}
}

// simEnv points the standard credential chain at the simulator, as the
// management account of the small organization.
func simEnv(t *testing.T) (*awssim.Server, string) {
	t.Helper()
	w, err := awssim.LoadWorld(golden.Path("aws/org-small.json"))
	if err != nil {
		t.Fatal(err)
	}
	at, _ := time.Parse(time.RFC3339, asOf)
	srv := awssim.NewServer(w, awssim.WithClock(func() time.Time { return at }), awssim.WithReportCalls(0))
	t.Cleanup(srv.Close)
	creds := srv.Credentials(w.Management().ID)
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID":           creds.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY":       creds.SecretAccessKey,
		"AWS_SESSION_TOKEN":           creds.SessionToken,
		"AWS_REGION":                  "us-east-1",
		"AWS_ENDPOINT_URL":            srv.URL,
		"AWS_EC2_METADATA_DISABLED":   "true",
		"AWS_CONFIG_FILE":             filepath.Join(dir, "config"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
		"AWS_PROFILE":                 "",
	} {
		t.Setenv(k, v)
	}
	return srv, creds.SecretAccessKey
}

func TestScanOrganizationLive(t *testing.T) {
	_, secret := simEnv(t)
	code, stdout, stderr := keyaudit(t, "", "scan", "--org", "--as-of", asOf, "--format", "json", "--concurrency", "3")
	if code != exitIncomplete {
		t.Errorf("exit %d, want %d (two accounts could not be audited); stderr: %s", code, exitIncomplete, stderr)
	}
	r := decode(t, stdout)
	if len(r.Accounts) != 5 {
		t.Errorf("report lists %d accounts, want all 5 targets", len(r.Accounts))
	}
	for _, a := range r.Accounts {
		if a.Status == "error" && a.Error == "" {
			t.Errorf("account %s in error without a reason", a.ID)
		}
	}
	if strings.Contains(stdout+stderr, secret) {
		t.Error("the secret access key appears in the output")
	}
}

func TestScanCurrentAccount(t *testing.T) {
	simEnv(t)
	code, stdout, stderr := keyaudit(t, "", "scan", "--as-of", asOf, "--format", "json")
	if code != exitOK {
		t.Fatalf("exit %d; stderr: %s", code, stderr)
	}
	r := decode(t, stdout)
	if len(r.Accounts) != 1 || r.Accounts[0].ID != "111111111111" || r.Accounts[0].Status != "ok" {
		t.Errorf("accounts = %+v, want the caller's own account, ok", r.Accounts)
	}
}

func TestDemo(t *testing.T) {
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	code, stdout, stderr := keyaudit(t, "", "scan", "--demo")
	if code != exitIncomplete {
		t.Errorf("exit %d, want %d: the demo organization has an account without the audit role; stderr: %s", code, exitIncomplete, stderr)
	}
	if !strings.Contains(stderr, "DEMO") || !strings.Contains(stdout, "DEMO") {
		t.Errorf("demo data is not labelled as such:\n%s\n%s", stderr, stdout)
	}
	for _, rule := range []string{"root-access-key", "key-rotation", "key-unused", "key-two-active", "key-without-mfa"} {
		if !strings.Contains(stdout, rule) {
			t.Errorf("demo table lacks %s:\n%s", rule, stdout)
		}
	}
}

func TestRulesListsCatalogue(t *testing.T) {
	code, stdout, _ := keyaudit(t, "", "rules")
	if code != exitOK {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"root-access-key", "key-rotation", "max_key_age_days=90", "key-unused", "unused_days=45", "key-foreign-account", "1.14"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("rules output lacks %q:\n%s", want, stdout)
		}
	}
}

func TestOutS3(t *testing.T) {
	fake := gofakes3.New(s3mem.New())
	srv := httptest.NewServer(fake.Server())
	defer srv.Close()
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": "AKIAS3TESTKEY0000000", "AWS_SECRET_ACCESS_KEY": "s3-test-secret", "AWS_REGION": "us-east-1",
		"AWS_ENDPOINT_URL_S3": srv.URL, "AWS_EC2_METADATA_DISABLED": "true",
		"AWS_CONFIG_FILE": filepath.Join(dir, "config"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
	} {
		t.Setenv(k, v)
	}
	client := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("AKIAS3TESTKEY0000000", "s3-test-secret", "")})
	if _, err := client.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String("audits")}); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := keyaudit(t, "", "scan", "--credential-report", golden.Path("credential-reports/realistic.csv"), "--as-of", asOf, "--out", "s3://audits/keyaudit")
	if code != exitOK || stdout != "" || !strings.Contains(stderr, "s3://audits/keyaudit/") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	out, err := client.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String("audits")})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(out.Contents); n != len(report.Formats)+1 {
		t.Errorf("%d objects, want every format and latest.json", n)
	}
	if code, _, stderr := keyaudit(t, "", "scan", "--credential-report", golden.Path("credential-reports/realistic.csv"), "--out", "s3://"); code != exitUsage {
		t.Errorf("--out s3:// exit %d: %s", code, stderr)
	}
}

func TestProgressAndLogs(t *testing.T) {
	simEnv(t)
	code, _, stderr := keyaudit(t, "", "scan", "--org", "--as-of", asOf, "--format", "json", "--log-format", "json", "--verbose")
	if code != exitIncomplete {
		t.Fatalf("exit %d", code)
	}
	if strings.Contains(stderr, "accounts ·") {
		t.Error("a progress bar was drawn on a standard error that is not a terminal")
	}
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	audited := 0
	for _, l := range lines {
		var entry map[string]any
		if err := json.Unmarshal([]byte(l), &entry); err != nil {
			t.Fatalf("log line is not JSON: %q", l)
		}
		if entry["run_id"] == nil {
			t.Errorf("log line without run_id: %q", l)
		}
		if entry["msg"] == "account audited" || entry["msg"] == "account not audited" {
			audited++
		}
	}
	if audited != 5 {
		t.Errorf("%d account log lines, want one per account (5)", audited)
	}

	// On a terminal the bar shows accounts, failures and findings.
	var buf bytes.Buffer
	p := &progress{w: &buf, on: true, total: 2, start: time.Now()}
	p.done(inventory.Account{ID: "111111111111", Status: inventory.StatusOK}, 3)
	p.done(inventory.Account{ID: "222222222222", Status: inventory.StatusError}, 0)
	if got := buf.String(); !strings.Contains(got, "2/2 accounts · 1 failed · 3 findings") {
		t.Errorf("progress = %q", got)
	}
}

func TestScanPostsToSlack(t *testing.T) {
	sl := slackcapture.Start()
	defer sl.Stop()
	t.Setenv("KEYAUDIT_SLACK_TOKEN", "xoxb-cli-secret")
	t.Setenv("KEYAUDIT_SLACK_API_URL", sl.GetAPIURL())
	file := golden.Path("credential-reports/realistic.csv")

	// Yesterday's report: everything but the root key was already known.
	_, yesterday, _ := keyaudit(t, "", "scan", "--credential-report", file, "--as-of", asOf, "--format", "json")
	var prev report.Report
	_ = json.Unmarshal([]byte(yesterday), &prev)
	prev.Findings = prev.Findings[1:]
	data, _ := json.Marshal(prev)
	previous := filepath.Join(t.TempDir(), "previous.json")
	if err := os.WriteFile(previous, data, 0o644); err != nil {
		t.Fatal(err)
	}

	code, _, stderr := keyaudit(t, "", "scan", "--credential-report", file, "--as-of", asOf, "--format", "json", "--slack", "--slack-channel", "#security", "--previous", previous)
	if code != exitOK || !strings.Contains(stderr, "posted to Slack: 1 new, 0 resolved") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	posts := sl.Posts()
	if len(posts) != 1 || posts[0].Channel != "#security" {
		t.Fatalf("posts = %+v", posts)
	}
	if msg, _ := json.Marshal(posts[0].Blocks); !strings.Contains(string(msg), "New since the last run (1)") || !strings.Contains(string(msg), "root-access-key") {
		t.Errorf("message = %s", msg)
	}
	if strings.Contains(stderr, "xoxb-cli-secret") {
		t.Error("the token appears on standard error")
	}

	t.Setenv("KEYAUDIT_SLACK_TOKEN", "")
	if code, _, stderr := keyaudit(t, "", "scan", "--credential-report", file, "--slack"); code != exitUsage || !strings.Contains(stderr, "KEYAUDIT_SLACK_WEBHOOK_URL") {
		t.Errorf("--slack without a secret: exit %d, %q", code, stderr)
	}
}
