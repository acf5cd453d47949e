package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/spf13/pflag"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyaudit/keyaudit/audit/inventory"
	"github.com/keyaudit/keyaudit/internal/awssim"
	"github.com/keyaudit/keyaudit/internal/golden"
	"github.com/keyaudit/keyaudit/internal/s3capture"
	"github.com/keyaudit/keyaudit/internal/slackcapture"
	"github.com/keyaudit/keyaudit/report"
)

const asOf = "2026-11-24T00:00:00Z"

// keyaudit runs the command in-process as a user would and returns its
// exit code and outputs.
func keyaudit(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, os.Getenv, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

func decode(t *testing.T, s string) report.Report {
	t.Helper()
	var r report.Report
	require.NoError(t, json.Unmarshal([]byte(s), &r), "output is a JSON report:\n%s", s)
	return r
}

func realistic() string { return golden.Path("credential-reports/realistic.csv") }

func TestBadInputExitsTwoWithOneLine(t *testing.T) {
	dir := t.TempDir()
	badConfig := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(badConfig, []byte("thresholds:\n  unused_days: -3\n"), 0o600), "write the bad config")
	accountsFile := filepath.Join(dir, "accounts.txt")
	require.NoError(t, os.WriteFile(accountsFile, []byte("111111111111\n12345\n"), 0o600), "write the accounts file")
	tests := []struct {
		name string
		args []string
		want string // in the one line on standard error
	}{
		{"unknown command", []string{"audit"}, `unknown command "audit"`},
		{"unknown flag", []string{"scan", "--bogus"}, "unknown flag: --bogus"},
		{"bad as-of", []string{"scan", "--credential-report", realistic(), "--as-of", "yesterday"}, `--as-of "yesterday"`},
		{"missing file", []string{"scan", "--credential-report", filepath.Join(dir, "nope.csv")}, "nope.csv"},
		{"malformed report", []string{"scan", "--credential-report", golden.Path("credential-reports/bad-timestamp.csv")}, "bad-timestamp.csv:"},
		{"bad config", []string{"scan", "--credential-report", realistic(), "--config", badConfig}, "bad.yaml:2"},
		{"config key twice", []string{"scan", "--credential-report", realistic(), "--config", golden.Path("config/duplicate-key.yaml")}, `duplicate-key.yaml:7: "unused_days" is given twice (first on line 4)`},
		{"config two documents", []string{"scan", "--credential-report", realistic(), "--config", golden.Path("config/two-documents.yaml")}, "two-documents.yaml:5: a second YAML document"},
		{"report column twice", []string{"scan", "--credential-report", golden.Path("credential-reports/duplicate-column.csv")}, `column "mfa_active" appears twice`},
		{"bad format", []string{"scan", "--credential-report", realistic(), "--format", "xml"}, `"xml"`},
		{"bad fail-on", []string{"scan", "--credential-report", realistic(), "--fail-on", "severe"}, `"severe"`},
		{"bad account", []string{"scan", "--accounts", "12345"}, `"12345" is not an AWS account ID`},
		{"bad accounts file", []string{"scan", "--accounts-file", accountsFile}, "accounts.txt:2"},
		{"bad role name", []string{"scan", "--role-name", "bad role"}, `role name "bad role"`},
		{"bad concurrency", []string{"scan", "--concurrency", "201"}, "--concurrency must be from 1 to 200"},
		{"bad trail days", []string{"scan", "--trail-days", "91"}, "--trail-days"},
		{"reports and org", []string{"scan", "--credential-report", realistic(), "--org"}, "--org has no meaning for an offline audit"},
		{"stray argument", []string{"scan", "extra"}, `unexpected argument "extra"`},
		{"previous without slack", []string{"scan", "--credential-report", realistic(), "--previous", "x.json"}, "needs --slack or --security-hub"},
		{"rules format", []string{"rules", "--format", "xml"}, `--format "xml"`},
		{"no key IDs", []string{"whois", "--demo"}, "no access key IDs"},
		// Issue 25 item 10: each of these was accepted.
		{"timeout below the floor", []string{"scan", "--demo", "--timeout", "19s"}, "--timeout 19s is too short: no account starts with less than 20s left, and the accounts must be listed first; give at least 30s"},
		{"role path //", []string{"scan", "--demo", "--role-path", "//"}, `role path "//" is not a valid IAM path`},
		{"unknown partition", []string{"scan", "--demo", "--region", "eu-isoe-west-1"}, `--region "eu-isoe-west-1" is in a partition keyaudit does not support`},
		{"implausible as-of", []string{"scan", "--credential-report", realistic(), "--as-of", "0001-01-01"}, "--as-of 0001-01-01 is not a plausible time to judge keys by"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := keyaudit(t, "", tt.args...)
			assert.Equal(t, exitUsage, code, "exit code of %s; stderr: %s", tt.name, stderr)
			assert.Equal(t, 1, strings.Count(stderr, "\n"), "lines on stderr for %s:\n%s", tt.name, stderr)
			assert.Contains(t, stderr, tt.want, "stderr of %s", tt.name)
			assert.True(t, strings.HasPrefix(stderr, "keyaudit"), "stderr of %s starts with the command: %q", tt.name, stderr)
			assert.NotContains(t, stderr, "goroutine", "stack trace for %s", tt.name)
		})
	}
	// With --log-format json the one line is JSON, whichever flag is wrong.
	for _, args := range [][]string{
		{"scan", "--credential-report", realistic(), "--as-of", "yesterday"}, {"scan", "--credential-report", realistic(), "--format", "xml"},
		{"scan", "--credential-report", realistic(), "--config", badConfig}, {"scan", "--credential-report", realistic(), "--concurrency", "0"},
		{"whois", "--demo"}, {"local", "--timeout", "-1s"},
	} {
		code, _, stderr := keyaudit(t, "", append(args, "--log-format", "json")...)
		assert.Equal(t, exitUsage, code, "exit code of %v; stderr: %s", args, stderr)
		var line struct{ Level, Msg, Command string }
		require.NoError(t, json.Unmarshal([]byte(stderr), &line), "JSON logs, %v: the error is one JSON line: %q", args, stderr)
		assert.Equal(t, "ERROR", line.Level, "JSON logs, %v: level", args)
		assert.Equal(t, "keyaudit "+args[0], line.Command, "JSON logs, %v: command", args)
		assert.NotEmpty(t, line.Msg, "JSON logs, %v: message", args)
	}
}

func TestHelpExitsZero(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"scan", "--help"}, {"whois", "-h"}, {"rules", "--help"}, {"help", "scan"}, {}} {
		code, stdout, _ := keyaudit(t, "", args...)
		assert.Equal(t, exitOK, code, "exit code of %v", args)
		assert.Contains(t, stdout, "Usage:", "help of %v", args)
	}
}

func TestOfflineScan(t *testing.T) {
	code, stdout, stderr := keyaudit(t, "", "scan", "--credential-report", realistic(), "--as-of", asOf, "--format", "json")
	require.Equal(t, exitOK, code, "exit code without --fail-on; stderr: %s", stderr)
	r := decode(t, stdout)
	for _, rule := range []string{"root-access-key", "key-rotation", "key-unused", "key-setup-unused", "key-two-active", "key-inactive", "key-without-mfa"} {
		assert.Positive(t, r.Summary.ByRule[rule], "findings of %s on the realistic fixture", rule)
	}
	golden.ValidReport(t, []byte(stdout))

	code, _, _ = keyaudit(t, "", "scan", "--credential-report", realistic(), "--as-of", asOf, "--format", "json", "--fail-on", "high")
	assert.Equal(t, exitFindings, code, "exit code with --fail-on high")
}

func TestOutDirWritesEveryFormat(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	code, stdout, stderr := keyaudit(t, "", "scan", "--credential-report", realistic(), "--as-of", asOf, "--out", dir)
	require.Equal(t, exitOK, code, "exit code; stderr: %s", stderr)
	assert.Empty(t, stdout, "standard output with --out")
	for _, f := range report.Formats {
		path := filepath.Join(dir, f.FileName())
		st, err := os.Stat(path)
		if assert.NoError(t, err, "stat %s", f.FileName()) {
			assert.Positive(t, st.Size(), "size of %s", f.FileName())
			assert.Zero(t, st.Mode().Perm()&0o077, "%s is readable by others: %s", f.FileName(), st.Mode())
		}
		assert.Contains(t, stderr, "wrote "+path+"\n", "--out lists %s", f.FileName())
	}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err, "read the output directory")
	for _, e := range entries {
		assert.False(t, strings.HasPrefix(e.Name(), "."), "temporary file left behind: %s", e.Name())
	}

	quiet := filepath.Join(t.TempDir(), "quiet")
	code, _, stderr = keyaudit(t, "", "scan", "--credential-report", realistic(), "--as-of", asOf, "--out", quiet, "--quiet")
	assert.Equal(t, exitOK, code, "exit code with --quiet")
	assert.Empty(t, stderr, "stderr with --out and --quiet")

	// With JSON logs the files written are logged, at info level (--verbose).
	logged := filepath.Join(t.TempDir(), "logged")
	code, _, stderr = keyaudit(t, "", "scan", "--credential-report", realistic(), "--as-of", asOf, "--out", logged, "--log-format", "json", "--verbose")
	assert.Equal(t, exitOK, code, "exit code with JSON logs; stderr: %s", stderr)
	wrote := 0
	for _, l := range strings.Split(strings.TrimSpace(stderr), "\n") {
		var line struct{ Level, Msg string }
		require.NoError(t, json.Unmarshal([]byte(l), &line), "with JSON logs every line is JSON: %q", l)
		if strings.HasPrefix(line.Msg, "wrote "+logged) {
			assert.Equal(t, "INFO", line.Level, "level of %q", line.Msg)
			wrote++
		}
	}
	assert.Equal(t, len(report.Formats), wrote, "files written, logged")
}

func TestUnwritableOutStopsBeforeTheAudit(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(file, nil, 0o600), "create a file where the directory should be")
	code, _, stderr := keyaudit(t, "", "scan", "--credential-report", realistic(), "--out", filepath.Join(file, "out"))
	assert.Equal(t, exitUsage, code, "exit code when --out cannot be written; stderr: %s", stderr)
	assert.Contains(t, stderr, "keyaudit scan: --out "+filepath.Join(file, "out"), "stderr")
}

// failingWriter is a standard output that cannot be written.
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

func TestUndeliveredReportIsIncomplete(t *testing.T) {
	var stderr bytes.Buffer
	code := run(context.Background(), []string{"scan", "--credential-report", realistic(), "--format", "json", "--fail-on", "low"},
		os.Getenv, strings.NewReader(""), failingWriter{}, &stderr)
	assert.Equal(t, exitIncomplete, code, "exit code when the report cannot be written (beats --fail-on); stderr: %s", stderr.String())
	assert.Contains(t, stderr.String(), "keyaudit scan: write report", "stderr")
}

// simEnv points the standard credential chain at the simulator, as the
// management account of the small organization.
func simEnv(t *testing.T) (*awssim.Server, string) {
	t.Helper()
	w, err := awssim.LoadWorld(golden.Path("aws/org-small.json"))
	require.NoError(t, err, "load the small organization")
	return simEnvOf(t, w)
}

// simEnvOf is simEnv for the world w, served with opts.
func simEnvOf(t *testing.T, w *awssim.World, opts ...awssim.Option) (*awssim.Server, string) {
	t.Helper()
	at, err := time.Parse(time.RFC3339, asOf)
	require.NoError(t, err, "parse asOf")
	srv := awssim.NewServer(w, append([]awssim.Option{awssim.WithClock(func() time.Time { return at }), awssim.WithReportCalls(0)}, opts...)...)
	t.Cleanup(srv.Close)
	creds := srv.Credentials(w.Management().ID)
	isolatedAWS(t, map[string]string{
		"AWS_ACCESS_KEY_ID":     creds.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY": creds.SecretAccessKey,
		"AWS_SESSION_TOKEN":     creds.SessionToken,
		"AWS_REGION":            "us-east-1",
		"AWS_ENDPOINT_URL":      srv.URL,
		"AWS_PROFILE":           "",
	})
	return srv, creds.SecretAccessKey
}

// isolatedAWS sets vars for the test over an AWS environment of its own: no
// instance metadata, and shared config and credentials files in an empty
// directory (vars may name others).
func isolatedAWS(t *testing.T, vars map[string]string) {
	t.Helper()
	dir := t.TempDir()
	env := map[string]string{"AWS_EC2_METADATA_DISABLED": "true",
		"AWS_CONFIG_FILE": filepath.Join(dir, "config"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials")}
	maps.Copy(env, vars)
	for k, v := range env {
		t.Setenv(k, v)
	}
}

// localS3 starts a local S3 holding the bucket "audits", for --out
// s3://audits/…, and returns it with a client of it under keys of its own.
func localS3(t *testing.T) (*s3capture.Server, *s3.Client) {
	t.Helper()
	srv := s3capture.Start()
	t.Cleanup(srv.Close)
	client := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("AKIAS3TESTKEY0000000", "s3-test-secret", "")})
	_, err := client.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String("audits")})
	require.NoError(t, err, "create the bucket")
	return srv, client
}

func TestScanOrganizationLive(t *testing.T) {
	_, secret := simEnv(t)
	code, stdout, stderr := keyaudit(t, "", "scan", "--org", "--as-of", asOf, "--format", "json", "--concurrency", "3", "--fail-on", "low")
	assert.Equal(t, exitIncomplete, code, "exit code: two accounts could not be audited, which beats --fail-on; stderr: %s", stderr)
	r := decode(t, stdout)
	assert.Len(t, r.Accounts, 5, "accounts in the report")
	for _, a := range r.Accounts {
		if inventory.Status(a.Status) == inventory.StatusError {
			assert.NotEmpty(t, a.Error, "reason for account %s", a.ID)
		}
		if a.ID == "444444444444" {
			assert.Contains(t, a.Error, "--external-id", "the CLI names its flag in the hint for a role it cannot assume")
		}
	}
	assert.NotContains(t, stdout+stderr, secret, "the secret access key in the output")

	code, _, stderr = keyaudit(t, "", "scan", "--org", "--exclude-accounts", "333333333333,444444444444", "--as-of", asOf, "--format", "json")
	assert.Equal(t, exitOK, code, "exit code with the failing accounts excluded; stderr: %s", stderr)
}

func TestScanCurrentAccount(t *testing.T) {
	simEnv(t)
	code, stdout, stderr := keyaudit(t, "", "scan", "--as-of", asOf, "--format", "json")
	require.Equal(t, exitOK, code, "exit code; stderr: %s", stderr)
	r := decode(t, stdout)
	require.Len(t, r.Accounts, 1, "accounts: the caller's own")
	assert.Equal(t, "111111111111", r.Accounts[0].ID, "the caller's account")
	assert.Equal(t, inventory.StatusOK, inventory.Status(r.Accounts[0].Status), "status of the caller's account")
}

func TestNoCredentialsIsAUsageError(t *testing.T) {
	isolatedAWS(t, map[string]string{
		"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SESSION_TOKEN": "", "AWS_PROFILE": "", "AWS_REGION": "us-east-1",
		"AWS_ENDPOINT_URL": "http://127.0.0.1:9",
	})
	code, stdout, stderr := keyaudit(t, "", "scan", "--format", "json")
	assert.Equal(t, exitUsage, code, "exit code without credentials; stderr: %s", stderr)
	assert.Empty(t, stdout, "no report without credentials")
	assert.Equal(t, 1, strings.Count(stderr, "\n"), "one line on stderr:\n%s", stderr)
	assert.Contains(t, stderr, "keyaudit scan: no AWS credentials found: sign in", "stderr without credentials")
	assert.NotContains(t, stderr, "IMDS", "SDK jargon without credentials")
	code, _, stderr = keyaudit(t, "", "scan", "--profile", "nope")
	assert.Equal(t, exitUsage, code, "exit code for an unknown profile; stderr: %s", stderr)
	assert.Contains(t, stderr, `AWS profile "nope" not found`, "stderr for an unknown profile")
}

func TestDemo(t *testing.T) {
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	code, stdout, stderr := keyaudit(t, "", "scan", "--demo")
	assert.Equal(t, exitIncomplete, code, "exit code: the demo organization has an account without the audit role; stderr: %s", stderr)
	assert.Contains(t, stderr, "DEMO", "the banner labels the demo on stderr")
	assert.Contains(t, stdout, "DEMO", "the table labels the demo")
	for _, rule := range []string{"root-access-key", "key-rotation", "key-unused", "key-two-active", "key-without-mfa"} {
		assert.Contains(t, stdout, rule, "demo table shows %s", rule)
	}
	assert.NotContains(t, stdout, "\x1b[", "colour on a standard output that is not a terminal")
}

func TestRulesListsCatalogue(t *testing.T) {
	code, stdout, _ := keyaudit(t, "", "rules")
	require.Equal(t, exitOK, code, "exit code")
	for _, want := range []string{"root-access-key", "key-rotation", "max_key_age_days=90", "key-unused", "unused_days=45", "key-foreign-account", "CIS v6.0.0", "2.13"} {
		assert.Contains(t, stdout, want, "rules table")
	}
	code, stdout, _ = keyaudit(t, "", "rules", "--cis-version", "v4.0.1")
	require.Equal(t, exitOK, code, "exit code with --cis-version")
	assert.Contains(t, stdout, "CIS v4.0.1", "header names the version")
	assert.Contains(t, stdout, "1.14", "key-rotation in v4.0.1 numbering")
	code, _, stderr := keyaudit(t, "", "rules", "--cis-version", "v9")
	assert.Equal(t, exitUsage, code, "unknown version")
	assert.Contains(t, stderr, "--cis-version", "the error names the flag")
}

func TestOutS3(t *testing.T) {
	srv, client := localS3(t)
	isolatedAWS(t, map[string]string{
		"AWS_ACCESS_KEY_ID": "AKIAS3TESTKEY0000000", "AWS_SECRET_ACCESS_KEY": "s3-test-secret", "AWS_REGION": "us-east-1",
		"AWS_ENDPOINT_URL_S3": srv.URL,
	})
	code, stdout, stderr := keyaudit(t, "", "scan", "--credential-report", realistic(), "--as-of", asOf, "--out", "s3://audits/keyaudit")
	require.Equal(t, exitOK, code, "exit code; stderr: %s", stderr)
	assert.Empty(t, stdout, "standard output with --out s3://")
	assert.Contains(t, stderr, "s3://audits/keyaudit/", "stderr names where the report went")
	assert.NotContains(t, stderr, "WARN", "a stray SDK warning")
	out, err := client.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String("audits")})
	require.NoError(t, err, "list the bucket")
	assert.Len(t, out.Contents, len(report.Formats)+1, "objects: every format and latest.json")

	code, _, stderr = keyaudit(t, "", "scan", "--credential-report", realistic(), "--out", "s3://audits/keyaudit", "--quiet")
	assert.Equal(t, exitOK, code, "exit code with --quiet")
	assert.Empty(t, stderr, "stderr with --quiet")

	code, _, stderr = keyaudit(t, "", "scan", "--credential-report", realistic(), "--out", "s3://")
	assert.Equal(t, exitUsage, code, "exit code for --out s3://; stderr: %s", stderr)
}

// TestOutS3CheckedBeforeTheAudit: a missing bucket, or an S3 nobody
// answers, stops the run at once with exit 2, before any audit work.
func TestOutS3CheckedBeforeTheAudit(t *testing.T) {
	fake, _ := localS3(t)
	isolatedAWS(t, map[string]string{
		"AWS_ACCESS_KEY_ID": "AKIAS3TESTKEY0000000", "AWS_SECRET_ACCESS_KEY": "s3-test-secret", "AWS_REGION": "us-east-1",
	})
	for name, endpoint := range map[string]string{"missing bucket": fake.URL, "unreachable S3": "http://127.0.0.1:9"} {
		t.Setenv("AWS_ENDPOINT_URL_S3", endpoint)
		start := time.Now()
		code, stdout, stderr := keyaudit(t, "", "scan", "--credential-report", realistic(), "--as-of", asOf, "--out", "s3://nobucket/keyaudit")
		assert.Equal(t, exitUsage, code, "exit code with %s; stderr: %s", name, stderr)
		assert.Empty(t, stdout, "no report with %s", name)
		assert.Contains(t, stderr, "--out s3://nobucket/keyaudit: bucket nobucket cannot be reached", "stderr with %s", name)
		assert.Less(t, time.Since(start), 10*time.Second, "time to refuse with %s", name)
	}
}

// TestTimeoutStillWritesTheReport: when --timeout leaves accounts out, the
// report is still written to S3, with them as skipped (issue 10 obs 4).
// The audit's deadline is the scheduler's: no account starts without the
// time it needs, so this run ends before the deadline itself; delivery has
// its own budget either way (deliveryBudget).
func TestTimeoutStillWritesTheReport(t *testing.T) {
	w, err := awssim.LoadWorld(golden.Path("aws/org-small.json"))
	require.NoError(t, err, "load the small organization")
	for i := range w.Accounts {
		w.Accounts[i].Faults.LatencyMS = 1000
	}
	srv := awssim.NewServer(w, awssim.WithReportCalls(0))
	defer srv.Close()
	fake, client := localS3(t)
	creds := srv.Credentials(w.Management().ID)
	isolatedAWS(t, map[string]string{
		"AWS_ACCESS_KEY_ID": creds.AccessKeyID, "AWS_SECRET_ACCESS_KEY": creds.SecretAccessKey, "AWS_SESSION_TOKEN": creds.SessionToken,
		"AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": srv.URL, "AWS_ENDPOINT_URL_S3": fake.URL, "AWS_PROFILE": "",
	})

	code, _, stderr := keyaudit(t, "", "scan", "--org", "--concurrency", "1", "--timeout", "30s", "--out", "s3://audits/keyaudit")
	assert.Equal(t, exitIncomplete, code, "exit code when --timeout stops the audit; stderr: %s", stderr)
	assert.NotContains(t, stderr, "s3:PutObject", "the deadline is not blamed on a permission")
	obj, err := client.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("audits"), Key: aws.String("keyaudit/latest.json")})
	require.NoError(t, err, "latest.json written after the timeout; stderr: %s", stderr)
	r, err := report.ReadReport(obj.Body)
	require.NoError(t, err, "read latest.json")
	skipped := 0
	for _, a := range r.Accounts {
		if inventory.Status(a.Status) == inventory.StatusSkipped {
			skipped++
		}
	}
	assert.Positive(t, skipped, "accounts the timeout left out are in the report as skipped")
}

func TestProgressAndLogs(t *testing.T) {
	simEnv(t)
	code, _, stderr := keyaudit(t, "", "scan", "--org", "--as-of", asOf, "--format", "json", "--log-format", "json", "--verbose")
	require.Equal(t, exitIncomplete, code, "exit code; stderr: %s", stderr)
	assert.NotContains(t, stderr, "accounts ·", "a progress bar drawn on a standard error that is not a terminal")
	audited := 0
	for _, l := range strings.Split(strings.TrimSpace(stderr), "\n") {
		var entry map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &entry), "log line is JSON: %q", l)
		assert.NotNil(t, entry["run_id"], "run_id in log line %q", l)
		if entry["msg"] == "account audited" || entry["msg"] == "account not audited" {
			audited++
		}
	}
	assert.Equal(t, 5, audited, "account log lines, one per account")

	// On a terminal the bar shows accounts, failures and findings.
	var buf bytes.Buffer
	p := &progress{w: &buf, on: true, total: 2, start: time.Now()}
	p.done(inventory.Account{ID: "111111111111", Status: inventory.StatusOK}, 3)
	p.done(inventory.Account{ID: "222222222222", Status: inventory.StatusError}, 0)
	assert.Contains(t, buf.String(), "2/2 accounts · 1 failed · 3 findings", "progress line")
}

func TestScanPostsToSlack(t *testing.T) {
	sl := slackcapture.Start()
	defer sl.Stop()
	t.Setenv("KEYAUDIT_SLACK_TOKEN", "xoxb-cli-secret")
	t.Setenv("KEYAUDIT_SLACK_API_URL", sl.GetAPIURL())

	// Yesterday's report: everything but the root key was already known.
	_, yesterday, _ := keyaudit(t, "", "scan", "--credential-report", realistic(), "--as-of", asOf, "--format", "json")
	prev := decode(t, yesterday)
	require.NotEmpty(t, prev.Findings, "findings yesterday")
	prev.Findings = prev.Findings[1:]
	data, err := json.Marshal(prev)
	require.NoError(t, err, "marshal yesterday's report")
	previous := filepath.Join(t.TempDir(), "previous.json")
	require.NoError(t, os.WriteFile(previous, data, 0o600), "write yesterday's report")

	code, _, stderr := keyaudit(t, "", "scan", "--credential-report", realistic(), "--as-of", asOf, "--format", "json", "--slack", "--slack-channel", "#security", "--previous", previous)
	require.Equal(t, exitOK, code, "exit code; stderr: %s", stderr)
	assert.Contains(t, stderr, "posted to Slack: keyaudit: 1 new · ", "stderr")
	posts := sl.Posts()
	require.Len(t, posts, 1, "Slack posts")
	assert.Equal(t, "#security", posts[0].Channel, "channel")
	msg, err := json.Marshal(posts[0].Blocks)
	require.NoError(t, err, "marshal the message")
	assert.Contains(t, string(msg), "New since the last run (1)", "message")
	assert.Contains(t, string(msg), "root-access-key", "message")
	assert.NotContains(t, stderr, "xoxb-cli-secret", "the token on standard error")

	code, _, stderr = keyaudit(t, "", "scan", "--credential-report", realistic(), "--as-of", asOf, "--format", "json", "--slack", "--slack-channel", "#security", "--previous", previous, "--quiet")
	assert.Equal(t, exitOK, code, "exit code with --quiet")
	assert.Empty(t, stderr, "stderr with --quiet after posting to Slack")

	t.Setenv("KEYAUDIT_SLACK_TOKEN", "")
	code, _, stderr = keyaudit(t, "", "scan", "--credential-report", realistic(), "--slack")
	assert.Equal(t, exitUsage, code, "exit code of --slack without a secret")
	assert.Contains(t, stderr, "KEYAUDIT_SLACK_WEBHOOK_URL", "stderr of --slack without a secret")
}

// TestScanSlackSaysWhatItDid: the line after a post says what the message
// said; a webhook must be https; a failed post says "post to Slack" once and
// never the webhook URL.
func TestScanSlackSaysWhatItDid(t *testing.T) {
	sl := slackcapture.Start()
	defer sl.Stop()
	t.Setenv("KEYAUDIT_SLACK_TOKEN", "xoxb-cli-secret")
	t.Setenv("KEYAUDIT_SLACK_API_URL", sl.GetAPIURL())
	code, _, stderr := keyaudit(t, "", "scan", "--credential-report", realistic(), "--as-of", asOf, "--format", "json", "--slack", "--slack-channel", "#security")
	require.Equal(t, exitOK, code, "case first report: exit code; stderr: %s", stderr)
	require.Len(t, sl.Posts(), 1, "case first report: posts")
	assert.Contains(t, stderr, "posted to Slack: "+sl.Posts()[0].Text+"\n", "case first report: the line says what was posted")
	assert.Contains(t, stderr, "first report", "case first report")
	assert.NotContains(t, stderr, "0 new", "case first report")

	t.Setenv("KEYAUDIT_SLACK_TOKEN", "")
	t.Setenv("KEYAUDIT_SLACK_WEBHOOK_URL", "http://hooks.example/services/T0/B0/secretpath")
	code, _, stderr = keyaudit(t, "", "scan", "--credential-report", realistic(), "--as-of", asOf, "--format", "json", "--slack")
	assert.Equal(t, exitUsage, code, "case http webhook: exit code")
	assert.Equal(t, "keyaudit scan: KEYAUDIT_SLACK_WEBHOOK_URL is not an https:// URL: use the webhook URL Slack gave, https://hooks.slack.com/...\n", stderr, "case http webhook: one line")

	t.Setenv("KEYAUDIT_SLACK_WEBHOOK_URL", "https://127.0.0.1:1/services/T0/B0/secretpath")
	code, _, stderr = keyaudit(t, "", "scan", "--credential-report", realistic(), "--as-of", asOf, "--format", "json", "--slack")
	assert.Equal(t, exitIncomplete, code, "case closed port: exit code; stderr: %s", stderr)
	assert.Equal(t, 1, strings.Count(stderr, "post to Slack"), "case closed port: said once: %s", stderr)
	assert.NotContains(t, stderr, "secretpath", "case closed port: the webhook URL")
}

func TestWorstOutcomeWins(t *testing.T) {
	usage := badInput("bad")
	tests := []struct {
		name string
		errs []error
		want int
	}{
		{"nothing", nil, exitOK},
		{"findings", []error{&exitError{code: exitFindings}}, exitFindings},
		{"incomplete beats findings", []error{&exitError{code: exitFindings}, incomplete(errors.New("lost"))}, exitIncomplete},
		{"usage beats incomplete", []error{incomplete(errors.New("lost")), usage, &exitError{code: exitFindings}}, exitUsage},
		{"untyped is usage", []error{errors.New("cobra")}, exitUsage},
	}
	for _, tt := range tests {
		var stderr bytes.Buffer
		assert.Equal(t, tt.want, exitCode("keyaudit scan", worst(tt.errs...), &stderr, nil), "exit code for %s", tt.name)
	}
	var stderr bytes.Buffer
	exitCode("keyaudit scan", worst(incomplete(errors.New("lost")), usage), &stderr, nil)
	assert.Equal(t, "keyaudit scan: lost\nkeyaudit scan: bad\n", stderr.String(), "every message, one line each")
}

func TestColorFollowsEnvironment(t *testing.T) {
	tests := []struct {
		name     string
		terminal bool
		env      map[string]string
		want     bool
	}{
		{"terminal", true, nil, true},
		{"pipe", false, nil, false},
		{"NO_COLOR", true, map[string]string{"NO_COLOR": "1"}, false},
		{"TERM=dumb", true, map[string]string{"TERM": "dumb"}, false},
		{"forced", false, map[string]string{"CLICOLOR_FORCE": "1"}, true},
		{"forced but NO_COLOR", false, map[string]string{"CLICOLOR_FORCE": "1", "NO_COLOR": "yes"}, false},
		{"CLICOLOR_FORCE=0", false, map[string]string{"CLICOLOR_FORCE": "0"}, false},
	}
	for _, tt := range tests {
		got := colorFor(tt.terminal, func(k string) string { return tt.env[k] })
		assert.Equal(t, tt.want, got, "colour for %s", tt.name)
	}
}

func TestVersionFromBuildInfo(t *testing.T) {
	vcs := func(kv ...string) []debug.BuildSetting {
		var out []debug.BuildSetting
		for i := 0; i < len(kv); i += 2 {
			out = append(out, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return out
	}
	tests := []struct {
		name string
		bi   debug.BuildInfo
		want string
	}{
		{"module version", debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}}, "v1.2.3"},
		{"revision", debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs("vcs.revision", "0123456789abcdef0123", "vcs.time", "2026-11-24T10:00:00Z", "vcs.modified", "false")},
			"revision 0123456789ab, 2026-11-24T10:00:00Z"},
		{"modified", debug.BuildInfo{Settings: vcs("vcs.revision", "0123456789abcdef0123", "vcs.modified", "true")}, "revision 0123456789ab, with uncommitted changes"},
		{"nothing", debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "unknown (built outside version control, with no module version)"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, versionOf(&tt.bi), "version from %s", tt.name)
	}
}

// Flags that scan and whois share mean the same in both, defaults included.
func TestSharedFlagsAgree(t *testing.T) {
	root := newRoot(&env{ctx: context.Background(), getenv: os.Getenv, stdin: strings.NewReader(""), stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}}, nil)
	scan, _, err := root.Find([]string{"scan"})
	require.NoError(t, err, "find scan")
	whois, _, err := root.Find([]string{"whois"})
	require.NoError(t, err, "find whois")
	shared := 0
	whois.Flags().VisitAll(func(w *pflag.Flag) {
		s := scan.Flags().Lookup(w.Name)
		if s == nil || w.Name == "quiet" || w.Name == "help" {
			return
		}
		shared++
		assert.Equal(t, s.DefValue, w.DefValue, "default of --%s in scan and whois", w.Name)
		assert.Equal(t, s.Usage, w.Usage, "help of --%s in scan and whois", w.Name)
	})
	assert.GreaterOrEqual(t, shared, 10, "flags scan and whois share")
	assert.NotNil(t, whois.Flags().Lookup("trail"), "whois has --trail")
}

// An organization listing that fails after its first page: the accounts
// listed are audited, the report says it is incomplete and why, in every
// format a person reads, and the scan exits 3.
func TestScanListingCutShort(t *testing.T) {
	simEnvOf(t, awssim.GenerateOrg(45, 2, 7), awssim.WithOrgListingFailing(20))
	for _, format := range []string{"table", "markdown", "json"} {
		code, stdout, stderr := keyaudit(t, "", "scan", "--org", "--as-of", asOf, "--format", format, "--quiet")
		assert.Equal(t, exitIncomplete, code, "%s: exit code; stderr: %s", format, stderr)
		assert.Contains(t, stdout, "listing the accounts stopped after 20", "%s: the report says why it is incomplete", format)
	}
}
