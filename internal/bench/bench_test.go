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
	"github.com/keyaudit/keyaudit/internal/pipeline"
	"github.com/keyaudit/keyaudit/rules"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	usersPerAccount = 50
	latency         = 20 * time.Millisecond
	// iamRate is the simulated per-account IAM limit (calls per second),
	// low enough that the audit really is throttled and must retry.
	iamRate     = 20
	iamBurst    = 10
	concurrency = 50
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

// naiveSample is the organization the naive scan runs on in full; it is
// sequential, so its time per account scales linearly to the larger sizes.
const naiveSample = 10

func BenchmarkOrgAudit(b *testing.B) {
	b.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "accounts\tkeys\tcalls/account\tof which ranking\twall\tranking\tbound\taudit/bound\tpeak heap\tnaive\tspeed-up\t\n")
	sizes, err := sizesFrom(os.Getenv("BENCH_ACCOUNTS"))
	if err != nil {
		b.Fatal(err)
	}
	perAccount := measureNaive(b, naiveSample) / naiveSample
	var perOp []string
	for _, size := range sizes {
		if testing.Short() && size > naiveSample {
			break
		}
		m := measure(b, size)
		naive := perAccount * time.Duration(size)
		label := naive.Round(time.Second).String()
		if size != naiveSample {
			label = "~" + label + " (est.)"
		}
		fmt.Fprintf(os.Stderr, "measured %d accounts: wall %s\n", size, m.wall)
		fmt.Fprintf(tw, "%d\t%d\t%.1f\t%.1f\t%s\t%s\t%s\t%.2f\t%d MiB\t%s\t%.0fx\t\n",
			size, m.keys, m.callsPerAccount, m.rankingPerAccount, m.wall.Round(10*time.Millisecond), m.ranking.Round(10*time.Millisecond),
			m.bound.Round(10*time.Millisecond), (m.wall-m.ranking).Seconds()/m.bound.Seconds(), m.peakHeap>>20, label, naive.Seconds()/m.wall.Seconds())
		perOp = append(perOp, fmt.Sprintf("%d accounts: %s", size, m.ops))
	}
	tw.Flush()
	fmt.Println("API calls per account by operation (mean):")
	for _, l := range perOp {
		fmt.Println("  " + l)
	}
	fmt.Printf("simulated latency %s per call, IAM limit %d calls/s (burst %d) per account, %d users per account, concurrency %d, GOMAXPROCS %d\n",
		latency, iamRate, iamBurst, usersPerAccount, concurrency, runtime.GOMAXPROCS(0))
	rc := rules.DefaultRisk()
	fmt.Printf("kill-first ranking on: blast radius in every account, CloudTrail usage of the top %d keys (risk.trail_keys), at most %d page(s) each (risk.trail_pages), at most %d LookupEvents calls in the whole run\n",
		rc.TrailKeys, rc.TrailPages, rc.TrailKeys*rc.TrailPages)
}

type result struct {
	keys            int
	callsPerAccount float64
	// rankingPerAccount are the calls only the kill-first ranking makes.
	rankingPerAccount float64
	ops               string
	// ranking is the time from the last account audited to the report:
	// the CloudTrail profiles and the ranking; bound leaves it out.
	wall, ranking, bound time.Duration
	peakHeap             uint64
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

func measure(b *testing.B, accounts int) result {
	w := world(accounts)
	srv := awssim.NewServer(w, awssim.WithReportCalls(1))
	defer srv.Close()
	mgmt := w.Management().ID
	ctx := context.Background()
	cfg, err := srv.AWSConfig(ctx, mgmt, "us-east-1")
	require.NoError(b, err, "simulator config")
	cfg.Retryer = audit.Retryer

	peak, stop := watchHeap()
	start := time.Now()
	conn, err := pipeline.Dial(ctx, cfg, pipeline.Selection{Org: true, Role: audit.RoleSpec{Name: "KeyAuditRole", Path: "/", SessionName: "keyaudit-bench", InCaller: true}})
	require.NoError(b, err, "dial the organization")
	targets := conn.Targets
	collector := audit.NewCollector()
	collector.ReportPoll = 100 * time.Millisecond
	opts := pipeline.Options{Now: time.Now(), Started: time.Now(), Config: rules.Defaults(), Concurrency: concurrency, Collector: collector,
		RiskTracer: conn.Tracers(30)}
	var audited time.Time // when the last account was audited; Progress is called one at a time
	opts.Progress = func(inventory.Account, int) { audited = time.Now() }
	r := pipeline.Live(ctx, opts, targets, conn.IAM)
	end := time.Now()
	wall := end.Sub(start)
	stop()
	require.Equal(b, len(targets), r.Summary.Accounts[string(inventory.StatusOK)], "accounts audited ok: %+v", r.Accounts)

	calls := srv.Calls()
	profiled := 0
	for _, k := range r.Risk {
		if k.Profiled {
			profiled++
		}
	}
	require.Equal(b, min(opts.Config.Risk.TrailKeys, len(r.Risk)), profiled, "keys profiled in CloudTrail; warnings: %v", r.Warnings)
	res := result{wall: wall, ranking: end.Sub(audited), peakHeap: peak.Load()}
	ops := map[string]int{}
	total, ranking := 0, 0
	var slowest time.Duration
	var work time.Duration
	for _, t := range targets {
		for op, n := range calls.ByAccount[t.AccountID] {
			ops[op] += n
			total += n
			if rankingOps[op] {
				ranking += n
			}
		}
		// An account's own lower bound: its IAM calls at the simulated rate
		// limit, or its critical path of dependent calls (summary, report
		// generation, report, one round of key listings, one round of
		// confirmations, the policies), whichever is longer. CloudTrail
		// comes after every account, in the ranking's time.
		n := calls.Account(t.AccountID) - calls.ByAccount[t.AccountID]["cloudtrail:LookupEvents"]
		own := max(time.Duration(float64(n-iamBurst)/iamRate*float64(time.Second)), 7*latency)
		work += own
		slowest = max(slowest, own)
	}
	for _, a := range r.Accounts {
		res.keys += a.Keys
	}
	res.bound = max(slowest, work/time.Duration(concurrency))
	res.callsPerAccount = float64(total) / float64(len(targets))
	res.rankingPerAccount = float64(ranking) / float64(len(targets))
	res.ops = opsLine(ops, len(targets))
	return res
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

// watchHeap samples the live heap until stop is called.
func watchHeap() (*atomic.Uint64, func()) {
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > peak.Load() {
				peak.Store(ms.HeapAlloc)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return &peak, func() { close(done); wg.Wait() }
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
