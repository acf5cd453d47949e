// Package bench measures an organization-wide audit against simulated
// organizations through the real SDK and the local AWS endpoint, and the
// naive approach other scanners take on the same organization. Run it with
// `make bench`; it is not part of `make test`.
package bench

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/keyaudit/keyaudit/audit"
	"github.com/keyaudit/keyaudit/audit/inventory"
	"github.com/keyaudit/keyaudit/internal/awssim"
	"github.com/keyaudit/keyaudit/internal/memlimit"
	"github.com/keyaudit/keyaudit/internal/pipeline"
	"github.com/keyaudit/keyaudit/report"
	"github.com/keyaudit/keyaudit/rules"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	usersPerAccount = 50
	latency         = 20 * time.Millisecond
	// iamRate is the simulated per-account IAM limit (calls per second),
	// low enough that the audit really is throttled and must retry.
	iamRate  = 20
	iamBurst = 10
	// trailRate is CloudTrail LookupEvents' limit per account and region,
	// which the audit's Tracer keeps to (audit.LookupEventsPerSecond).
	trailRate = 2
	// timeLeft is the audit's time in a Lambda invocation of the largest
	// timeout: 15 minutes less the default reserve for writing the
	// reports. The derived concurrency plans for it, and an organization
	// that does not fit shows skipped accounts and fails the benchmark.
	// The delivery has the rest of the invocation, as the Lambda's.
	invocationTime = 15 * time.Minute
	timeLeft       = invocationTime - 30*time.Second
)

// defaultSizes are the organizations measured unless BENCH_ACCOUNTS names
// others (BENCH_ACCOUNTS=10000 make bench, or a comma-separated list).
var defaultSizes = []int{10, 100, 1000}

// sizesFrom reads BENCH_ACCOUNTS; empty means the default sizes.
func sizesFrom(env string) ([]int, error) {
	if strings.TrimSpace(env) == "" {
		return defaultSizes, nil
	}
	var out []int
	for _, f := range strings.Split(env, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 100000 {
			return nil, fmt.Errorf("BENCH_ACCOUNTS: %q is not a number of accounts from 1 to 100000", strings.TrimSpace(f))
		}
		out = append(out, n)
	}
	return out, nil
}

func TestSizesFrom(t *testing.T) {
	got, err := sizesFrom("")
	require.NoError(t, err, "empty")
	assert.Equal(t, defaultSizes, got, "empty: the default sizes")
	got, err = sizesFrom("10000")
	require.NoError(t, err, "one size")
	assert.Equal(t, []int{10000}, got, "one size")
	got, err = sizesFrom(" 10, 2000 ")
	require.NoError(t, err, "a list")
	assert.Equal(t, []int{10, 2000}, got, "a list")
	for _, bad := range []string{"ten", "0", "10,,20", "-5"} {
		_, err := sizesFrom(bad)
		assert.Error(t, err, "BENCH_ACCOUNTS=%q", bad)
	}
}

// concurrencyFrom reads BENCH_CONCURRENCY: empty derives it, as the CLI
// and the Lambda do by default (audit.AutoConcurrency).
func concurrencyFrom(env string) (int, error) {
	if strings.TrimSpace(env) == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(env))
	if err != nil || n < 1 || n > audit.MaxConcurrency {
		return 0, fmt.Errorf("BENCH_CONCURRENCY: %q is not a number of accounts at once from 1 to %d (leave it empty to derive it)", env, audit.MaxConcurrency)
	}
	return n, nil
}

func TestConcurrencyFrom(t *testing.T) {
	for env, want := range map[string]int{"": 0, "50": 50, " 7 ": 7} {
		got, err := concurrencyFrom(env)
		require.NoError(t, err, "BENCH_CONCURRENCY=%q", env)
		assert.Equal(t, want, got, "BENCH_CONCURRENCY=%q", env)
	}
	for _, bad := range []string{"fifty", "0", "201", "-1"} {
		_, err := concurrencyFrom(bad)
		assert.Error(t, err, "BENCH_CONCURRENCY=%q", bad)
	}
}

func TestMeanConcurrency(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	mean, most := meanConcurrency([]planned{{t0, 50}, {t0.Add(10 * time.Second), 150}}, t0.Add(20*time.Second))
	assert.InDelta(t, 100, mean, 0.001, "50 for 10 s, then 150 for 10 s")
	assert.Equal(t, 150, most, "the highest")
	mean, most = meanConcurrency([]planned{{t0, 50}}, t0.Add(time.Minute))
	assert.InDelta(t, 50, mean, 0.001, "never grown")
	assert.Equal(t, 50, most, "never grown")
}

// memoryFrom reads BENCH_FUNCTION_MEMORY: the memory in MB of the Lambda
// function to run as, whose soft memory limit (90 % of it, as the function
// sets it) the audit gets on top of the simulator's world; empty sets none.
func memoryFrom(env string) (int64, error) {
	if strings.TrimSpace(env) == "" {
		return 0, nil
	}
	mb, err := strconv.Atoi(strings.TrimSpace(env))
	if err != nil || mb < 128 || mb > 10240 {
		return 0, fmt.Errorf("BENCH_FUNCTION_MEMORY: %q is not a Lambda function's memory in MB, from 128 to 10240 (leave it empty for no limit)", env)
	}
	return memlimit.OfMB(int64(mb)), nil
}

func TestMemoryFrom(t *testing.T) {
	for env, want := range map[string]int64{"": 0, "1024": 1024 << 20 * 9 / 10, " 3008 ": 3008 << 20 * 9 / 10} {
		got, err := memoryFrom(env)
		require.NoError(t, err, "BENCH_FUNCTION_MEMORY=%q", env)
		assert.Equal(t, want, got, "BENCH_FUNCTION_MEMORY=%q", env)
	}
	for _, bad := range []string{"1GB", "64", "20000"} {
		_, err := memoryFrom(bad)
		assert.Error(t, err, "BENCH_FUNCTION_MEMORY=%q", bad)
	}
}

// naiveSample is the organization the naive scan runs on in full; it is
// sequential, so its time per account scales linearly to the larger sizes.
const naiveSample = 10

func BenchmarkOrgAudit(b *testing.B) {
	b.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	sizes, err := sizesFrom(os.Getenv("BENCH_ACCOUNTS"))
	if err != nil {
		b.Fatal(err)
	}
	fixed, err := concurrencyFrom(os.Getenv("BENCH_CONCURRENCY"))
	if err != nil {
		b.Fatal(err)
	}
	limit, err := memoryFrom(os.Getenv("BENCH_FUNCTION_MEMORY"))
	if err != nil {
		b.Fatal(err)
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "accounts\tkeys\tcalls/account\twall\tbound\twall/bound\tdelivery\tpeak heap\tpeak total\tnaive\tspeed-up\t\n")
	perAccount := measureNaive(b, naiveSample) / naiveSample
	var notes []string
	for _, size := range sizes {
		if testing.Short() && size > naiveSample {
			break
		}
		m := measure(b, size, fixed, limit)
		naive := perAccount * time.Duration(size)
		label := naive.Round(time.Second).String()
		if size != naiveSample {
			label = "~" + label + " (est.)"
		}
		fmt.Fprintf(os.Stderr, "measured %d accounts: wall %s\n", size, m.wall)
		fmt.Fprintf(tw, "%d\t%d\t%.1f\t%s\t%s\t%.2f\t%s\t%d MiB\t%d MiB\t%s\t%.0fx\t\n",
			size, m.keys, m.callsPerAccount, m.wall.Round(10*time.Millisecond), m.bound.Round(10*time.Millisecond),
			m.wall.Seconds()/m.bound.Seconds(), m.delivery.Round(10*time.Millisecond), m.peakHeap>>20, m.peakTotal>>20, label, naive.Seconds()/m.wall.Seconds())
		notes = append(notes, fmt.Sprintf("%d accounts: %.0f at once on average, at most %d (%s); %.1f IAM calls/account throttled; listing the organization %s (audited meanwhile); ranking %s after the last account (%.1f calls/account, bound %s); simulator's world %d MiB, left out of peak heap; the finished report holds %d MiB of it; delivery (S3, Security Hub with a previous report, Slack) wrote %d MiB to S3, its heap peaking at %d MiB\n    calls per account by operation (mean, throttled included): %s",
			size, m.concurrency, m.most, m.why, m.throttledPerAccount, m.discovery.Round(10*time.Millisecond), m.ranking.Round(10*time.Millisecond), m.rankingPerAccount, m.rankingBound.Round(10*time.Millisecond), m.world>>20, m.report>>20, m.written>>20, m.deliveryHeap>>20, m.ops))
	}
	tw.Flush()
	for _, l := range notes {
		fmt.Println(l)
	}
	fmt.Printf("simulated latency %s per call, IAM limit %d calls/s (burst %d) per account, %d users per account, %s left (a Lambda's), GOMAXPROCS %d\n",
		latency, iamRate, iamBurst, usersPerAccount, timeLeft, runtime.GOMAXPROCS(0))
	if limit > 0 {
		fmt.Printf("Go's soft memory limit: %d MiB on top of the simulator's world, as a Lambda of BENCH_FUNCTION_MEMORY MB sets it\n", limit>>20)
	}
	rc := rules.DefaultRisk()
	fmt.Printf("kill-first ranking on: blast radius in every account, CloudTrail usage of the top %d keys (risk.trail_keys), at most %d page(s) each (risk.trail_pages), at most %d LookupEvents calls in the whole run\n",
		rc.TrailKeys, rc.TrailPages, rc.TrailKeys*rc.TrailPages)
	fmt.Println("bound: each account's IAM calls that were not throttled, at the simulated rate limit (or its chain of dependent calls), spread over the accounts audited at once; then the ranking's LookupEvents at 2/s per account")
}

type result struct {
	keys            int
	callsPerAccount float64
	// rankingPerAccount are the calls only the kill-first ranking makes.
	rankingPerAccount float64
	// throttledPerAccount are the IAM calls throttled (and retried).
	throttledPerAccount float64
	ops                 string
	// concurrency is the mean, over the audit's time, of the accounts
	// audited at once; most is the highest it was.
	concurrency float64
	most        int
	why         string
	// ranking is the time from the last account audited to the report:
	// the CloudTrail profiles and the ranking; rankingBound is its part
	// of bound.
	wall, ranking, bound, rankingBound time.Duration
	// discovery is the organization's listing (ListAccounts, page after
	// page), its accounts audited as their page arrives; in wall, not in
	// bound.
	discovery time.Duration
	// peakHeap is the audit's and the delivery's own, world the
	// simulator's (see measure); peakTotal is the memory the runtime
	// held at its peak (memoryNow), less what it held with the world built;
	// deliveryHeap is the heap's peak during the delivery alone.
	peakHeap, peakTotal, deliveryHeap, world uint64
	// delivery is the time to deliver the report; written the bytes of
	// the objects written to S3.
	delivery time.Duration
	written  int64
	// report is the heap the finished report holds, after a collection.
	report uint64
}

// rankingOps are the calls only the kill-first ranking makes.
var rankingOps = map[string]bool{
	"iam:GetAccountAuthorizationDetails": true, "iam:GetPolicy": true, "iam:GetPolicyVersion": true, "cloudtrail:LookupEvents": true,
}

func world(accounts int) *awssim.World {
	w := awssim.GenerateOrg(accounts, usersPerAccount, 42)
	for i := range w.Accounts {
		w.Accounts[i].Faults = awssim.Faults{LatencyMS: int(latency / time.Millisecond), IAMRate: iamRate, IAMBurst: iamBurst}
	}
	return w
}

func measure(b *testing.B, accounts, fixed int, limit int64) result {
	w := world(accounts)
	srv := awssim.NewServer(w, awssim.WithReportCalls(1))
	defer srv.Close()
	mgmt := w.Management().ID
	// The simulator runs in this process, so the heap holds its world.
	// Its size after a collection, with the server built, is the baseline
	// subtracted from the peak: what is left is the audit's own, and the
	// simulator's small growth during the run (call counters, sessions).
	// Out of process would be exact but needs the world and the call
	// counts carried over a pipe; the world stays referenced (srv), so
	// the baseline holds for the whole run.
	runtime.GC()
	baseline, baseTotal := memoryNow()
	if limit > 0 {
		defer debug.SetMemoryLimit(debug.SetMemoryLimit(int64(baseline) + limit))
	}
	invocation, cancelInvocation := context.WithTimeout(context.Background(), invocationTime)
	defer cancelInvocation()
	ctx, cancel := context.WithTimeout(invocation, timeLeft)
	defer cancel()
	cfg, err := srv.AWSConfig(ctx, mgmt, "us-east-1")
	require.NoError(b, err, "simulator config")
	// The production retry policy and HTTP client (its pool of connections),
	// counting the calls throttled (here only IAM throttles): they used no
	// quota, so the bound leaves them out.
	var throttled atomic.Int64
	cfg.Retryer = audit.RetryerWithNotice(func(_ int, class audit.ErrorClass, _ error, _ time.Duration) {
		if class == audit.ClassThrottled {
			throttled.Add(1)
		}
	})
	cfg.HTTPClient = audit.HTTPClient()

	res := result{why: "BENCH_CONCURRENCY"}
	peak, peakTotal, stop := watchMemory()
	start := time.Now()
	conn, err := pipeline.Dial(ctx, cfg, pipeline.Selection{Org: true, Role: audit.RoleSpec{Name: "KeyAuditRole", Path: "/", SessionName: "keyaudit-bench", InCaller: true}})
	require.NoError(b, err, "dial the organization")
	collector := audit.NewCollector()
	collector.ReportPoll = 100 * time.Millisecond
	// Derived as the CLI and the Lambda derive it, it may grow during the
	// run; the scheduler tells each change, one at a time.
	var plans []planned
	if fixed > 0 {
		plans = append(plans, planned{start, fixed})
	}
	opts := pipeline.Options{Settings: pipeline.Settings{Now: time.Now(), Started: time.Now(), Config: rules.Defaults(), Concurrency: fixed},
		Deps: pipeline.Deps{Collector: collector, RiskTracer: conn.Tracers(30)},
		Hooks: pipeline.Hooks{Planned: func(n int, why string) {
			plans = append(plans, planned{time.Now(), n})
			res.why = why
		}}}
	var audited time.Time // when the last account was audited; Progress is called one at a time
	opts.Progress = func(inventory.Account, int) { audited = time.Now() }
	opts.Listed = func(_ int, more bool) {
		if !more {
			res.discovery = time.Since(start)
		}
	}
	r := pipeline.Live(ctx, opts, conn.Targets, conn.IAM)
	end := time.Now()
	targets, err := conn.List(ctx) // listed already: no call
	require.NoError(b, err, "the accounts listed")
	res.concurrency, res.most = meanConcurrency(plans, audited)
	res.wall = end.Sub(start)
	stop()
	require.Equal(b, len(targets), r.Summary.Accounts[string(inventory.StatusOK)], "accounts audited ok within %s (the others: %+v)", timeLeft, notOK(r.Accounts))

	calls := srv.Calls()
	profiled := 0
	for _, k := range r.Risk {
		if k.Profiled {
			profiled++
		}
	}
	require.Equal(b, min(opts.Config.Risk.TrailKeys, len(r.Risk)), profiled, "keys profiled in CloudTrail; warnings: %v", r.Warnings)
	res.ranking, res.world = end.Sub(audited), baseline
	// What the report itself holds, apart from the garbage in the peak.
	runtime.GC()
	heapNow, _ := memoryNow()
	res.report = heapNow - min(baseline, heapNow)

	// Then the delivery, as the Lambda's: the previous run (this one,
	// written to files first, outside the measure) is what Security Hub
	// and Slack compare with.
	dl := newDelivery(b, r)
	defer dl.close()
	runtime.GC()
	dPeak, dTotal, dStop := watchMemory()
	dStart := time.Now()
	dl.deliver(b, invocation, r)
	res.delivery = time.Since(dStart)
	dStop()
	res.written = dl.s3.written.Load()
	runtime.KeepAlive(r)
	res.peakHeap = max(peak.Load(), dPeak.Load()) - min(baseline, peak.Load())
	res.peakTotal = max(peakTotal.Load(), dTotal.Load()) - min(baseTotal, peakTotal.Load())
	res.deliveryHeap = dPeak.Load() - min(baseline, dPeak.Load())
	ops := map[string]int{}
	total, ranking := 0, 0
	var slowest, work, slowestTrail, trailWork time.Duration
	for _, t := range targets {
		iamCalls := 0
		for op, n := range calls.ByAccount[t.AccountID] {
			ops[op] += n
			total += n
			if rankingOps[op] {
				ranking += n
			}
			if strings.HasPrefix(op, "iam:") {
				iamCalls += n
			}
		}
		// An account's own lower bound: its IAM calls at the simulated rate
		// limit, or its critical path of dependent calls (summary, report
		// generation, report, one round of key listings, one round of
		// confirmations, the policies), whichever is longer. The calls made
		// with the management account's credentials to reach the others
		// (STS, Organizations) have no simulated limit. CloudTrail comes
		// after every account, in the ranking, at its own rate.
		own := max(time.Duration(float64(iamCalls-iamBurst)/iamRate*float64(time.Second)), 7*latency)
		work += own
		slowest = max(slowest, own)
		if lookups := calls.ByAccount[t.AccountID]["cloudtrail:LookupEvents"]; lookups > 0 {
			trail := time.Duration(lookups-1)*time.Second/trailRate + latency
			trailWork += trail
			slowestTrail = max(slowestTrail, trail)
		}
	}
	for _, a := range r.Accounts {
		res.keys += a.Keys
	}
	res.throttledPerAccount = float64(throttled.Load()) / float64(len(targets))
	work -= time.Duration(float64(throttled.Load()) / iamRate * float64(time.Second))
	spread := func(d time.Duration) time.Duration { return time.Duration(float64(d) / res.concurrency) }
	res.rankingBound = max(slowestTrail, spread(trailWork))
	res.bound = max(slowest, spread(work)) + res.rankingBound
	res.callsPerAccount = float64(total) / float64(len(targets))
	res.rankingPerAccount = float64(ranking) / float64(len(targets))
	res.ops = opsLine(ops, len(targets))
	return res
}

// planned is a concurrency the scheduler set, and when.
type planned struct {
	at time.Time
	n  int
}

// meanConcurrency is the mean of the concurrencies planned, each weighted
// by how long it held until end, and the highest of them.
func meanConcurrency(plans []planned, end time.Time) (float64, int) {
	if len(plans) == 0 {
		return 1, 1
	}
	var sum float64
	most := 0
	for i, p := range plans {
		until := end
		if i+1 < len(plans) {
			until = plans[i+1].at
		}
		sum += float64(p.n) * max(0, until.Sub(p.at)).Seconds()
		most = max(most, p.n)
	}
	if total := end.Sub(plans[0].at).Seconds(); total > 0 {
		return sum / total, most
	}
	return float64(plans[len(plans)-1].n), most
}

// notOK lists the accounts not audited, for the benchmark's failure.
func notOK(accounts []report.Account) []report.Account {
	var out []report.Account
	for _, a := range accounts {
		if a.Status != inventory.StatusOK {
			out = append(out, a)
		}
	}
	return out
}

func opsLine(ops map[string]int, accounts int) string {
	names := make([]string, 0, len(ops))
	for op := range ops {
		names = append(names, op)
	}
	sort.Strings(names)
	parts := make([]string, 0, len(names))
	for _, op := range names {
		parts = append(parts, fmt.Sprintf("%s %.1f", op, float64(ops[op])/float64(accounts)))
	}
	return strings.Join(parts, ", ")
}

// watchMemory samples memoryNow until stop is called; each peak is the
// highest sample.
func watchMemory() (heap, total *atomic.Uint64, stop func()) {
	heap, total = new(atomic.Uint64), new(atomic.Uint64)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			h, tot := memoryNow()
			for _, s := range []struct {
				peak *atomic.Uint64
				v    uint64
			}{{heap, h}, {total, tot}} {
				if s.v > s.peak.Load() {
					s.peak.Store(s.v)
				}
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return heap, total, func() { close(done); wg.Wait() }
}

// memoryNow is, from runtime/metrics, the heap's objects and the memory
// the runtime holds: all it has mapped less the heap memory it has
// returned to the operating system, which is what Go's soft limit counts
// and about what Lambda counts against the function's memory.
func memoryNow() (heap, total uint64) {
	samples := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(samples)
	return samples[0].Value.Uint64(), samples[1].Value.Uint64() - samples[2].Value.Uint64()
}

// measureNaive audits the way credential-report-less scanners do: one
// account after another, ListUsers, then ListAccessKeys for every user and
// GetAccessKeyLastUsed for every key. It returns the wall time.
func measureNaive(b *testing.B, accounts int) time.Duration {
	w := world(accounts)
	srv := awssim.NewServer(w)
	defer srv.Close()
	ctx := context.Background()
	mgmt := w.Management().ID
	cfg, err := srv.AWSConfig(ctx, mgmt, "us-east-1")
	require.NoError(b, err, "simulator config")
	cfg.Retryer = audit.Retryer
	start := time.Now()
	for _, a := range w.Accounts {
		if a.Management {
			continue
		}
		c := cfg.Copy()
		c.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg), "arn:aws:iam::"+a.ID+":role/KeyAuditRole"))
		client := iam.NewFromConfig(c)
		users := iam.NewListUsersPaginator(client, &iam.ListUsersInput{})
		for users.HasMorePages() {
			page, err := users.NextPage(ctx)
			require.NoError(b, err, "list users")
			for _, u := range page.Users {
				keys, err := client.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: u.UserName})
				require.NoError(b, err, "list access keys")
				for _, k := range keys.AccessKeyMetadata {
					_, err := client.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: k.AccessKeyId})
					require.NoError(b, err, "get access key last used")
				}
			}
		}
	}
	return time.Since(start)
}
