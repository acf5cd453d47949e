package pipeline_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/keyaudit/keyaudit/audit"
	"github.com/keyaudit/keyaudit/audit/inventory"
	"github.com/keyaudit/keyaudit/internal/awssim"
	"github.com/keyaudit/keyaudit/internal/golden"
	"github.com/keyaudit/keyaudit/internal/pipeline"
	"github.com/keyaudit/keyaudit/report"
	"github.com/keyaudit/keyaudit/rules"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

var asOf = time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)

var role = audit.RoleSpec{Name: "KeyAuditRole", Path: "/", SessionName: "keyaudit-test"}

// world loads the simulated small organization, changed by change.
func world(t *testing.T, change func(*awssim.World)) *awssim.World {
	t.Helper()
	w, err := awssim.LoadWorld(golden.Path("aws/org-small.json"))
	require.NoError(t, err, "load the small organization")
	if change != nil {
		change(w)
	}
	return w
}

// dial serves w and connects to it as its management account, selecting
// the organization or the given accounts, as both entrypoints do.
func dial(t *testing.T, w *awssim.World, sel pipeline.Selection, opts ...awssim.Option) (*awssim.Server, *pipeline.Conn) {
	t.Helper()
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	srv := awssim.NewServer(w, append([]awssim.Option{awssim.WithClock(func() time.Time { return asOf })}, opts...)...)
	t.Cleanup(srv.Close)
	cfg, err := srv.AWSConfig(context.Background(), w.Management().ID, "us-east-1")
	require.NoError(t, err, "simulator config")
	cfg.Retryer = audit.Retryer
	sel.Role = role
	conn, err := pipeline.Dial(context.Background(), cfg, sel)
	require.NoError(t, err, "dial the simulator")
	return srv, conn
}

// list lists every target of conn.
func list(t *testing.T, conn *pipeline.Conn) []audit.Target {
	t.Helper()
	targets, err := conn.List(context.Background())
	require.NoError(t, err, "list the targets")
	return targets
}

// fixed lists targets as one page.
func fixed(targets ...audit.Target) pipeline.Lister {
	return func(context.Context) iter.Seq2[[]audit.Target, error] {
		return func(yield func([]audit.Target, error) bool) { yield(targets, nil) }
	}
}

func accounts(ids ...string) pipeline.Selection {
	var sel pipeline.Selection
	for _, id := range ids {
		sel.Accounts = append(sel.Accounts, audit.Target{AccountID: id})
	}
	return sel
}

func options() pipeline.Options {
	c := audit.NewCollector()
	c.ReportPoll = 10 * time.Millisecond
	return pipeline.Options{Settings: pipeline.Settings{RunID: "test", Now: asOf, Started: asOf, Config: rules.Defaults(), Concurrency: 1},
		Deps: pipeline.Deps{Collector: c}}
}

func TestLiveOrganization(t *testing.T) {
	srv, conn := dial(t, world(t, nil), pipeline.Selection{Org: true}, awssim.WithPageSize(1), awssim.WithEmptyOrgPages(2))
	opts := options()
	opts.Concurrency = 3
	r := pipeline.Live(context.Background(), opts, conn.Targets, conn.IAM)

	require.Len(t, r.Accounts, 5, "the report lists every active account (the suspended one left out), listed a page at a time")
	assert.Len(t, list(t, conn), 5, "the accounts listed")
	want := map[string]struct {
		status inventory.Status
		reason []string
	}{
		"111111111111": {status: inventory.StatusOK},
		"222222222222": {status: inventory.StatusOK},
		"333333333333": {status: inventory.StatusError, reason: []string{"iam:GenerateCredentialReport", "grant"}},
		"444444444444": {status: inventory.StatusError, reason: []string{"assume role", "arn:aws:iam::444444444444:role/KeyAuditRole"}},
		"555555555555": {status: inventory.StatusOK},
	}
	for _, a := range r.Accounts {
		w := want[a.ID]
		assert.Equal(t, w.status, inventory.Status(a.Status), "status of account %s (%s)", a.ID, a.Error)
		for _, s := range w.reason {
			assert.Contains(t, a.Error, s, "reason of account %s", a.ID)
		}
		assert.NotEmpty(t, a.Name, "account %s has a name from Organizations", a.ID)
	}
	assert.Equal(t, 3, r.Summary.Accounts[string(inventory.StatusOK)], "accounts ok in the summary")
	assert.Equal(t, 2, r.Summary.Accounts[string(inventory.StatusError)], "accounts in error in the summary")
	// Findings name real key IDs, read with paging (one key per page).
	named := 0
	for _, f := range r.Findings {
		if f.Principal == inventory.RootName {
			continue
		}
		assert.NotEmpty(t, f.AccessKeyID, "finding %s for %s in %s names its key", f.Rule, f.Principal, f.AccountID)
		named++
	}
	assert.Positive(t, named, "findings that name a key ID")
	calls := srv.Calls()
	assert.GreaterOrEqual(t, calls.ByAccount["222222222222"]["iam:ListAccessKeys"], 2, "ListAccessKeys calls in 222222222222 (paging)")
	// The throttled account (every second call refused) completed through retries.
	assert.GreaterOrEqual(t, calls.Account("555555555555"), 6, "calls in the throttled account (retries)")
}

func TestLiveConfirmsLastUseBeforeAccusing(t *testing.T) {
	// alice's never-used key was created with her user, so CIS's "key
	// created at user setup, never used" accuses it of disuse.
	srv, conn := dial(t, world(t, func(w *awssim.World) {
		for i := range w.Account("222222222222").Users {
			if u := &w.Account("222222222222").Users[i]; u.Name == "alice" {
				u.Keys[0].CreatedDaysAgo = u.CreatedDaysAgo
			}
		}
	}), accounts("222222222222"))
	r := pipeline.Live(context.Background(), options(), conn.Targets, conn.IAM)
	keys := map[string]bool{}
	for _, f := range r.Findings {
		if f.Rule == "key-unused" || f.Rule == "key-setup-unused" {
			assert.True(t, f.Details.LastUseConfirmed, "%s on %s confirmed with GetAccessKeyLastUsed", f.Rule, f.AccessKeyID)
			keys[f.AccessKeyID] = true
		}
	}
	confirmed := len(keys)
	// The fixture has keys accused of disuse: without them this test proves nothing.
	require.Positive(t, confirmed, "findings that depend on last use in 222222222222")
	all := srv.Calls()
	calls := all.ByAccount["222222222222"]
	assert.Equal(t, confirmed, calls["iam:GetAccessKeyLastUsed"], "GetAccessKeyLastUsed calls, one per key whose findings depend on last use")
	// At most: summary, generate (×2: started, complete), get report, one listing per keyed user, one confirmation per key.
	assert.LessOrEqual(t, all.Account("222222222222"), 4+4+confirmed, "calls in 222222222222: %v", calls)
}

func TestLiveInProgressReport(t *testing.T) {
	srv, conn := dial(t, world(t, nil), accounts("222222222222"), awssim.WithReportCalls(3))
	r := pipeline.Live(context.Background(), options(), conn.Targets, conn.IAM)
	require.Len(t, r.Accounts, 1, "accounts in the report")
	require.Equal(t, inventory.StatusOK, inventory.Status(r.Accounts[0].Status), "status (%s)", r.Accounts[0].Error)
	calls := srv.Calls().ByAccount["222222222222"]
	assert.Equal(t, 1, calls["iam:GenerateCredentialReport"], "GenerateCredentialReport calls: one starts the report")
	assert.Equal(t, 3, calls["iam:GetCredentialReport"], "GetCredentialReport calls: 2 in progress, then the report")
}

func TestLiveReportNeverCompletes(t *testing.T) {
	w := world(t, func(w *awssim.World) { w.Account("222222222222").Faults.ReportNeverCompletes = true })
	srv := awssim.NewServer(w, awssim.WithClock(func() time.Time { return asOf }))
	defer srv.Close()
	cfg, err := srv.AWSConfig(context.Background(), "222222222222", "us-east-1")
	require.NoError(t, err, "simulator config")
	opts := options()
	opts.Collector.ReportWait = 200 * time.Millisecond
	r := pipeline.Live(context.Background(), opts, fixed(audit.Target{AccountID: "222222222222"}),
		func(context.Context, string) (audit.IAM, error) { return iam.NewFromConfig(cfg), nil })
	require.Len(t, r.Accounts, 1, "accounts in the report")
	a := r.Accounts[0]
	assert.Equal(t, inventory.StatusError, inventory.Status(a.Status), "status of the account whose report never completes")
	assert.Contains(t, a.Error, "credential report still not ready", "reason")
}

func TestLiveDeadline(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	w := world(t, func(w *awssim.World) {
		for i := range w.Accounts {
			w.Accounts[i].Faults.LatencyMS = 150
		}
	})
	srv, conn := dial(t, w, accounts("111111111111", "222222222222", "555555555555"))
	ctx, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
	defer cancel()
	opts := options()
	opts.MinTime = 100 * time.Millisecond
	start := time.Now()
	r := pipeline.Live(ctx, opts, conn.Targets, conn.IAM)
	assert.Less(t, time.Since(start), 2*time.Second, "run time after a 400ms deadline: in-flight work must stop")
	require.Len(t, r.Accounts, len(list(t, conn)), "the report lists every target")
	skipped := 0
	for _, a := range r.Accounts {
		if inventory.Status(a.Status) == inventory.StatusSkipped {
			skipped++
			assert.NotEmpty(t, a.Error, "account %s skipped with a reason", a.ID)
		}
	}
	assert.Positive(t, skipped, "accounts skipped at the deadline: %+v", r.Accounts)
	assert.Equal(t, skipped, r.Summary.Accounts[string(inventory.StatusSkipped)], "skipped accounts in the summary")
	srv.Close()
}

// The progress hears of every account once, with the findings the report
// shows for it: counts come from the run's results, not a second evaluation.
func TestLiveProgressCountsFromResults(t *testing.T) {
	_, conn := dial(t, world(t, nil), pipeline.Selection{Org: true})
	opts := options()
	opts.Concurrency = 3
	var mu sync.Mutex
	seen := map[string]int{}
	statuses := map[string]inventory.Status{}
	opts.Progress = func(a inventory.Account, findings int) {
		mu.Lock()
		defer mu.Unlock()
		seen[a.ID] += findings
		statuses[a.ID] = a.Status
	}
	r := pipeline.Live(context.Background(), opts, conn.Targets, conn.IAM)
	require.Len(t, statuses, len(list(t, conn)), "accounts the progress heard of")
	want := map[string]int{}
	for _, f := range r.Findings {
		if f.Suppressed == nil {
			want[f.AccountID]++
		}
	}
	require.Positive(t, want["222222222222"], "findings in 222222222222, which has users with keys")
	for _, a := range r.Accounts {
		assert.Equal(t, want[a.ID], seen[a.ID], "findings the progress counted for %s", a.ID)
		assert.Equal(t, inventory.Status(a.Status), statuses[a.ID], "status the progress saw for %s", a.ID)
	}
}

func TestReportValidatesAgainstSchema(t *testing.T) {
	_, conn := dial(t, world(t, nil), pipeline.Selection{Org: true})
	opts := options()
	opts.Concurrency = 2
	r := pipeline.Live(context.Background(), opts, conn.Targets, conn.IAM)
	data, err := json.Marshal(r)
	require.NoError(t, err, "marshal the report")
	golden.ValidReport(t, data)
}

func TestLiveTraceNamesApplicationsInPlans(t *testing.T) {
	srv, conn := dial(t, world(t, nil), accounts("222222222222"))
	opts := options()
	opts.Tracer = conn.Tracers(30)
	r := pipeline.Live(context.Background(), opts, conn.Targets, conn.IAM)
	traced := false
	for _, a := range r.Actions {
		for _, s := range a.Plan {
			traced = traced || strings.Contains(s.Action, "CloudTrail saw the old key")
		}
	}
	assert.True(t, traced, "a plan names what CloudTrail saw: %+v", r.Actions)
	assert.NotEmpty(t, srv.CloudTrailRequests("222222222222", "us-east-1"), "CloudTrail requests")
	// Without a RiskTracer, the ranking profiles with the --trail tracer.
	assert.True(t, slices.ContainsFunc(r.Risk, func(k rules.Risk) bool { return k.Profiled }), "case trail tracer serves the ranking: %+v", r.Risk)
}

// demo loads the demo organization: users with policies, groups and
// CloudTrail events, one account without the audit role.
func demo(t *testing.T) *awssim.World {
	t.Helper()
	w, err := awssim.DemoWorld()
	require.NoError(t, err, "load the demo organization")
	return w
}

func TestLiveRanksKeysByRisk(t *testing.T) {
	srv, conn := dial(t, demo(t), pipeline.Selection{Org: true})
	opts := options()
	opts.Concurrency = 3
	opts.Config.Risk.TrailKeys, opts.Config.Risk.TrailPages = 3, 1
	opts.RiskTracer = conn.Tracers(30)
	r := pipeline.Live(context.Background(), opts, conn.Targets, conn.IAM)

	require.NotEmpty(t, r.Risk, "ranked keys")
	profiled := 0
	for i, k := range r.Risk {
		assert.Equal(t, i+1, k.Rank, "case rank of entry %d", i)
		assert.NotEmpty(t, k.BlastRadius, "case %s/%s: blast radius read", k.AccountID, k.Principal)
		if k.Profiled {
			profiled++
		}
	}
	assert.Equal(t, inventory.ClassAdmin, r.Risk[0].BlastRadius, "case the first key to kill is an administrator's: %+v", r.Risk[0])
	assert.Equal(t, 3, profiled, "case keys profiled: the budget's K")
	require.Len(t, r.RiskNotes, 2, "case notes: %v", r.RiskNotes)
	assert.Contains(t, r.RiskNotes[1], "CloudTrail profiled 3 of", "case usage note")

	calls := srv.Calls()
	lookups := 0
	for _, a := range r.Accounts {
		if inventory.Status(a.Status) != inventory.StatusOK {
			continue
		}
		assert.Equal(t, 1, calls.ByAccount[a.ID]["iam:GetAccountAuthorizationDetails"], "case GetAccountAuthorizationDetails pages in %s", a.ID)
		lookups += calls.ByAccount[a.ID]["cloudtrail:LookupEvents"]
	}
	assert.LessOrEqual(t, lookups, 3, "case LookupEvents calls: at most K keys × N pages: %v", func() (o []string) {
		for _, k := range r.Risk[:6] {
			o = append(o, fmt.Sprintf("%s/%s/%s/%v", k.AccountID, k.Principal, k.AccessKeyID, k.Profiled))
		}
		return
	}())
	assert.Positive(t, lookups, "case LookupEvents calls")
}

// Without CloudTrail, and without one account's policies, the ranking
// still covers every key, and the report says what it lacks.
func TestLiveRanksWithoutUsageOrPolicies(t *testing.T) {
	w := demo(t)
	const denied = "739104582266"
	w.Account(denied).Faults.Deny = []string{"iam:GetAccountAuthorizationDetails"}
	srv, conn := dial(t, w, pipeline.Selection{Org: true})
	r := pipeline.Live(context.Background(), options(), conn.Targets, conn.IAM)

	for _, a := range r.Accounts {
		if a.ID == denied {
			assert.Equal(t, inventory.StatusOK, inventory.Status(a.Status), "case denied policies: the account is still audited (%s)", a.Error)
		}
	}
	warned := false
	for _, w := range r.Warnings {
		warned = warned || strings.Contains(w, "account "+denied+": kill-first ranking without blast radius")
	}
	assert.True(t, warned, "case denied policies: warning in %v", r.Warnings)
	ranked := 0
	for _, k := range r.Risk {
		assert.False(t, k.Profiled, "case no tracer: %s profiled", k.Principal)
		if k.AccountID == denied {
			ranked++
			assert.Empty(t, k.BlastRadius, "case denied policies: %s has no blast radius", k.Principal)
		}
	}
	assert.Positive(t, ranked, "case denied policies: the account's keys are ranked")
	require.Len(t, r.RiskNotes, 2, "case notes: %v", r.RiskNotes)
	assert.Equal(t, "Usage: no key was profiled in CloudTrail: this run read no CloudTrail.", r.RiskNotes[1], "case no tracer")
	for _, a := range r.Accounts {
		assert.Zero(t, srv.Calls().ByAccount[a.ID]["cloudtrail:LookupEvents"], "case no tracer: LookupEvents in %s", a.ID)
	}
}

// A run stopped once its accounts are audited, before the ranking, reads
// no CloudTrail, and its note says why.
func TestLiveStoppedReadsNoCloudTrail(t *testing.T) {
	srv, conn := dial(t, demo(t), pipeline.Selection{Org: true})
	opts := options()
	opts.RiskTracer = conn.Tracers(30)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done, n := 0, len(list(t, conn)) // Progress is called one account at a time
	opts.Progress = func(inventory.Account, int) {
		if done++; done == n {
			cancel()
		}
	}
	r := pipeline.Live(ctx, opts, conn.Targets, conn.IAM)
	require.NotEmpty(t, r.Risk, "keys ranked")
	require.Len(t, r.RiskNotes, 2, "notes: %v", r.RiskNotes)
	assert.Equal(t, "Usage: no key was profiled in CloudTrail: the run stopped before CloudTrail was read.", r.RiskNotes[1], "usage note")
	for _, a := range r.Accounts {
		assert.Zero(t, srv.Calls().ByAccount[a.ID]["cloudtrail:LookupEvents"], "LookupEvents in %s", a.ID)
	}
}

func TestOfflineRanksKeys(t *testing.T) {
	r, err := pipeline.Offline(options(), []string{golden.Path("credential-reports/realistic.csv")})
	require.NoError(t, err, "offline audit")
	require.NotEmpty(t, r.Risk, "case offline: ranked keys")
	assert.Equal(t, []string{"Blast radius and usage not read: credential reports hold neither IAM policies nor CloudTrail events; keys rank by age, last use and findings."}, r.RiskNotes, "case offline notes")

	none := pipeline.Build(options(), nil, nil)
	assert.NotNil(t, none.Risk, "case nothing audited: risk is an empty list, not null")
	assert.Empty(t, none.RiskNotes, "case nothing audited: no notes")
}

// Key IDs are listed only where something is said about a key: users with
// findings, and the ranking's top keys that CloudTrail is read for. Every
// finding still names its key; a full inventory is one option away.
func TestLiveListsKeysOnlyWhereNeeded(t *testing.T) {
	for _, all := range []bool{false, true} {
		srv, conn := dial(t, demo(t), pipeline.Selection{Org: true})
		opts := options()
		opts.Concurrency = 3
		opts.AllKeyIDs = all
		// The demo's top 7 keys below root include carol's and
		// github-actions', on which nothing is found.
		opts.Config.Risk.TrailKeys, opts.Config.Risk.TrailPages = 7, 1
		opts.RiskTracer = conn.Tracers(30)
		r := pipeline.Live(context.Background(), opts, conn.Targets, conn.IAM)

		withFindings := map[string]bool{}
		for _, f := range r.Findings {
			if f.Principal != inventory.RootName && f.AccessKeyID != "" {
				withFindings[f.AccountID+"/"+f.Principal] = true
			}
			if f.Principal != inventory.RootName && f.Rule != "console-without-mfa" {
				assert.NotEmpty(t, f.AccessKeyID, "all=%v: finding %s on %s/%s names its key", all, f.Rule, f.AccountID, f.Principal)
			}
		}
		require.NotEmpty(t, withFindings, "all=%v: the demo has users with findings", all)
		named, unnamed, top := map[string]bool{}, 0, 0
		for _, k := range r.Risk {
			if k.Principal == inventory.RootName {
				continue
			}
			if top++; top <= 7 {
				assert.NotEmpty(t, k.AccessKeyID, "all=%v: top key %d (%s/%s) named for CloudTrail", all, k.Rank, k.AccountID, k.Principal)
			}
			if k.AccessKeyID == "" {
				unnamed++
			} else {
				named[k.AccountID+"/"+k.Principal] = true
			}
		}
		listings := 0
		for _, a := range r.Accounts {
			listings += srv.Calls().ByAccount[a.ID]["iam:ListAccessKeys"]
		}
		if all {
			assert.Zero(t, unnamed, "all keys: every ranked key named")
			continue
		}
		assert.Positive(t, unnamed, "keys no finding or budget named stay slots")
		for u := range withFindings {
			named[u] = true
		}
		assert.Equal(t, len(named), listings, "ListAccessKeys calls: one per user with findings or a top key (no paging in the demo)")
	}
}

// The Merger holds an account's inventory only while one of its keys may
// reach the ranking's top, and the report is the same as when it holds
// every one.
func TestMergerKeepsOnlyInventoriesInReach(t *testing.T) {
	w := awssim.GenerateOrg(40, 10, 7)
	_, conn := dial(t, w, pipeline.Selection{Org: true})
	opts := options()
	opts.Concurrency = 4
	opts.Config.Risk.TrailKeys, opts.Config.Risk.TrailPages = 3, 1
	opts.RiskTracer = conn.Tracers(30)
	opts.Connect = conn.IAM
	auditor := pipeline.NewAuditor(opts, conn.IAM)
	var results []pipeline.AccountResult
	for _, tgt := range list(t, conn) {
		results = append(results, auditor.Audit(context.Background(), tgt))
	}
	require.Len(t, results, 41, "accounts audited")

	bounded, all := pipeline.NewMerger(opts), pipeline.NewMerger(opts)
	all.KeepAll()
	// Accounts finish in any order: the last listed first.
	slices.Reverse(results)
	for _, r := range results {
		// Each merger its own copy: profiles are written into the inventory.
		data, err := json.Marshal(r)
		require.NoError(t, err, "encode the result of %s", r.Account.ID)
		for _, m := range []*pipeline.Merger{bounded, all} {
			var c pipeline.AccountResult
			require.NoError(t, json.Unmarshal(data, &c), "decode the result of %s", r.Account.ID)
			m.Add(c)
		}
	}
	assert.Positive(t, bounded.Kept(), "inventories kept for the top keys")
	// Ties in score go by account, as in the ranking: at most one account
	// per key within twice the budget.
	assert.LessOrEqual(t, bounded.Kept(), 2*opts.Config.Risk.TrailKeys, "inventories kept: those with a key within twice the budget")
	assert.Equal(t, 41, all.Kept(), "inventories kept when every one is")
	want, got := all.Report(context.Background()), bounded.Report(context.Background())
	require.NotEmpty(t, want.Risk, "ranked keys")
	profiled := 0
	for _, k := range got.Risk {
		if k.Profiled {
			profiled++
		}
	}
	assert.Equal(t, 3, profiled, "keys profiled: the budget")
	assert.Equal(t, want.Risk[:10], got.Risk[:10], "the top of the ranking without the inventories out of reach")
	wantJSON, err := json.Marshal(want)
	require.NoError(t, err, "report holding every inventory")
	gotJSON, err := json.Marshal(got)
	require.NoError(t, err, "report holding the inventories in reach")
	assert.True(t, string(wantJSON) == string(gotJSON), "the report without the inventories out of reach is the same")
}

// reportAfterPolicies is an IAM client whose credential report is not
// ready until the account's policies have been asked for.
type reportAfterPolicies struct {
	*iam.Client
	asked chan struct{}
	once  sync.Once
}

func (c *reportAfterPolicies) GetAccountAuthorizationDetails(ctx context.Context, in *iam.GetAccountAuthorizationDetailsInput, optFns ...func(*iam.Options)) (*iam.GetAccountAuthorizationDetailsOutput, error) {
	c.once.Do(func() { close(c.asked) })
	return c.Client.GetAccountAuthorizationDetails(ctx, in, optFns...)
}

func (c *reportAfterPolicies) GetCredentialReport(ctx context.Context, in *iam.GetCredentialReportInput, optFns ...func(*iam.Options)) (*iam.GetCredentialReportOutput, error) {
	select {
	case <-c.asked:
		return c.Client.GetCredentialReport(ctx, in, optFns...)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// The policies are read while IAM generates the credential report: the
// blast radius adds no wait to an account's audit.
func TestLiveReadsPoliciesDuringTheReport(t *testing.T) {
	_, conn := dial(t, demo(t), pipeline.Selection{Org: true})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	acct := list(t, conn)[0]
	client, err := conn.IAM(ctx, acct.AccountID)
	require.NoError(t, err, "connect to %s", acct.AccountID)
	r := pipeline.NewAuditor(options(), func(context.Context, string) (audit.IAM, error) {
		return &reportAfterPolicies{Client: client.(pipeline.AccountClient).Client, asked: make(chan struct{})}, nil
	}).Audit(ctx, acct)
	require.Equal(t, inventory.StatusOK, r.Account.Status, "status of %s (%s)", acct.AccountID, r.Account.Error)
	classified := 0
	for _, u := range r.Account.Users {
		if u.Permissions != nil {
			classified++
		}
	}
	assert.Positive(t, classified, "users with a blast radius")
}

// An organization whose listing fails after its first page: the accounts
// listed are audited and reported, and the report says it is incomplete
// and why, for it cannot name the accounts it lacks. Whois, which needs
// every account, answers nothing.
func TestLiveListingCutShort(t *testing.T) {
	w := awssim.GenerateOrg(45, 2, 7) // 46 accounts: pages of 20, 20 and 6
	srv, conn := dial(t, w, pipeline.Selection{Org: true}, awssim.WithOrgListingFailing(20))
	opts := options()
	opts.Concurrency = 4
	type heard struct {
		accounts int
		more     bool
	}
	var listed []heard // Listed is called from one goroutine
	opts.Listed = func(n int, more bool) { listed = append(listed, heard{n, more}) }
	r := pipeline.Live(context.Background(), opts, conn.Targets, conn.IAM)

	assert.Equal(t, []heard{{20, true}, {20, false}}, listed, "the accounts listed, as the pages arrived")
	require.Len(t, r.Accounts, 20, "the accounts of the first page, each reported")
	assert.Equal(t, 20, r.Summary.Accounts["ok"], "the accounts listed are audited")
	assert.False(t, r.Complete(), "a report missing accounts is not complete")
	assert.Contains(t, r.Incomplete, "listing the accounts stopped after 20", "why")
	assert.Contains(t, r.Incomplete, "nextToken", "the cause")
	require.NotEmpty(t, r.Warnings, "warnings")
	assert.Equal(t, "incomplete: "+r.Incomplete, r.Warnings[0], "warned first")
	var buf bytes.Buffer
	require.NoError(t, report.JSONWriter{}.Write(&buf, r), "write the JSON report")
	golden.ValidReport(t, buf.Bytes())
	assert.Contains(t, buf.String(), `"incomplete": "listing the accounts stopped after 20`, "in the JSON report")
	assert.Equal(t, 2, srv.Calls().ByAccount[w.Management().ID]["organizations:ListAccounts"], "ListAccounts calls: the first page, then the one refused")

	_, _, err := pipeline.Whois(context.Background(), opts, conn, []inventory.Sighting{{AccessKeyID: "AKIAIOSFODNN7EXAMPLE"}})
	assert.ErrorContains(t, err, "list the organization's accounts", "whois without every account")
}

// A live run reads the organization's service control policies with the
// caller's credentials: the users of an account under an SCP denying
// everything are classed none, those elsewhere keep their class.
func TestLiveAppliesSCPs(t *testing.T) {
	const prod = "739104582266"
	w := demo(t)
	w.SCPs = []awssim.SCP{
		{Name: "FullAWSAccess", Document: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`},
		{Name: "DenyAll", Document: `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}`},
	}
	w.RootSCPs = []string{"FullAWSAccess"}
	w.Units = []awssim.Unit{{Name: "frozen", SCPs: []string{"FullAWSAccess", "DenyAll"}}}
	for i := range w.Accounts {
		w.Accounts[i].SCPs = []string{"FullAWSAccess"}
		if w.Accounts[i].ID == prod {
			w.Accounts[i].Unit = "frozen"
		}
	}
	_, conn := dial(t, w, pipeline.Selection{Org: true})
	r := pipeline.Live(context.Background(), options(), conn.Targets, conn.IAM)
	frozen, elsewhere := 0, 0
	for _, k := range r.Risk {
		switch {
		case k.Principal == inventory.RootName:
		case k.AccountID == prod:
			frozen++
			assert.Equal(t, inventory.ClassNone, k.BlastRadius, "%s in the frozen unit", k.Principal)
		case k.BlastRadius != inventory.ClassNone:
			elsewhere++
		}
	}
	assert.Positive(t, frozen, "keys in the frozen unit ranked")
	assert.Positive(t, elsewhere, "keys elsewhere keep a class")
	assert.Empty(t, r.Warnings, "no account warned")
}
