package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/keyaudit/keyaudit/internal/golden"
	"github.com/keyaudit/keyaudit/internal/moto"
	"github.com/keyaudit/keyaudit/rules"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/spf13/pflag"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// binDir holds the keyaudit binary built once for this package's tests.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "keyaudit-bin")
	if err != nil {
		panic(err)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// binary builds cmd/keyaudit as a user would (with VCS stamping when the
// checkout allows), once.
var binary = sync.OnceValues(func() (string, error) {
	bin := filepath.Join(binDir, "keyaudit")
	args := append([]string{"build", "-buildvcs=auto", "-o", bin}, buildFlags...)
	out, err := exec.Command("go", append(args, ".")...).CombinedOutput()
	if err != nil {
		return "", errors.New("go build: " + err.Error() + "\n" + string(out))
	}
	return bin, nil
})

// exe runs the built binary with a clean environment plus extra and returns
// its exit code and outputs.
func exe(t *testing.T, extra []string, args ...string) (int, string, string) {
	t.Helper()
	bin, err := binary()
	require.NoError(t, err, "build keyaudit")
	home := t.TempDir()
	cmd := exec.Command(bin, args...)
	cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + home,
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=" + filepath.Join(home, "config"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "credentials"),
	}, extra...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode(), stdout.String(), stderr.String()
	}
	require.NoError(t, err, "run keyaudit %v", args)
	return 0, stdout.String(), stderr.String()
}

func TestBinaryFlagsAfterArguments(t *testing.T) {
	t.Parallel()
	code, stdout, stderr := exe(t, nil, "whois", "--demo", terraform, "--format", "json", "--quiet")
	require.Equal(t, exitOK, code, "exit code; stderr: %s", stderr)
	keys := keysByID(t, stdout)
	assert.Len(t, keys, 1, "--format and json are flags, not key IDs: %v", keys)
	assert.Equal(t, "terraform", keys[terraform].Principal, "whose the key is")
}

func TestBinaryHelp(t *testing.T) {
	t.Parallel()
	code, stdout, _ := exe(t, nil, "help", "scan")
	require.Equal(t, exitOK, code, "exit code of help scan")
	for _, group := range []string{"Selection flags:", "AWS flags:", "Output flags:", "Alerts flags:", "--exclude-accounts", "--credential-report"} {
		assert.Contains(t, stdout, group, "help scan")
	}
	_, root, _ := exe(t, nil, "--help")
	assert.Contains(t, root, "completion", "root help lists shell completion")
	assert.NotEqual(t, root, stdout, "help scan is scan's help, not the general one")
}

// Each subcommand offers only the flags that mean something for it.
func TestBinaryPerCommandFlags(t *testing.T) {
	t.Parallel()
	absent := map[string][]string{
		"local": {"--exclude-accounts", "--verbose", "--org", "--accounts", "--concurrency", "--demo", "--slack", "--trail"},
		"whois": {"--exclude-accounts", "--concurrency", "--verbose", "--credential-report", "--slack"},
		"rules": {"--profile", "--out", "--quiet", "--demo"},
	}
	for command, flags := range absent {
		_, help, _ := exe(t, nil, command, "--help")
		require.Contains(t, help, "Usage:", "help of %s", command)
		for _, flag := range flags {
			assert.NotContains(t, help, flag+" ", "help of %s", command)
			code, _, stderr := exe(t, nil, command, flag)
			assert.Equal(t, exitUsage, code, "exit code of %s %s", command, flag)
			assert.Contains(t, stderr, "unknown flag: "+flag, "stderr of %s %s", command, flag)
		}
	}
}

func TestBinaryOfflineRejectsLiveFlags(t *testing.T) {
	t.Parallel()
	// Every flag of the live scan that the offline one lacks: read off the
	// two flag sets, no list kept in the code. (--profile and --region are
	// the offline scan's too, for --out s3://: TestOutS3ProfileAndRegion.)
	e := &env{ctx: context.Background(), getenv: os.Getenv, stdin: strings.NewReader(""), stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}}
	offline := newOfflineScan(e).Flags()
	var liveOnly []string
	newScan(e).Flags().VisitAll(func(f *pflag.Flag) {
		if offline.Lookup(f.Name) == nil {
			liveOnly = append(liveOnly, f.Name)
		}
	})
	require.Subset(t, liveOnly, []string{"exclude-accounts", "org", "accounts", "concurrency", "security-hub", "trail"}, "live-only flags")
	values := map[string]string{"accounts": "111111111111", "accounts-file": "accounts.txt", "exclude-accounts": "111111111111",
		"profile": "prod", "region": "eu-west-1", "role-name": "Audit", "role-path": "/x/", "external-id": "xyz", "session-name": "me",
		"timeout": "1m", "trail-days": "7", "concurrency": "0", "security-hub-region": "eu-west-1"}
	for _, flag := range liveOnly {
		arg := "--" + flag
		if v, ok := values[flag]; ok {
			arg += "=" + v
		}
		code, stdout, stderr := exe(t, nil, "scan", "--credential-report", realistic(), arg)
		assert.Equal(t, exitUsage, code, "exit code of offline scan with %s", arg)
		assert.Empty(t, stdout, "no report with %s", arg)
		assert.Equal(t, "keyaudit scan: --"+flag+" has no meaning for an offline audit of --credential-report files: drop one of them\n", stderr, "stderr with %s", arg)
	}
}

// A live-only flag given apart from its value, after the files, is as
// unknown offline as any other.
func TestBinaryOfflineExcludeAccounts(t *testing.T) {
	t.Parallel()
	code, stdout, stderr := exe(t, nil, "scan", "--credential-report", realistic(), "--exclude-accounts", "111111111111")
	assert.Equal(t, exitUsage, code, "exit code; stderr: %s", stderr)
	assert.Empty(t, stdout, "no report")
	assert.Contains(t, stderr, "--exclude-accounts has no meaning for an offline audit", "stderr")
}

func TestBinaryColor(t *testing.T) {
	t.Parallel()
	args := []string{"scan", "--credential-report", realistic(), "--format", "table", "--as-of", asOf}
	tests := []struct {
		name  string
		env   []string
		color bool
	}{
		{"pipe", nil, false},
		{"forced", []string{"CLICOLOR_FORCE=1"}, true},
		{"NO_COLOR", []string{"CLICOLOR_FORCE=1", "NO_COLOR=1"}, false},
		{"TERM=dumb", []string{"CLICOLOR_FORCE=1", "TERM=dumb"}, false},
	}
	for _, tt := range tests {
		code, stdout, stderr := exe(t, tt.env, args...)
		require.Equal(t, exitOK, code, "exit code of %s; stderr: %s", tt.name, stderr)
		assert.Equal(t, tt.color, strings.Contains(stdout, "\x1b["), "colour escape sequences with %s", tt.name)
	}
}

func TestBinaryQuiet(t *testing.T) {
	t.Parallel()
	out := t.TempDir()
	tests := []struct {
		name string
		args []string
		code int
	}{
		{"demo", []string{"scan", "--demo", "--quiet"}, exitIncomplete},
		{"offline", []string{"scan", "--credential-report", realistic(), "-q", "--out", out}, exitOK},
		{"whois", []string{"whois", "--demo", "-q", terraform}, exitOK},
	}
	for _, tt := range tests {
		code, stdout, stderr := exe(t, nil, tt.args...)
		assert.Equal(t, tt.code, code, "exit code of %s", tt.name)
		assert.Empty(t, stderr, "stderr of %s with --quiet", tt.name)
		if tt.name == "demo" {
			assert.Contains(t, stdout, "DEMO", "the report still says it is the demo")
		}
	}
}

func TestBinaryVersion(t *testing.T) {
	t.Parallel()
	code, stdout, stderr := exe(t, nil, "--version")
	require.Equal(t, exitOK, code, "exit code; stderr: %s", stderr)
	assert.True(t, strings.HasPrefix(stdout, "keyaudit "), "version line %q", stdout)
	assert.NotContains(t, stdout, "(devel)", "version line")
	assert.Greater(t, len(strings.TrimSpace(stdout)), len("keyaudit "), "a version is printed")
}

func TestBinaryRulesJSON(t *testing.T) {
	t.Parallel()
	code, stdout, stderr := exe(t, nil, "rules", "--format", "json")
	require.Equal(t, exitOK, code, "exit code; stderr: %s", stderr)
	var got []struct {
		ID          string            `json:"id"`
		Severity    string            `json:"severity"`
		CIS         map[string]string `json:"cis"`
		Description string            `json:"description"`
	}
	require.NoError(t, json.Unmarshal([]byte(stdout), &got), "rules --format json is a JSON array:\n%s", stdout)
	var want, ids []string
	for _, r := range rules.Catalogue() {
		want = append(want, r.ID)
	}
	for _, r := range got {
		ids = append(ids, r.ID)
		assert.NotEmpty(t, r.Severity, "severity of %s", r.ID)
		assert.NotEmpty(t, r.Description, "description of %s", r.ID)
		assert.NotNil(t, r.CIS, "cis of %s is a list, even empty", r.ID)
	}
	assert.Equal(t, want, ids, "every rule id, in catalogue order")
}

func TestBinaryExitCodes(t *testing.T) {
	t.Parallel()
	offline := []string{"scan", "--credential-report", realistic(), "--as-of", asOf, "--format", "json"}
	notDir := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(notDir, nil, 0o600), "a file where --out wants a directory")
	// The rows are the README's exit-code table, in its order.
	tests := []struct {
		name string
		args []string
		want int
	}{
		{"complete", offline, exitOK},
		{"findings at --fail-on", append(offline, "--fail-on", "medium"), exitFindings},
		{"no finding at --fail-on", []string{"scan", "--credential-report", golden.Path("credential-reports/clean.csv"), "--fail-on", "low"}, exitOK},
		{"usage", []string{"scan", "--bogus"}, exitUsage},
		{"configuration", append(offline, "--config", golden.Path("config/duplicate-key.yaml")), exitUsage},
		{"input", []string{"scan", "--credential-report", golden.Path("credential-reports/bad-timestamp.csv")}, exitUsage},
		{"no credentials", []string{"scan"}, exitUsage},
		{"report destination unusable, found before the audit", append(offline, "--out", notDir), exitUsage},
		{"unknown command", []string{"bogus"}, exitUsage},
		{"demo: an account without the role", []string{"scan", "--demo", "-q"}, exitIncomplete},
		{"incomplete beats findings", []string{"scan", "--demo", "-q", "--fail-on", "low"}, exitIncomplete},
		{"whois: an answer missing", []string{"whois", "--demo", "-q", terraform, norole}, exitIncomplete},
	}
	for _, tt := range tests {
		code, _, stderr := exe(t, nil, tt.args...)
		assert.Equal(t, tt.want, code, "exit code of %s; stderr: %s", tt.name, stderr)
	}
}

func TestBinaryCompletion(t *testing.T) {
	t.Parallel()
	for _, shell := range []string{"bash", "zsh", "fish"} {
		code, stdout, stderr := exe(t, nil, "completion", shell)
		assert.Equal(t, exitOK, code, "exit code of completion %s; stderr: %s", shell, stderr)
		assert.Contains(t, stdout, "keyaudit", "completion script for %s", shell)
	}
}

// TestBinaryDemoOCSF is what a new user tries: the demo as OCSF Detection
// Findings, each valid against the class's vendored JSON Schema.
func TestBinaryDemoOCSF(t *testing.T) {
	t.Parallel()
	code, stdout, stderr := exe(t, nil, "scan", "--demo", "--format", "ocsf", "-q")
	require.Equal(t, exitIncomplete, code, "exit code of the demo (one account lacks the role); stderr: %s", stderr)

	sch := golden.OCSFSchema(t)

	inst, err := jsonschema.UnmarshalJSON(strings.NewReader(stdout))
	require.NoError(t, err, "demo OCSF output parses as JSON: %s", stdout)
	events, ok := inst.([]any)
	require.True(t, ok, "demo OCSF output is a JSON array")
	require.NotEmpty(t, events, "the demo has findings")
	for i, ev := range events {
		assert.NoError(t, sch.Validate(ev), "demo OCSF event %d against the Detection Finding schema", i)
	}
}

// TestBinarySecurityHubImportsIntoMoto runs scan --security-hub through the
// real SDK against moto_server: every finding of the written report is in
// Security Hub under its stable id, in the caller's default product.
func TestBinarySecurityHubImportsIntoMoto(t *testing.T) {
	srv := moto.Start(t)
	ctx := context.Background()
	cfg := srv.Config(moto.Management)
	_, err := iam.NewFromConfig(cfg).CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("ci-deploy")})
	require.NoError(t, err, "create a user in moto")
	_, err = iam.NewFromConfig(cfg).CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("ci-deploy")})
	require.NoError(t, err, "create its key in moto")
	hub := securityhub.NewFromConfig(cfg)
	_, err = hub.EnableSecurityHub(ctx, &securityhub.EnableSecurityHubInput{})
	require.NoError(t, err, "enable Security Hub in moto")

	// A year from now the new key is overdue for rotation and unused.
	later := time.Now().AddDate(1, 0, 0).UTC().Format(time.RFC3339)
	code, stdout, stderr := exe(t, srv.Env(t.TempDir(), moto.Management), "scan", "--security-hub", "--as-of", later, "--format", "json")
	require.Equal(t, exitOK, code, "exit code of scan --security-hub; stderr: %s", stderr)
	r := decode(t, stdout)
	require.NotEmpty(t, r.Findings, "the scan found the overdue key")
	assert.Contains(t, stderr, fmt.Sprintf("imported %d findings into Security Hub %s in %s", len(r.Findings), moto.ManagementAccount, moto.Region), "stderr says where the findings went")

	got := map[string]string{}
	p := securityhub.NewGetFindingsPaginator(hub, &securityhub.GetFindingsInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		require.NoError(t, err, "read the findings back from moto")
		for _, f := range page.Findings {
			got[aws.ToString(f.Id)] = aws.ToString(f.ProductArn)
		}
	}
	for _, f := range r.Findings {
		assert.Equal(t, "arn:aws:securityhub:us-east-1:123456789012:product/123456789012/default", got["keyaudit-"+f.Fingerprint],
			"finding %s (%s) in the default product", f.Rule, f.Principal)
	}
}

// endpointEnv is the environment of a live run against endpoint with static
// credentials.
func endpointEnv(endpoint string) []string {
	return []string{"AWS_ENDPOINT_URL=" + endpoint, "AWS_ACCESS_KEY_ID=AKIAXXXXXXXXXXXXXXXX", "AWS_SECRET_ACCESS_KEY=x", "AWS_REGION=us-east-1"}
}

// TestBinaryNetworkFaults: an endpoint that refuses connections fails in
// seconds, one that never answers fails by --timeout, and one that throttles
// every call says so on standard error while it retries. None of them is
// told to sign in: the hint fits a network error.
func TestBinaryNetworkFaults(t *testing.T) {
	t.Parallel()
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err, "listen")
	t.Cleanup(func() { silent.Close() })
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() }) // accepted, never answered
		}
	}()
	throttling := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>1</RequestId></ErrorResponse>`)
	}))
	t.Cleanup(throttling.Close)

	tests := []struct {
		name     string
		endpoint string
		args     []string
		within   time.Duration
		stderr   string
	}{
		{"refused (issue 10 obs 1)", "http://127.0.0.1:9", nil, 10 * time.Second, "could not reach AWS"},
		// --timeout is at its floor (pipeline.MinTimeout).
		{"silent, --timeout 30s", "http://" + silent.Addr().String(), []string{"--timeout", "30s"}, 36 * time.Second, "nothing audited"},
		{"throttling, --timeout 30s", throttling.URL, []string{"--timeout", "30s"}, 36 * time.Second, "retrying sts:GetCallerIdentity: throttled: Throttling (attempt "},
		{"throttling, JSON logs", throttling.URL, []string{"--timeout", "30s", "--log-format", "json"}, 36 * time.Second, `"msg":"retrying sts:GetCallerIdentity: throttled: Throttling (attempt `},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			code, stdout, stderr := exe(t, endpointEnv(tt.endpoint), append([]string{"scan"}, tt.args...)...)
			took := time.Since(start)
			t.Logf("%s: exit %d after %s", tt.name, code, took.Round(10*time.Millisecond))
			assert.Less(t, took, tt.within, "case %s: time to fail", tt.name)
			assert.Equal(t, exitIncomplete, code, "case %s: nothing audited is incomplete; stderr: %s", tt.name, stderr)
			assert.Empty(t, stdout, "case %s: no report", tt.name)
			assert.Contains(t, stderr, tt.stderr, "case %s: stderr", tt.name)
			assert.NotContains(t, stderr, "sso login", "case %s: a network fault is not a sign-in problem", tt.name)
			if slices.Contains(tt.args, "json") {
				for _, l := range strings.Split(strings.TrimSpace(stderr), "\n") {
					assert.True(t, json.Valid([]byte(l)), "case %s: every line on standard error is JSON, the retry notice and the error too: %q", tt.name, l)
				}
			}
		})
	}
}

// In a Lambda function, or a container with a memory limit, the binary
// sets a soft memory limit below it (internal/memlimit); GOMEMLIMIT wins.
func TestBinarySoftMemoryLimit(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		env  []string
		want string
	}{
		{"a 1024 MB function", []string{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=1024"}, "mib=921"},
		{"GOMEMLIMIT set", []string{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=1024", "GOMEMLIMIT=300MiB"}, "mib=300"},
	} {
		_, _, stderr := exe(t, tt.env, "scan", "--credential-report", realistic(), "--as-of", asOf, "--format", "json", "--verbose")
		assert.Regexp(t, `msg="soft memory limit" .*`+tt.want+`\b`, stderr, "case %s: stderr", tt.name)
	}
}
