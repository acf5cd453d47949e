package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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
	"github.com/keyaudit/keyaudit/internal/pipeline"
	"github.com/keyaudit/keyaudit/internal/s3capture"
	"github.com/keyaudit/keyaudit/internal/slackcapture"
	"github.com/keyaudit/keyaudit/report"
	"github.com/keyaudit/keyaudit/rules"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	bucket      = "keyaudit-reports"
	slackSecret = "arn:aws:secretsmanager:us-east-1:111111111111:secret:keyaudit-slack"
	slackToken  = "xoxb-e2e-secret-token"
)

// bootstrap builds the Lambda binary once, as `make lambda` does but for
// this machine's architecture.
var bootstrap = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "keyaudit-lambda")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "bootstrap")
	// Not CGO_ENABLED=0 as `make lambda` builds it: -race needs cgo, and
	// the packages then come from the test's own build.
	cmd := exec.Command("go", append(append([]string{"build", "-tags", "lambda.norpc", "-o", bin}, buildFlags...), ".")...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build bootstrap: %v\n%s", err, out)
	}
	return bin, nil
})

// runtimeAPI emulates the Lambda Runtime API: it hands the function the
// invocations queued on next, one per invocation/next, and passes each
// answer on with when it was handed over and answered. With nothing
// queued, invocation/next waits, as Lambda's does, until the test ends.
type runtimeAPI struct {
	next    chan pending
	answers chan answer
	mu      sync.Mutex
	handed  map[string]time.Time // request ID → handed over at
}

// pending is one invocation queued for the function.
type pending struct {
	event, requestID string
	deadline         time.Time
}

// answer is what the function posted for one invocation: its response or
// its error (an init error names no request).
type answer struct {
	requestID         string
	response, failure string
	handed, answered  time.Time
}

func newRuntimeAPI() *runtimeAPI {
	return &runtimeAPI{next: make(chan pending, 1), answers: make(chan answer, 1), handed: map[string]time.Time{}}
}

func (rt *runtimeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	const prefix = "/2018-06-01/runtime/"
	path := strings.TrimPrefix(r.URL.Path, prefix)
	id, _, _ := strings.Cut(strings.TrimPrefix(path, "invocation/"), "/")
	switch {
	case r.Method == http.MethodGet && path == "invocation/next":
		var inv pending
		select {
		case inv = <-rt.next:
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Lambda-Runtime-Aws-Request-Id", inv.requestID)
		w.Header().Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(inv.deadline.UnixMilli(), 10))
		w.Header().Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:111111111111:function:keyaudit")
		w.Header().Set("Lambda-Runtime-Trace-Id", "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700")
		rt.mu.Lock()
		rt.handed[inv.requestID] = time.Now()
		rt.mu.Unlock()
		io.WriteString(w, inv.event)
	case r.Method == http.MethodPost && strings.HasSuffix(path, "/response"):
		rt.answer(w, r, answer{requestID: id}, func(a *answer, body string) { a.response = body })
	case r.Method == http.MethodPost && strings.HasSuffix(path, "/error"):
		rt.answer(w, r, answer{requestID: id}, func(a *answer, body string) { a.failure = body })
	case r.Method == http.MethodPost && path == "init/error":
		rt.answer(w, r, answer{}, func(a *answer, body string) { a.failure = body })
	default:
		http.NotFound(w, r)
	}
}

// answer passes on what the function posted, its body put in place by set.
func (rt *runtimeAPI) answer(w http.ResponseWriter, r *http.Request, a answer, set func(*answer, string)) {
	body, _ := io.ReadAll(r.Body)
	a.answered = time.Now()
	rt.mu.Lock()
	a.handed = rt.handed[a.requestID]
	rt.mu.Unlock()
	set(&a, string(body))
	w.WriteHeader(http.StatusAccepted)
	rt.answers <- a
}

// stack is the world one invocation runs against.
type stack struct {
	sim   *awssim.Server
	s3    *httptest.Server
	slack *slackcapture.Server
}

func newWorld(t *testing.T, change func(*awssim.World)) *awssim.World {
	t.Helper()
	w, err := awssim.LoadWorld(golden.Path("aws/org-small.json"))
	require.NoError(t, err, "load the small organization")
	w.Management().Secrets = map[string]string{slackSecret: slackToken}
	if change != nil {
		change(w)
	}
	return w
}

// slowWorld is the small organization with every call taking 400 ms: an
// invocation's deadline cuts its audit short.
func slowWorld(t *testing.T) *awssim.World {
	return newWorld(t, func(w *awssim.World) {
		for i := range w.Accounts {
			w.Accounts[i].Faults.LatencyMS = 400
		}
	})
}

// invoke runs the bootstrap binary as Lambda would, for one event, and
// returns the response (or the error) it posted.
func invoke(t testing.TB, st stack, mgmt string, event string, timeout time.Duration, extraEnv ...string) (response, failure, logs string) {
	t.Helper()
	fn := startFunction(t, st, mgmt, extraEnv...)
	a := fn.invoke(t, event, timeout)
	return a.response, a.failure, fn.stop()
}

// function is the bootstrap binary running as one Lambda instance under
// the emulated Runtime API: warm after its first invocation.
type function struct {
	rt      *runtimeAPI
	api     *httptest.Server
	cmd     *exec.Cmd
	cancel  context.CancelFunc
	out     *strings.Builder // read only once stopped
	started time.Time
	stopped sync.Once
}

// startFunction starts the built binary with the stack's endpoints and
// the management account's credentials; stop ends it.
func startFunction(tb testing.TB, st stack, mgmt string, extraEnv ...string) *function {
	tb.Helper()
	bin, err := bootstrap()
	require.NoError(tb, err, "build the bootstrap binary")
	fn := &function{rt: newRuntimeAPI(), out: &strings.Builder{}}
	fn.api = httptest.NewServer(fn.rt)
	creds := st.sim.Credentials(mgmt)
	var ctx context.Context
	ctx, fn.cancel = context.WithCancel(context.Background())
	fn.cmd = exec.CommandContext(ctx, bin)
	fn.cmd.Stdout, fn.cmd.Stderr = fn.out, fn.out
	fn.cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"),
		"AWS_LAMBDA_RUNTIME_API=" + strings.TrimPrefix(fn.api.URL, "http://"),
		"AWS_LAMBDA_FUNCTION_NAME=keyaudit",
		"AWS_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID=" + creds.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + creds.SecretAccessKey,
		"AWS_SESSION_TOKEN=" + creds.SessionToken,
		"AWS_ENDPOINT_URL=" + st.sim.URL,
		"AWS_ENDPOINT_URL_S3=" + st.s3.URL,
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=/dev/null",
		"AWS_SHARED_CREDENTIALS_FILE=/dev/null",
		"KEYAUDIT_BUCKET=" + bucket,
		"KEYAUDIT_PREFIX=keyaudit",
		"KEYAUDIT_SLACK_SECRET_ARN=" + slackSecret,
		"KEYAUDIT_SLACK_CHANNEL=#security",
		"KEYAUDIT_SLACK_API_URL=" + st.slack.GetAPIURL(),
		"KEYAUDIT_CONCURRENCY=4",
	}, extraEnv...)
	fn.started = time.Now()
	if err := fn.cmd.Start(); err != nil {
		fn.api.Close()
		require.NoError(tb, err, "start the bootstrap binary")
	}
	tb.Cleanup(func() { fn.stop() }) // a test that stops early leaves no process behind
	return fn
}

// invoke hands the function one event and waits for its answer. Each
// invocation has a request ID of its own, so that runs started within the
// same second have run IDs (and report folders) of their own.
func (fn *function) invoke(tb testing.TB, event string, timeout time.Duration) answer {
	tb.Helper()
	id := fmt.Sprintf("%08x-e9f4-11e8-9739-2dfe598c3fcd", invocations.Add(1))
	fn.rt.next <- pending{event: event, requestID: id, deadline: time.Now().Add(timeout)}
	select {
	case a := <-fn.rt.answers:
		return a
	case <-time.After(timeout + 30*time.Second):
		require.FailNow(tb, "no response from the function", "its output:\n%s", fn.stop())
		return answer{}
	}
}

// stop ends the function, once, and returns its output.
func (fn *function) stop() string {
	fn.stopped.Do(func() {
		fn.cancel()
		_ = fn.cmd.Wait()
		fn.api.Close()
	})
	return fn.out.String()
}

// invocations numbers the invocations of the test binary's life.
var invocations atomic.Uint32

func startStack(t testing.TB, w *awssim.World, opts ...awssim.Option) stack {
	t.Helper()
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	sim := awssim.NewServer(w, append([]awssim.Option{awssim.WithReportCalls(0)}, opts...)...)
	t.Cleanup(sim.Close)
	fake := gofakes3.New(s3mem.New())
	s3srv := httptest.NewServer(fake.Server())
	t.Cleanup(s3srv.Close)
	sl := slackcapture.Start()
	t.Cleanup(sl.Stop)
	return stack{sim: sim, s3: s3srv, slack: sl}
}

// reportBucket creates the stack's report bucket and returns a client of
// the local S3 to read what the function wrote.
func reportBucket(t testing.TB, st stack) *s3.Client {
	t.Helper()
	c := s3Client(st.s3.URL)
	_, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(bucket)})
	require.NoError(t, err, "create the report bucket")
	return c
}

func s3Client(url string) *s3.Client {
	return s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(url), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("AKIAS3TEST", "s3secret", "")})
}

// objects lists the bucket's keys.
func objects(t *testing.T, c *s3.Client) []string {
	t.Helper()
	out, err := c.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	require.NoError(t, err, "list the report bucket")
	var keys []string
	for _, o := range out.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	return keys
}

// decodeSummary reads what an invocation returned.
func decodeSummary(t testing.TB, resp, failure, logs, which string) Summary {
	t.Helper()
	require.Empty(t, failure, "%s invocation failed; logs:\n%s", which, logs)
	var sum Summary
	require.NoError(t, json.Unmarshal([]byte(resp), &sum), "%s response %q", which, resp)
	return sum
}

func TestLambdaNightlyRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the Lambda binary")
	}
	w := newWorld(t, nil)
	st := startStack(t, w)
	c := reportBucket(t, st)

	// A classic EventBridge Schedule event.
	event := `{"version":"0","id":"53dc4d37","detail-type":"Scheduled Event","source":"aws.events","account":"111111111111","time":"2026-11-24T03:00:00Z","region":"us-east-1","resources":["arn:aws:events:us-east-1:111111111111:rule/keyaudit"],"detail":{}}`
	resp, failure, logs := invoke(t, st, w.Management().ID, event, 2*time.Minute)
	sum := decodeSummary(t, resp, failure, logs, "first")
	assert.Equal(t, 3, sum.Accounts[string(inventory.StatusOK)], "first run: accounts ok")
	assert.Equal(t, 2, sum.Accounts[string(inventory.StatusError)], "first run: accounts in error")
	assert.True(t, strings.HasPrefix(sum.Report, "s3://"+bucket+"/keyaudit/"), "first run: report location %q", sum.Report)
	assert.True(t, strings.HasPrefix(sum.Slack, "sent"), "first run: Slack status %q", sum.Slack)
	keys := objects(t, c)
	dir := strings.TrimPrefix(sum.Report, "s3://"+bucket+"/")
	for _, want := range []string{dir + "report.json", dir + "findings.csv", dir + "report.txt", dir + "report.md", "keyaudit/latest.json"} {
		assert.Contains(t, keys, want, "objects in S3 after the first run")
	}
	obj, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("keyaudit/latest.json")})
	require.NoError(t, err, "read latest.json")
	data, err := io.ReadAll(obj.Body)
	require.NoError(t, err, "read latest.json")
	golden.ValidReport(t, data)
	var first report.Report
	require.NoError(t, json.Unmarshal(data, &first), "latest.json is a report")
	assert.Len(t, first.Accounts, 5, "accounts in the first report")
	assert.Equal(t, first.Summary.Findings, sum.Findings, "first run: findings in the response and the report")

	posts := st.slack.Posts()
	require.Len(t, posts, 1, "Slack posts after the first run")
	msg, err := json.Marshal(posts[0].Blocks)
	require.NoError(t, err, "marshal the first Slack message")
	for _, want := range []string{"could not be audited", "Top findings:", consoleLink(sum.Report)} {
		assert.Contains(t, string(msg), want, "first Slack message")
	}
	assert.NotContains(t, logs, slackToken, "the Slack token in the function's logs")
	assert.NotContains(t, logs, st.sim.Credentials(w.Management().ID).SecretAccessKey, "the secret access key in the function's logs")
	assert.Contains(t, logs, `"run_id"`, "logs are JSON with the run ID")
	_, values, top := emfLine(t, metricsLine(t, logs))
	assert.Equal(t, map[string]float64{"AccountsOK": 3, "AccountsError": 2, "AccountsSkipped": 0, "ListingIncomplete": 0, "Findings": float64(sum.Findings)}, values,
		"the run metrics count the run")
	assert.Equal(t, "keyaudit", top[metricsDimension], "the run metrics name the function")
	assert.Equal(t, sum.RunID, top["run_id"], "the run metrics name the run")

	// The next night: legacy-backup's inactive key was deleted, alice's
	// never-used key is gone, and a new console user without MFA got a key.
	w2 := newWorld(t, func(w *awssim.World) {
		a := w.Account("222222222222")
		for i := range a.Users {
			if a.Users[i].Name == "legacy-backup" || a.Users[i].Name == "alice" {
				a.Users[i].Keys = nil
			}
		}
		a.Users = append(a.Users, awssim.User{Name: "mallory", CreatedDaysAgo: 3, Password: true, Keys: []awssim.Key{{Status: "Active", CreatedDaysAgo: 2, LastUsedDaysAgo: ptr(1.0), LastUsedService: "s3", LastUsedRegion: "us-east-1"}}})
	})
	st2 := stack{sim: awssim.NewServer(w2, awssim.WithReportCalls(0)), s3: st.s3, slack: st.slack}
	defer st2.sim.Close()
	resp, failure, logs = invoke(t, st2, w2.Management().ID, `{}`, 2*time.Minute) // ScheduleV2 with an empty input
	second := decodeSummary(t, resp, failure, logs, "second")
	assert.NotEqual(t, sum.Report, second.Report, "second run: a report of its own")
	assert.True(t, strings.HasPrefix(second.Report, "s3://"+bucket+"/keyaudit/"), "second run: report location %q", second.Report)
	assert.Equal(t, 3, second.Accounts[string(inventory.StatusOK)], "second run: accounts ok")
	assert.True(t, strings.HasPrefix(second.Slack, "sent: 1 new, "), "second run: Slack status %q names the one new finding", second.Slack)
	assert.NotEqual(t, sum.Findings, second.Findings, "second run: findings changed with the keys")
	posts = st.slack.Posts()
	require.Len(t, posts, 2, "Slack posts after two runs")
	msg, err = json.Marshal(posts[1].Blocks)
	require.NoError(t, err, "marshal the second Slack message")
	assert.Contains(t, string(msg), "New since the last run (1)", "second message shows exactly the new finding")
	assert.Contains(t, string(msg), "mallory", "second message names the new finding's user")
	assert.Contains(t, string(msg), "Resolved since the last run (", "second message shows the resolved findings")
	assert.Contains(t, string(msg), "legacy-backup", "second message names a resolved finding's user")
	assert.Contains(t, string(msg), consoleLink(second.Report), "second message links the second report")
}

// consoleLink is the S3 console's page of a run's folder, as Slack links it.
func consoleLink(folder string) string {
	bucket, prefix, _ := strings.Cut(strings.TrimPrefix(folder, "s3://"), "/")
	return "https://s3.console.aws.amazon.com/s3/buckets/" + bucket + "?prefix=" + url.QueryEscape(prefix)
}

// Slack down one night: the invocation fails, nothing is recorded as
// announced, and the next night posts the news it missed. A suppression
// added that night is reported as suppressed, never as resolved.
func TestLambdaSlackOutageAndSuppression(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the Lambda binary")
	}
	w := newWorld(t, nil)
	st := startStack(t, w)
	c := reportBucket(t, st)
	resp, failure, logs := invoke(t, st, w.Management().ID, `{}`, 2*time.Minute)
	decodeSummary(t, resp, failure, logs, "first night")
	require.Len(t, st.slack.Posts(), 1, "Slack posts after the first night")

	// Second night: a new finding (mallory), and Slack is down.
	w2 := newWorld(t, func(w *awssim.World) {
		a := w.Account("222222222222")
		a.Users = append(a.Users, awssim.User{Name: "mallory", CreatedDaysAgo: 3, Password: true, Keys: []awssim.Key{{Status: "Active", CreatedDaysAgo: 2, LastUsedDaysAgo: ptr(1.0), LastUsedService: "s3", LastUsedRegion: "us-east-1"}}})
	})
	st2 := stack{sim: awssim.NewServer(w2, awssim.WithReportCalls(0)), s3: st.s3, slack: st.slack}
	defer st2.sim.Close()
	st.slack.SetOutage(100)
	_, failure, logs = invoke(t, st2, w2.Management().ID, `{}`, 2*time.Minute)
	assert.NotEmpty(t, failure, "a night whose Slack post failed fails loudly; logs:\n%s", logs)
	assert.Len(t, st.slack.Posts(), 1, "nothing reached Slack on the second night")

	// Third night: Slack is back, and legacy-backup's inactive key is suppressed.
	st.slack.SetOutage(0)
	config := "suppressions:\n  - rule: key-inactive\n    principal: legacy-backup\n    reason: tape library, INC-7\n"
	_, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("config.yaml"), Body: strings.NewReader(config)})
	require.NoError(t, err, "store the config")
	resp, failure, logs = invoke(t, st2, w2.Management().ID, `{}`, 2*time.Minute, "KEYAUDIT_CONFIG=s3://"+bucket+"/config.yaml")
	third := decodeSummary(t, resp, failure, logs, "third night")
	assert.True(t, strings.HasPrefix(third.Slack, "sent: 1 new, 0 resolved, 1 suppressed"), "third night: Slack status %q", third.Slack)
	posts := st.slack.Posts()
	require.Len(t, posts, 2, "Slack posts after three nights")
	msg, err := json.Marshal(posts[1].Blocks)
	require.NoError(t, err, "marshal the third night's message")
	assert.Contains(t, string(msg), "New since the last run (1)", "the missed news is posted")
	assert.Contains(t, string(msg), "mallory", "the missed finding's user")
	assert.Contains(t, string(msg), "Suppressed since the last run, not fixed (1)", "the suppression is shown as such")
	assert.NotContains(t, string(msg), "Resolved since the last run", "a suppression is not a resolution")
}

func TestLambdaShortDeadlineReturnsPartialReport(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the Lambda binary")
	}
	w := slowWorld(t)
	st := startStack(t, w)
	reportBucket(t, st)
	resp, failure, logs := invoke(t, st, w.Management().ID, `{"accounts":["111111111111","222222222222","555555555555"]}`, 5*time.Second,
		"KEYAUDIT_RESERVE_SECONDS=2", "KEYAUDIT_CONCURRENCY=1")
	sum := decodeSummary(t, resp, failure, logs, "short-deadline")
	assert.Positive(t, sum.Accounts[string(inventory.StatusSkipped)], "accounts skipped at the deadline: %+v", sum)
	assert.Equal(t, 3, sum.Accounts[string(inventory.StatusOK)]+sum.Accounts[string(inventory.StatusError)]+sum.Accounts[string(inventory.StatusSkipped)], "every account listed: %+v", sum)
	assert.True(t, strings.HasPrefix(sum.Report, "s3://"), "report written: %+v", sum)
}

func ptr[T any](v T) *T { return &v }

// hubRecorder is a local Security Hub that accepts every BatchImportFindings
// and records the findings' ids and product ARNs.
type hubRecorder struct {
	mu       sync.Mutex
	products map[string]string // finding Id → ProductArn
}

func (h *hubRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/findings/import" {
		http.NotFound(w, r)
		return
	}
	var in struct {
		Findings []struct{ Id, ProductArn string }
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	for _, f := range in.Findings {
		h.products[f.Id] = f.ProductArn
	}
	h.mu.Unlock()
	fmt.Fprintf(w, `{"FailedCount":0,"SuccessCount":%d,"FailedFindings":[]}`, len(in.Findings))
}

// TestLambdaImportsIntoSecurityHub: with KEYAUDIT_SECURITY_HUB=true the run's
// findings are imported, after the report is in S3, into the function
// account's default product in KEYAUDIT_SECURITY_HUB_REGION.
func TestLambdaImportsIntoSecurityHub(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the Lambda binary")
	}
	w := newWorld(t, nil)
	st := startStack(t, w)
	reportBucket(t, st)
	rec := &hubRecorder{products: map[string]string{}}
	hub := httptest.NewServer(rec)
	defer hub.Close()

	resp, failure, logs := invoke(t, st, w.Management().ID, `{}`, 2*time.Minute,
		"KEYAUDIT_SECURITY_HUB=true", "KEYAUDIT_SECURITY_HUB_REGION=eu-west-1", "AWS_ENDPOINT_URL_SECURITYHUB="+hub.URL)
	sum := decodeSummary(t, resp, failure, logs, "security hub")
	assert.Equal(t, "imported", sum.SecurityHub, "Security Hub status")
	rec.mu.Lock()
	defer rec.mu.Unlock()
	assert.Len(t, rec.products, sum.Findings, "one imported finding per finding of the run")
	for id, product := range rec.products {
		assert.Equal(t, "arn:aws:securityhub:eu-west-1:111111111111:product/111111111111/default", product, "product of %s", id)
		assert.True(t, strings.HasPrefix(id, "keyaudit-"), "stable id %s", id)
	}
}

// failingPuts is a local S3 that answers every PUT with status and the
// error code and message, and serves everything else.
func failingPuts(t *testing.T, status int, code, message string) *httptest.Server {
	t.Helper()
	fake := gofakes3.New(s3mem.New()).Server()
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut {
			rw.WriteHeader(status)
			fmt.Fprintf(rw, "<Error><Code>%s</Code><Message>%s</Message></Error>", code, message)
			return
		}
		fake.ServeHTTP(rw, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestLambdaS3DownLogsTheFindings: when S3 answers every PUT with a 500,
// the invocation fails before its deadline, and the summary and the
// findings are in its (JSON) log (issue 10 obs 5).
func TestLambdaS3DownLogsTheFindings(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the Lambda binary")
	}
	w := newWorld(t, nil)
	st := startStack(t, w)
	st.s3 = failingPuts(t, http.StatusInternalServerError, "InternalError", "We encountered an internal error. Please try again.")

	// Built before the clock starts: the build is not the invocation's.
	_, err := bootstrap()
	require.NoError(t, err, "build the bootstrap binary")
	start := time.Now()
	resp, failure, logs := invoke(t, st, w.Management().ID, `{}`, 35*time.Second, "KEYAUDIT_RESERVE_SECONDS=10")
	assert.Less(t, time.Since(start), 35*time.Second, "the invocation ends before its deadline")
	assert.Empty(t, resp, "no success response when the reports were not written")
	assert.Contains(t, failure, "reports not written to S3 (the findings are in the log)", "the invocation fails loudly")
	// The summary first, then the findings in parts, each line under
	// Lambda's 256 KB.
	var summary *report.Summary
	var findings []rules.Finding
	var parts, findingLines int
	for _, line := range strings.Split(logs, "\n") {
		if !strings.Contains(line, "not written to S3") || !strings.HasPrefix(line, "{") {
			continue
		}
		assert.Less(t, len(line), 256<<10, "a log line Lambda keeps whole")
		var logged struct {
			Summary      *report.Summary `json:"summary"`
			FindingParts int             `json:"finding_parts"`
			Findings     []rules.Finding `json:"findings"`
		}
		require.NoError(t, json.Unmarshal([]byte(line), &logged), "the log line is JSON: %s", line)
		if logged.Summary != nil {
			summary, parts = logged.Summary, logged.FindingParts
			continue
		}
		if logged.Findings != nil {
			findingLines++
			findings = append(findings, logged.Findings...)
		}
	}
	require.NotNil(t, summary, "a log line with the summary; logs:\n%s", logs)
	assert.NotEmpty(t, findings, "the findings are in the log; logs:\n%s", logs)
	assert.Equal(t, summary.Findings, len(findings), "the summary is in the log and counts the findings logged")
	assert.Equal(t, parts, findingLines, "the summary's line says how many lines of findings follow")
}

// An organization whose listing fails after its first page: the accounts
// listed are audited and the report is written, and the summary, the
// report and the Slack message say the run is incomplete and why.
func TestLambdaListingCutShort(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the Lambda binary")
	}
	w := awssim.GenerateOrg(45, 2, 7) // 46 accounts: pages of 20, 20 and 6
	w.Management().Secrets = map[string]string{slackSecret: slackToken}
	st := startStack(t, w, awssim.WithOrgListingFailing(20))
	c := reportBucket(t, st)
	resp, failure, logs := invoke(t, st, w.Management().ID, `{}`, time.Minute)
	sum := decodeSummary(t, resp, failure, logs, "listing cut short")
	assert.Contains(t, sum.Incomplete, "listing the accounts stopped after 20", "the summary says why: %+v", sum)
	assert.Equal(t, 20, sum.Accounts[string(inventory.StatusOK)], "the accounts listed are audited: %+v", sum)
	assert.Contains(t, logs, "account listing cut short", "logged as a warning")

	obj, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("keyaudit/latest.json")})
	require.NoError(t, err, "read latest.json")
	r, err := report.ReadReport(obj.Body)
	require.NoError(t, err, "latest.json is a report")
	assert.Equal(t, sum.Incomplete, r.Incomplete, "the report says what the summary says")
	assert.False(t, r.Complete(), "the report is not complete")

	posts := st.slack.Posts()
	require.Len(t, posts, 1, "Slack posts")
	msg, err := json.Marshal(posts[0].Blocks)
	require.NoError(t, err, "marshal the Slack message")
	assert.Contains(t, string(msg), "run incomplete", "the headline")
	assert.Contains(t, string(msg), "listing the accounts stopped after 20", "the Slack message says why")
}

// A Security Hub that throttles every call (429 forever) must not starve
// Slack: the post goes out, the import gives up before the deadline and
// carries its findings to the next run, and the invocation returns its
// summary before its deadline (issue 25 obs 2).
func TestLambdaSecurityHubThrottledForever(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the Lambda binary")
	}
	w := newWorld(t, nil)
	st := startStack(t, w)
	c := reportBucket(t, st)
	var calls atomic.Int32
	hub := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		rw.Header().Set("X-Amzn-Errortype", "TooManyRequestsException")
		rw.Header().Set("Content-Type", "application/json")
		rw.WriteHeader(http.StatusTooManyRequests)
		io.WriteString(rw, `{"message":"Rate exceeded"}`)
	}))
	defer hub.Close()

	_, err := bootstrap()
	require.NoError(t, err, "build the bootstrap binary")
	const timeout = 45 * time.Second
	start := time.Now()
	resp, failure, logs := invoke(t, st, w.Management().ID, `{}`, timeout,
		"KEYAUDIT_RESERVE_SECONDS=20", "KEYAUDIT_SECURITY_HUB=true", "AWS_ENDPOINT_URL_SECURITYHUB="+hub.URL)
	assert.Less(t, time.Since(start), timeout, "the invocation ends before its deadline")
	sum := decodeSummary(t, resp, failure, logs, "Security Hub throttled")
	assert.True(t, strings.HasPrefix(sum.Slack, "sent"), "Slack status %q", sum.Slack)
	assert.Len(t, st.slack.Posts(), 1, "Slack was told")
	assert.Equal(t, fmt.Sprintf("partly imported: 0 of %d sent, the rest next run", sum.Findings), sum.SecurityHub, "Security Hub status")
	require.Len(t, sum.Warnings, 1, "one warning: %v", sum.Warnings)
	assert.Contains(t, sum.Warnings[0], fmt.Sprintf("Security Hub: %d of %d findings to send were not sent", sum.Findings, sum.Findings), "the warning says what was carried")
	assert.Contains(t, logs, "the next run sends them", "the warning is logged")
	assert.Positive(t, calls.Load(), "Security Hub was asked")
	assert.NotContains(t, objects(t, c), "keyaudit/securityhub.json", "nothing imported, nothing recorded")
}

// TestDistributedMergeBadResults (issue 25, observation 1): a merge whose
// stored results include a corrupt one, one holding another account's
// result and an empty one, beside a corrupt FAILED file, still writes a
// valid report of every account: those three are errors saying why, the
// run is incomplete, the FAILED file is a warning, and every other account
// is reported as audited, once, with its findings counted once.
func TestDistributedMergeBadResults(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the Lambda binary")
	}
	w := newWorld(t, nil)
	st := startStack(t, w)
	c := reportBucket(t, st)
	const good, corrupt, mismatched, empty = "222222222222", "111111111111", "333333333333", "555555555555"
	put := func(key, body string) {
		// The local S3 keeps an overwritten object's checksum: delete first.
		_, err := c.DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		require.NoError(t, err, "delete %s", key)
		_, err = c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader(body)})
		require.NoError(t, err, "write %s", key)
	}
	var goodResult pipeline.AccountResult
	run := runDistributed(t, st, c, w.Management().ID, `{}`, play{beforeMerge: func(runID string, items []any) {
		results := "keyaudit/runs/" + runID + "/accounts/"
		obj, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(results + good + ".json")})
		require.NoError(t, err, "read the result of %s", good)
		data, err := io.ReadAll(obj.Body)
		obj.Body.Close()
		require.NoError(t, err, "read the result of %s", good)
		require.NoError(t, json.Unmarshal(data, &goodResult), "the result of %s", good)
		put(results+corrupt+".json", `{"account": {"account_id": "`+corrupt)
		put(results+mismatched+".json", string(data))
		put(results+empty+".json", `{}`)
		// An account listed twice is still one account.
		list, err := json.Marshal(append(items, items[0]))
		require.NoError(t, err, "the account list")
		put("keyaudit/runs/"+runID+"/accounts.json", string(list))
		put("keyaudit/runs/"+runID+"/map/ad9b5f27-090b-3ac6-9beb-243cd77144a7/FAILED_0.json", `[{"Input": `)
	}})
	require.Empty(t, run.failure, "merge failed; logs:\n%s", run.logs)
	require.NotEmpty(t, goodResult.Result.Findings, "the copied result has findings")

	r, err := report.ReadReport(strings.NewReader(string(reportAt(t, c, run.summary.Report)))) // reportAt checks the schema
	require.NoError(t, err, "the merged report")
	byID := map[string]report.Account{}
	for _, a := range r.Accounts {
		_, twice := byID[a.ID]
		assert.False(t, twice, "account %q listed twice", a.ID)
		byID[a.ID] = a
	}
	assert.Len(t, r.Accounts, 5, "every account of the list, and no other, is in the report")
	assert.NotContains(t, byID, "", "no account without an ID")
	for id, why := range map[string][]string{
		corrupt:    {"result unreadable: read s3://" + bucket + "/keyaudit/runs/", "unexpected EOF"},
		mismatched: {"result of account " + good + " stored under " + mismatched},
		empty:      {"result unreadable: it names no account"},
	} {
		assert.Equal(t, inventory.StatusError, byID[id].Status, "account %s", id)
		for _, w := range why {
			assert.Contains(t, byID[id].Error, w, "account %s: why", id)
		}
	}
	assert.Equal(t, inventory.StatusOK, byID[good].Status, "the account whose result was copied")
	assert.Equal(t, inventory.StatusError, byID["444444444444"].Status, "an account the audit could not read (no role)")
	assert.Contains(t, byID["444444444444"].Error, "role", "account 444444444444 keeps its own reason")
	var findings int
	for _, f := range r.Findings {
		assert.Equal(t, good, f.AccountID, "a finding of %s, whose result is the only usable one with findings", f.AccountID)
		findings++
	}
	assert.Equal(t, len(goodResult.Result.Findings), findings, "the copied result's findings, counted once")

	assert.Contains(t, r.Incomplete, "the stored results of 3 accounts could not be used", "the report is incomplete")
	assert.Equal(t, r.Incomplete, run.summary.Incomplete, "the summary says what the report says")
	assert.True(t, slices.ContainsFunc(r.Warnings, func(w string) bool {
		return strings.Contains(w, "the Map's failed batches not read") && strings.Contains(w, "FAILED_0.json")
	}), "the unreadable FAILED file is a warning: %q", r.Warnings)
	assert.True(t, strings.HasPrefix(run.summary.Slack, "sent"), "merge tells Slack: %q", run.summary.Slack)
}

// TestLambdaExternalIDFromSecret: the member roles require an external ID
// that only the secret KEYAUDIT_EXTERNAL_ID_SECRET_ARN holds, as the
// template deploys it. The run reads it and audits as before; a secret
// that cannot be read fails the invocation with its cause, and the value
// is never logged.
func TestLambdaExternalIDFromSecret(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the Lambda binary")
	}
	const (
		arn = "arn:aws:secretsmanager:us-east-1:111111111111:secret:keyaudit-external-id"
		id  = "b1946ac92492d2347c6235b4d2611184"
	)
	w := newWorld(t, func(w *awssim.World) {
		w.Management().Secrets[arn] = id
		for i := range w.Accounts {
			for r := range w.Accounts[i].Roles {
				if w.Accounts[i].Roles[r].Name == "KeyAuditRole" {
					w.Accounts[i].Roles[r].ExternalID = id
				}
			}
		}
	})
	st := startStack(t, w)
	reportBucket(t, st)

	resp, failure, logs := invoke(t, st, w.Management().ID, `{}`, 2*time.Minute, "KEYAUDIT_EXTERNAL_ID_SECRET_ARN="+arn)
	sum := decodeSummary(t, resp, failure, logs, "external ID from the secret")
	assert.Equal(t, 3, sum.Accounts[string(inventory.StatusOK)], "accounts ok with the secret's external ID: %+v", sum)
	assert.NotContains(t, logs, id, "the external ID in the function's logs")

	_, failure, logs = invoke(t, st, w.Management().ID, `{}`, 2*time.Minute, "KEYAUDIT_EXTERNAL_ID_SECRET_ARN="+arn+"-missing")
	assert.Contains(t, failure, "read the member role's external ID from the secret "+arn+"-missing", "a secret that cannot be read fails the invocation; logs:\n%s", logs)

	// Without it every member role refuses the run.
	resp, failure, logs = invoke(t, st, w.Management().ID, `{}`, 2*time.Minute)
	sum = decodeSummary(t, resp, failure, logs, "no external ID")
	assert.Zero(t, sum.Accounts[string(inventory.StatusOK)], "accounts ok without the external ID: %+v", sum)
}

// metricsLine is the run metrics' line in an invocation's log: the one
// line that carries CloudWatch's _aws metadata.
func metricsLine(t *testing.T, logs string) []byte {
	t.Helper()
	var found []string
	for _, line := range strings.Split(logs, "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["_aws"] != nil {
			found = append(found, line)
		}
	}
	require.Len(t, found, 1, "run metrics lines in the log:\n%s", logs)
	return []byte(found[0] + "\n")
}

// TestLambdaKMSKey: with KEYAUDIT_KMS_KEY_ARN every object the function
// writes names that key (SSE-KMS), as the bucket policy requires: the
// reports, latest.json and announced.json of a run, and the account list
// of a distributed run's discover step. Seen as the local S3 received them.
func TestLambdaKMSKey(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the Lambda binary")
	}
	const key = "arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	w := newWorld(t, nil)
	st := startStack(t, w)
	capture := s3capture.Start()
	t.Cleanup(capture.Close)
	st.s3 = capture.Server
	reportBucket(t, st)

	resp, failure, logs := invoke(t, st, w.Management().ID, `{}`, 2*time.Minute, "KEYAUDIT_KMS_KEY_ARN="+key)
	decodeSummary(t, resp, failure, logs, "single run")
	_, failure, logs = invoke(t, st, w.Management().ID, `{"step":"discover","input":{}}`, time.Minute, "KEYAUDIT_KMS_KEY_ARN="+key)
	require.Empty(t, failure, "discover; logs:\n%s", logs)

	var paths []string
	for _, wr := range capture.Writes() {
		paths = append(paths, wr.Path)
		if wr.Names() {
			assert.Equal(t, "aws:kms", wr.SSE, "%s %s: encryption", wr.Call, wr.Path)
			assert.Equal(t, key, wr.SSEKMSKeyID, "%s %s: the KMS key", wr.Call, wr.Path)
		}
	}
	for _, want := range []string{"/keyaudit/latest.json", "/keyaudit/announced.json", "/accounts.json", "/report.json", "/findings.csv"} {
		assert.True(t, slices.ContainsFunc(paths, func(p string) bool { return strings.HasSuffix(p, want) }), "an object %s written; written: %v", want, paths)
	}
}
