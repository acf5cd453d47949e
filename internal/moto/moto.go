// Package moto runs moto_server, an AWS emulator written by others, as an
// independent oracle for tests: the real SDK clients and the real aws CLI
// talk to it over loopback, so a test checks keyaudit against AWS behaviour
// that keyaudit's own simulator (internal/awssim) did not invent.
//
// How moto models accounts (moto 5): every request is attributed to an
// account by its access key. Any long-term key moto did not issue (such as
// ManagementKeyID) acts in the default account 123456789012, which becomes
// the management account of an organization created with it. MOTO_ACCOUNT_ID
// would move the default, but it also overrides the account of assumed-role
// credentials (seen with moto 5.2.1), so Start leaves it unset. Organizations
// CreateAccount makes a member account with an OrganizationAccountAccessRole
// (with no policy attached, unlike AWS's AdministratorAccess: it acts freely
// only while IAM is not enforced, see EnforceIAM). moto does not evaluate
// trust policies, so AssumeRole on a role in any
// account returns ASIA credentials that act in that role's account. Keys
// moto issues with CreateAccessKey act in the account of their user.
// moto records an IAM key's last use on each IAM call made with it (not on
// STS calls).
package moto

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go/middleware"
	"github.com/stretchr/testify/require"

	"github.com/keyaudit/keyaudit/internal/transport"
)

const (
	// Region is the one region the harness uses.
	Region = "us-east-1"
	// ManagementAccount is moto's default account: the one ManagementKeyID acts in.
	ManagementAccount = "123456789012"
	// ManagementKeyID is a long-term key ID moto did not issue (AWS's
	// documented example), so moto maps it to ManagementAccount.
	ManagementKeyID = "AKIAIOSFODNN7EXAMPLE"
)

// Management is the credential set that acts in ManagementAccount. moto
// checks no signatures, so the secret is a dummy.
var Management = aws.Credentials{AccessKeyID: ManagementKeyID, SecretAccessKey: "moto-does-not-check"}

// Server is a running moto_server.
type Server struct {
	// Endpoint is its base URL, for AWS_ENDPOINT_URL and SDK overrides.
	Endpoint string
	pgid     int // the process group the cleanup ends
	// clockFile holds IAM's clock offset in seconds (StartWithClock); empty
	// for a server on the real clock.
	clockFile string
	mu        sync.Mutex
	offset    time.Duration
}

// clockScript is the wrapper StartWithClock runs in place of moto_server.
//
//go:embed clock.py
var clockScript []byte

// Require skips the test when one of the tools is not on PATH, or fails it
// when CI=true: in CI the oracle is not optional.
func Require(t testing.TB, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			msg := fmt.Sprintf("%s is not on PATH: install moto[server], awscli and cfn-lint (pip install 'moto[server]' awscli cfn-lint) to run this oracle test", tool)
			if os.Getenv("CI") == "true" {
				t.Fatal(msg + " (required when CI=true)")
			}
			t.Skip(msg)
		}
	}
}

// Start runs moto_server on 127.0.0.1 with a free port, waits until it
// answers, and stops it (its whole process group) when the test ends.
// Start one per package and share it: it takes about a second.
func Start(t testing.TB) *Server {
	t.Helper()
	return startServer(t, "")
}

// StartWithClock is Start with IAM's clock under the test's control
// (SetClock): keys created and used after a move carry the moved time,
// as creation and last-use dates.
func StartWithClock(t testing.TB) *Server {
	t.Helper()
	dir := t.TempDir()
	script := dir + "/clock.py"
	require.NoError(t, os.WriteFile(script, clockScript, 0o600), "write the moto clock wrapper")
	return startServer(t, script)
}

func startServer(t testing.TB, script string) *Server {
	t.Helper()
	Require(t, "moto_server", "aws", "python3")
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		srv, err := start(t, script)
		if err == nil {
			return srv
		}
		lastErr = err // most likely another process took the port first
	}
	require.NoError(t, lastErr, "start moto_server")
	return nil
}

func start(t testing.TB, script string) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	logs := &syncBuffer{}
	args := []string{"-H", "127.0.0.1", "-p", strconv.Itoa(port)}
	cmd := exec.Command("moto_server", args...)
	cmd.Env = append(cleanEnv(), "MOTO_IAM_LOAD_MANAGED_POLICIES=true")
	clock := ""
	if script != "" {
		clock = script + ".offset"
		cmd = exec.Command("python3", append([]string{script}, args...)...)
		cmd.Env = append(cmd.Env, "MOTO_CLOCK_FILE="+clock)
	}
	cmd.Stdout, cmd.Stderr = logs, logs
	// Its own process group: moto_server is a pyenv shim that execs Python,
	// and the cleanup must reach every process it started.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start moto_server: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	}
	srv := &Server{Endpoint: fmt.Sprintf("http://127.0.0.1:%d", port), pgid: cmd.Process.Pid, clockFile: clock}
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case err := <-exited:
			exited <- err
			stop()
			return nil, fmt.Errorf("moto_server exited before answering (%v): %s", err, logs.String())
		default:
		}
		if srv.answers() {
			t.Cleanup(stop)
			return srv, nil
		}
		if time.Now().After(deadline) {
			stop()
			return nil, fmt.Errorf("moto_server did not answer on %s within 30s: %s", srv.Endpoint, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *Server) answers() bool {
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get(s.Endpoint + "/moto-api/data.json")
	if err != nil {
		return false
	}
	_ = resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// SetClock puts IAM's clock offset after the real time (negative: before),
// for the requests that follow. Only a server from StartWithClock has one.
func (s *Server) SetClock(t testing.TB, offset time.Duration) {
	t.Helper()
	require.NotEmpty(t, s.clockFile, "SetClock needs a server from StartWithClock")
	s.mu.Lock()
	defer s.mu.Unlock()
	// Written whole and renamed, so the server never reads half a number.
	tmp := s.clockFile + ".tmp"
	require.NoError(t, os.WriteFile(tmp, []byte(strconv.FormatFloat(offset.Seconds(), 'f', 3, 64)), 0o600), "write the clock offset")
	require.NoError(t, os.Rename(tmp, s.clockFile), "move the clock")
	s.offset = offset
}

// Advance moves IAM's clock forward by d.
func (s *Server) Advance(t testing.TB, d time.Duration) {
	t.Helper()
	s.mu.Lock()
	offset := s.offset
	s.mu.Unlock()
	s.SetClock(t, offset+d)
}

// Now is the time on IAM's clock.
func (s *Server) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return time.Now().Add(s.offset)
}

// EnforceIAM turns moto's evaluation of IAM policies on or off (it starts
// off). While on, every request must be signed by a key moto issued and is
// allowed only by the caller's identity policies: ManagementKeyID is then
// refused, and an assumed role may do only what its policies grant. moto
// does not evaluate trust policies.
func (s *Server) EnforceIAM(t testing.TB, on bool) {
	t.Helper()
	// moto counts requests and enforces after this many: 0 at once, inf never.
	count := "inf"
	if on {
		count = "0"
	}
	resp, err := http.Post(s.Endpoint+"/moto-api/reset-auth", "text/plain", strings.NewReader(count))
	require.NoError(t, err, "set moto's IAM enforcement")
	_ = resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "set moto's IAM enforcement")
}

// Config is an SDK configuration acting with creds against the server.
func (s *Server) Config(creds aws.Credentials) aws.Config {
	return aws.Config{
		Region:       Region,
		Credentials:  credentials.StaticCredentialsProvider{Value: creds},
		BaseEndpoint: aws.String(s.Endpoint),
		APIOptions:   []func(*middleware.Stack) error{transport.HideWriteTo},
	}
}

// AssumeRole returns credentials acting in the role's account.
func (s *Server) AssumeRole(ctx context.Context, t testing.TB, roleARN string) aws.Credentials {
	t.Helper()
	out, err := sts.NewFromConfig(s.Config(Management)).AssumeRole(ctx, &sts.AssumeRoleInput{
		RoleArn:         aws.String(roleARN),
		RoleSessionName: aws.String("moto-harness"),
	})
	require.NoError(t, err, "assume role %s", roleARN)
	c := out.Credentials
	return aws.Credentials{AccessKeyID: *c.AccessKeyId, SecretAccessKey: *c.SecretAccessKey, SessionToken: aws.ToString(c.SessionToken)}
}

// Organization creates the organization of the management account and a
// member account for each name, and returns their IDs in order. moto
// creates OrganizationAccountAccessRole in each, which the management
// account may assume (AssumeRole).
func (s *Server) Organization(ctx context.Context, t testing.TB, names ...string) []string {
	t.Helper()
	orgs := organizations.NewFromConfig(s.Config(Management))
	_, err := orgs.CreateOrganization(ctx, &organizations.CreateOrganizationInput{FeatureSet: orgtypes.OrganizationFeatureSetAll})
	require.NoError(t, err, "create the organization")
	ids := make([]string, 0, len(names))
	for _, name := range names {
		created, err := orgs.CreateAccount(ctx, &organizations.CreateAccountInput{AccountName: aws.String(name), Email: aws.String(name + "@example.com")})
		require.NoError(t, err, "create account %s", name)
		id := aws.ToString(created.CreateAccountStatus.AccountId)
		for deadline := time.Now().Add(10 * time.Second); id == "" && time.Now().Before(deadline); {
			st, err := orgs.DescribeCreateAccountStatus(ctx, &organizations.DescribeCreateAccountStatusInput{CreateAccountRequestId: created.CreateAccountStatus.Id})
			require.NoError(t, err, "account %s's creation status", name)
			id = aws.ToString(st.CreateAccountStatus.AccountId)
		}
		require.NotEmpty(t, id, "account %s's ID", name)
		ids = append(ids, id)
	}
	return ids
}

// Env is the environment for a process (the aws CLI, keyaudit) acting
// with creds against the server. HOME and the AWS config and credentials
// files point into dir, so the user's own files and profiles never matter.
func (s *Server) Env(dir string, creds aws.Credentials) []string {
	env := append(cleanEnv(),
		"AWS_ENDPOINT_URL="+s.Endpoint,
		"AWS_ACCESS_KEY_ID="+creds.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY="+creds.SecretAccessKey,
		"AWS_DEFAULT_REGION="+Region,
		"AWS_REGION="+Region,
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_PAGER=",
		"HOME="+dir,
		"AWS_CONFIG_FILE="+dir+"/aws-config",
		"AWS_SHARED_CREDENTIALS_FILE="+dir+"/aws-credentials",
	)
	if creds.SessionToken != "" {
		env = append(env, "AWS_SESSION_TOKEN="+creds.SessionToken)
	}
	return env
}

// Result is what a command printed and how it exited.
type Result struct {
	Stdout, Stderr string
	Err            error // nil when it exited 0
}

// Shell runs command with bash -c, as a person would paste it, with the
// aws CLI acting with creds against the server.
func (s *Server) Shell(ctx context.Context, dir string, creds aws.Credentials, command string) Result {
	cmd := exec.CommandContext(ctx, "bash", "-c", command)
	cmd.Env = s.Env(dir, creds)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return Result{Stdout: stdout.String(), Stderr: stderr.String(), Err: err}
}

// cleanEnv is this process's environment without any AWS_ or MOTO_ variable, so
// nothing of the user's AWS setup leaks into a child.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") && !strings.HasPrefix(kv, "MOTO_") {
			env = append(env, kv)
		}
	}
	return env
}

// syncBuffer lets the server's stdout and stderr share one buffer that the
// test reads while the server runs.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
