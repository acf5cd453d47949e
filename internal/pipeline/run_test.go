package pipeline_test

import (
	"context"
	"encoding/json"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/keyaudit/keyaudit/audit"
	"github.com/keyaudit/keyaudit/audit/inventory"
	"github.com/keyaudit/keyaudit/internal/awssim"
	"github.com/keyaudit/keyaudit/internal/golden"
	"github.com/keyaudit/keyaudit/internal/pipeline"
	"github.com/keyaudit/keyaudit/rules"
)

var asOf = time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)

// org starts the simulated small organization and returns what a live
// run needs, acting as its management account.
func org(t *testing.T, opts ...awssim.Option) (*awssim.Server, *audit.Sessions, []audit.Target) {
	t.Helper()
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	w, err := awssim.LoadWorld(golden.Path("aws/org-small.json"))
	if err != nil {
		t.Fatal(err)
	}
	srv := awssim.NewServer(w, append([]awssim.Option{awssim.WithClock(func() time.Time { return asOf })}, opts...)...)
	t.Cleanup(srv.Close)
	ctx := context.Background()
	cfg, err := srv.AWSConfig(ctx, w.Management().ID, "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Retryer = audit.Retryer
	targets, err := audit.DiscoverOrg(ctx, organizations.NewFromConfig(cfg))
	if err != nil {
		t.Fatal(err)
	}
	role := audit.RoleSpec{Name: "KeyAuditRole", Path: "/", SessionName: "keyaudit-test"}
	return srv, audit.NewSessions(cfg, w.Management().ID, role), targets
}

func connect(s *audit.Sessions) pipeline.Connect {
	return func(ctx context.Context, id string) (audit.IAM, error) {
		cfg, err := s.Config(ctx, id)
		if err != nil {
			return nil, err
		}
		return iam.NewFromConfig(cfg), nil
	}
}

func fastCollector() *audit.Collector {
	c := audit.NewCollector()
	c.ReportPoll = 10 * time.Millisecond
	return c
}

func options() pipeline.Options {
	return pipeline.Options{RunID: "test", Now: asOf, Started: asOf, Config: rules.Defaults()}
}

func TestLiveOrganization(t *testing.T) {
	srv, sessions, targets := org(t, awssim.WithPageSize(1), awssim.WithEmptyOrgPages(2))
	if len(targets) != 5 {
		t.Fatalf("discovered %d active accounts, want 5 (the suspended one left out): %+v", len(targets), targets)
	}
	r := pipeline.Live(context.Background(), options(), &audit.Scheduler{Concurrency: 3}, fastCollector(), targets, connect(sessions))

	if len(r.Accounts) != len(targets) {
		t.Fatalf("report lists %d accounts, want every one of the %d targets", len(r.Accounts), len(targets))
	}
	want := map[string]struct {
		status string
		reason []string
	}{
		"111111111111": {status: "ok"},
		"222222222222": {status: "ok"},
		"333333333333": {status: "error", reason: []string{"iam:GenerateCredentialReport", "grant"}},
		"444444444444": {status: "error", reason: []string{"assume role", "arn:aws:iam::444444444444:role/KeyAuditRole"}},
		"555555555555": {status: "ok"},
	}
	for _, a := range r.Accounts {
		w := want[a.ID]
		if a.Status != w.status {
			t.Errorf("account %s: status %q (%s), want %q", a.ID, a.Status, a.Error, w.status)
		}
		for _, s := range w.reason {
			if !strings.Contains(a.Error, s) {
				t.Errorf("account %s: reason %q does not mention %q", a.ID, a.Error, s)
			}
		}
		if a.Name == "" {
			t.Errorf("account %s has no name from Organizations", a.ID)
		}
	}
	if got := r.Summary.Accounts; got["ok"] != 3 || got["error"] != 2 {
		t.Errorf("summary accounts = %v, want 3 ok and 2 error", got)
	}
	// Findings name real key IDs, read with paging (one key per page).
	named := 0
	for _, f := range r.Findings {
		if f.Principal != inventory.RootName && f.AccessKeyID != "" {
			named++
		}
		if f.Principal != inventory.RootName && f.AccessKeyID == "" {
			t.Errorf("finding %s for %s in %s has no key ID", f.Rule, f.Principal, f.AccountID)
		}
	}
	if named == 0 {
		t.Error("no finding names a key ID")
	}
	calls := srv.Calls()
	if n := calls.ByAccount["222222222222"]["iam:ListAccessKeys"]; n < 2 {
		t.Errorf("ListAccessKeys called %d times in 222222222222: paging not exercised", n)
	}
	// The throttled account (every second call refused) completed through retries.
	if n := calls.Account("555555555555"); n < 6 {
		t.Errorf("throttled account saw %d calls, expected retries", n)
	}
}

func TestLiveConfirmsLastUseBeforeAccusing(t *testing.T) {
	srv, sessions, _ := org(t)
	targets := []audit.Target{{AccountID: "222222222222"}}
	r := pipeline.Live(context.Background(), options(), &audit.Scheduler{Concurrency: 1}, fastCollector(), targets, connect(sessions))
	confirmed := 0
	for _, f := range r.Findings {
		if f.Rule == "key-unused" || f.Rule == "key-setup-unused" {
			if !f.Details.LastUseConfirmed {
				t.Errorf("%s on %s was not confirmed with GetAccessKeyLastUsed", f.Rule, f.AccessKeyID)
			}
			confirmed++
		}
	}
	all := srv.Calls()
	calls := all.ByAccount["222222222222"]
	if calls["iam:GetAccessKeyLastUsed"] != confirmed {
		t.Errorf("GetAccessKeyLastUsed called %d times for %d findings that depend on last use", calls["iam:GetAccessKeyLastUsed"], confirmed)
	}
	// At most: summary, generate (×2: started, complete), get report, one listing per keyed user, one confirmation per finding.
	if max := 4 + 4 + confirmed; all.Account("222222222222") > max {
		t.Errorf("calls = %v, want at most %d", calls, max)
	}
}

func TestLiveInProgressReport(t *testing.T) {
	srv, sessions, _ := org(t, awssim.WithReportCalls(3))
	r := pipeline.Live(context.Background(), options(), &audit.Scheduler{Concurrency: 1}, fastCollector(), []audit.Target{{AccountID: "222222222222"}}, connect(sessions))
	if r.Accounts[0].Status != "ok" {
		t.Fatalf("status %q: %s", r.Accounts[0].Status, r.Accounts[0].Error)
	}
	if n := srv.Calls().ByAccount["222222222222"]["iam:GenerateCredentialReport"]; n != 4 {
		t.Errorf("GenerateCredentialReport called %d times, want 4 (started, 2 in progress, complete)", n)
	}
}

func TestLiveReportNeverCompletes(t *testing.T) {
	w, err := awssim.LoadWorld(golden.Path("aws/org-small.json"))
	if err != nil {
		t.Fatal(err)
	}
	w.Account("222222222222").Faults.ReportNeverCompletes = true
	srv := awssim.NewServer(w, awssim.WithClock(func() time.Time { return asOf }))
	defer srv.Close()
	cfg, _ := srv.AWSConfig(context.Background(), "222222222222", "us-east-1")
	c := fastCollector()
	c.ReportWait = 200 * time.Millisecond
	r := pipeline.Live(context.Background(), options(), &audit.Scheduler{Concurrency: 1}, c, []audit.Target{{AccountID: "222222222222"}},
		func(context.Context, string) (audit.IAM, error) { return iam.NewFromConfig(cfg), nil })
	a := r.Accounts[0]
	if a.Status != "error" || !strings.Contains(a.Error, "credential report still not ready") {
		t.Errorf("account = %+v, want an error saying the report never became ready", a)
	}
}

func TestLiveDeadline(t *testing.T) {
	w, err := awssim.LoadWorld(golden.Path("aws/org-small.json"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range w.Accounts {
		w.Accounts[i].Faults.LatencyMS = 150
	}
	srv := awssim.NewServer(w, awssim.WithClock(func() time.Time { return asOf }))
	defer srv.Close()
	cfg, _ := srv.AWSConfig(context.Background(), w.Management().ID, "us-east-1")
	sessions := audit.NewSessions(cfg, w.Management().ID, audit.RoleSpec{Name: "KeyAuditRole", Path: "/", SessionName: "keyaudit-test"})
	targets := []audit.Target{{AccountID: "111111111111"}, {AccountID: "222222222222"}, {AccountID: "555555555555"}}

	before := runtime.NumGoroutine()
	ctx, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
	defer cancel()
	start := time.Now()
	r := pipeline.Live(ctx, options(), &audit.Scheduler{Concurrency: 1, MinTime: 100 * time.Millisecond}, fastCollector(), targets, connect(sessions))
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("run took %s after a 400ms deadline: in-flight work did not stop", took)
	}
	if len(r.Accounts) != len(targets) {
		t.Fatalf("report lists %d accounts, want %d", len(r.Accounts), len(targets))
	}
	skipped := 0
	for _, a := range r.Accounts {
		if a.Status == "skipped" {
			skipped++
			if a.Error == "" {
				t.Errorf("account %s skipped without a reason", a.ID)
			}
		}
	}
	if skipped == 0 {
		t.Errorf("no account skipped at the deadline: %+v", r.Accounts)
	}
	if r.Summary.Accounts["skipped"] != skipped {
		t.Errorf("summary counts %d skipped, report lists %d", r.Summary.Accounts["skipped"], skipped)
	}
	srv.Close()
	noLeaks(t, before)
}

// noLeaks waits for goroutines started by the run to end.
func noLeaks(t *testing.T, before int) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines before the run, %d after:\n%s", before, n, buf[:runtime.Stack(buf, true)])
	}
}

func TestReportValidatesAgainstSchema(t *testing.T) {
	_, sessions, targets := org(t)
	r := pipeline.Live(context.Background(), options(), &audit.Scheduler{Concurrency: 2}, fastCollector(), targets, connect(sessions))
	data, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	golden.ValidReport(t, data)
}

func TestLiveTraceNamesApplicationsInPlans(t *testing.T) {
	srv, sessions, _ := org(t)
	opts := options()
	opts.Tracer = func(ctx context.Context, id string) (*audit.Tracer, error) {
		cfg, err := sessions.Config(ctx, id)
		if err != nil {
			return nil, err
		}
		return audit.NewTracer(cfg, 30), nil
	}
	r := pipeline.Live(context.Background(), opts, &audit.Scheduler{Concurrency: 1}, fastCollector(), []audit.Target{{AccountID: "222222222222"}}, connect(sessions))
	traced := false
	for _, f := range r.Findings {
		for _, s := range f.RotationPlan {
			traced = traced || strings.Contains(s.Action, "CloudTrail saw the old key")
		}
	}
	if !traced {
		t.Errorf("no rotation plan names what CloudTrail saw: %+v", r.Findings)
	}
	if n := len(srv.CloudTrailRequests("222222222222", "us-east-1")); n == 0 {
		t.Error("CloudTrail was not asked")
	}
}
