package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/keyaudit/keyaudit/internal/awssim"
	"github.com/keyaudit/keyaudit/internal/golden"
	"github.com/keyaudit/keyaudit/internal/slackcapture"
	"github.com/keyaudit/keyaudit/report"
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
	cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build bootstrap: %v\n%s", err, out)
	}
	return bin, nil
})

// runtimeAPI emulates the Lambda Runtime API for one invocation.
type runtimeAPI struct {
	event    string
	deadline time.Time
	mu       sync.Mutex
	served   bool
	response chan string
	failure  chan string
}

func (rt *runtimeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	const prefix = "/2018-06-01/runtime/"
	path := strings.TrimPrefix(r.URL.Path, prefix)
	switch {
	case r.Method == http.MethodGet && path == "invocation/next":
		rt.mu.Lock()
		served := rt.served
		rt.served = true
		rt.mu.Unlock()
		if served {
			<-r.Context().Done() // one invocation only: the next waits until the test ends
			return
		}
		w.Header().Set("Lambda-Runtime-Aws-Request-Id", "8476a536-e9f4-11e8-9739-2dfe598c3fcd")
		w.Header().Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(rt.deadline.UnixMilli(), 10))
		w.Header().Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:111111111111:function:keyaudit")
		w.Header().Set("Lambda-Runtime-Trace-Id", "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700")
		io.WriteString(w, rt.event)
	case r.Method == http.MethodPost && strings.HasSuffix(path, "/response"):
		body, _ := io.ReadAll(r.Body)
		w.WriteHeader(http.StatusAccepted)
		rt.response <- string(body)
	case r.Method == http.MethodPost && (strings.HasSuffix(path, "/error") || path == "init/error"):
		body, _ := io.ReadAll(r.Body)
		w.WriteHeader(http.StatusAccepted)
		rt.failure <- string(body)
	default:
		http.NotFound(w, r)
	}
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
	if err != nil {
		t.Fatal(err)
	}
	w.Management().Secrets = map[string]string{slackSecret: slackToken}
	if change != nil {
		change(w)
	}
	return w
}

// invoke runs the bootstrap binary as Lambda would, for one event, and
// returns the response (or the error) it posted.
func invoke(t *testing.T, st stack, mgmt string, event string, timeout time.Duration, extraEnv ...string) (response, failure, logs string) {
	t.Helper()
	bin, err := bootstrap()
	if err != nil {
		t.Fatal(err)
	}
	rt := &runtimeAPI{event: event, deadline: time.Now().Add(timeout), response: make(chan string, 1), failure: make(chan string, 1)}
	api := httptest.NewServer(rt)
	defer api.Close()

	creds := st.sim.Credentials(mgmt)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := exec.CommandContext(ctx, bin)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"),
		"AWS_LAMBDA_RUNTIME_API=" + strings.TrimPrefix(api.URL, "http://"),
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
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	select {
	case response = <-rt.response:
	case failure = <-rt.failure:
	case <-time.After(timeout + 30*time.Second):
		t.Fatalf("no response from the function; its output:\n%s", out.String())
	}
	cancel()
	_ = cmd.Wait()
	return response, failure, out.String()
}

func startStack(t *testing.T, w *awssim.World) stack {
	t.Helper()
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	sim := awssim.NewServer(w, awssim.WithReportCalls(0))
	t.Cleanup(sim.Close)
	fake := gofakes3.New(s3mem.New())
	s3srv := httptest.NewServer(fake.Server())
	t.Cleanup(s3srv.Close)
	sl := slackcapture.Start()
	t.Cleanup(sl.Stop)
	return stack{sim: sim, s3: s3srv, slack: sl}
}

func s3Client(url string) *s3.Client {
	return s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(url), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("AKIAS3TEST", "s3secret", "")})
}

// objects lists the bucket's keys.
func objects(t *testing.T, c *s3.Client) []string {
	t.Helper()
	out, err := c.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range out.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	return keys
}

func TestLambdaNightlyRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the Lambda binary")
	}
	w := newWorld(t, nil)
	st := startStack(t, w)
	c := s3Client(st.s3.URL)
	if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}

	// A classic EventBridge Schedule event.
	event := `{"version":"0","id":"53dc4d37","detail-type":"Scheduled Event","source":"aws.events","account":"111111111111","time":"2026-11-24T03:00:00Z","region":"us-east-1","resources":["arn:aws:events:us-east-1:111111111111:rule/keyaudit"],"detail":{}}`
	resp, failure, logs := invoke(t, st, w.Management().ID, event, 2*time.Minute)
	if failure != "" {
		t.Fatalf("invocation failed: %s\n%s", failure, logs)
	}
	var sum Summary
	if err := json.Unmarshal([]byte(resp), &sum); err != nil {
		t.Fatalf("response %q: %v", resp, err)
	}
	if sum.Accounts["ok"] != 3 || sum.Accounts["error"] != 2 || !strings.HasPrefix(sum.Report, "s3://"+bucket+"/keyaudit/") || !strings.HasPrefix(sum.Slack, "sent") {
		t.Errorf("summary = %+v", sum)
	}
	keys := objects(t, c)
	dir := strings.TrimPrefix(sum.Report, "s3://"+bucket+"/")
	for _, want := range []string{dir + "report.json", dir + "findings.csv", dir + "report.txt", dir + "report.md", "keyaudit/latest.json"} {
		found := false
		for _, k := range keys {
			found = found || k == want
		}
		if !found {
			t.Errorf("S3 lacks %s; has %v", want, keys)
		}
	}
	obj, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("keyaudit/latest.json")})
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(obj.Body)
	golden.ValidReport(t, data)
	var first report.Report
	_ = json.Unmarshal(data, &first)
	if len(first.Accounts) != 5 {
		t.Errorf("report lists %d accounts, want 5", len(first.Accounts))
	}

	posts := st.slack.Posts()
	if len(posts) != 1 {
		t.Fatalf("%d Slack posts, want 1", len(posts))
	}
	msg, _ := json.Marshal(posts[0].Blocks)
	for _, want := range []string{"could not be audited", "New since the last run (" + strconv.Itoa(first.Summary.Findings) + ")", sum.Report} {
		if !strings.Contains(string(msg), want) {
			t.Errorf("Slack message lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(logs, slackToken) || strings.Contains(logs, st.sim.Credentials(w.Management().ID).SecretAccessKey) {
		t.Error("a secret appears in the function's logs")
	}
	if !strings.Contains(logs, `"run_id"`) {
		t.Errorf("logs are not JSON with the run ID:\n%s", logs)
	}

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
	if failure != "" {
		t.Fatalf("second invocation failed: %s\n%s", failure, logs)
	}
	posts = st.slack.Posts()
	if len(posts) != 2 {
		t.Fatalf("%d Slack posts after two runs, want 2", len(posts))
	}
	msg, _ = json.Marshal(posts[1].Blocks)
	if !strings.Contains(string(msg), "New since the last run (1)") || !strings.Contains(string(msg), "mallory") {
		t.Errorf("second message does not show exactly the new finding:\n%s", msg)
	}
	if !strings.Contains(string(msg), "Resolved since the last run (") || !strings.Contains(string(msg), "legacy-backup") {
		t.Errorf("second message does not show the resolved findings:\n%s", msg)
	}
}

func TestLambdaShortDeadlineReturnsPartialReport(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the Lambda binary")
	}
	w := newWorld(t, func(w *awssim.World) {
		for i := range w.Accounts {
			w.Accounts[i].Faults.LatencyMS = 400
		}
	})
	st := startStack(t, w)
	c := s3Client(st.s3.URL)
	if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	resp, failure, logs := invoke(t, st, w.Management().ID, `{"accounts":["111111111111","222222222222","555555555555"]}`, 5*time.Second,
		"KEYAUDIT_RESERVE_SECONDS=2", "KEYAUDIT_CONCURRENCY=1")
	if failure != "" {
		t.Fatalf("invocation failed instead of reporting partially: %s\n%s", failure, logs)
	}
	var sum Summary
	_ = json.Unmarshal([]byte(resp), &sum)
	if sum.Accounts["skipped"] == 0 || sum.Accounts["ok"]+sum.Accounts["error"]+sum.Accounts["skipped"] != 3 {
		t.Errorf("summary = %+v, want every account listed and some skipped", sum)
	}
	if !strings.HasPrefix(sum.Report, "s3://") {
		t.Errorf("no report written: %+v", sum)
	}
}

func ptr[T any](v T) *T { return &v }
