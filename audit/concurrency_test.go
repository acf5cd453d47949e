package audit

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyaudit/keyaudit/audit/inventory"
	"github.com/stretchr/testify/assert"
)

func TestAutoConcurrency(t *testing.T) {
	lambda := 14*time.Minute + 30*time.Second // 15 minutes less the Lambda's reserve
	tests := []struct {
		name       string
		accounts   int
		perAccount time.Duration
		left       time.Duration // 0: no deadline
		want       int
		why        string
	}{
		{"fewer accounts than the floor", 5, 0, 0, 5, "one per account"},
		{"no accounts", 0, 0, 0, 1, "one per account"},
		{"small organization: the floor", 100, 0, 0, MinConcurrency, "at least 10"},
		{"no deadline: planned as 15 minutes", 1000, 0, 0, 89, "1000 accounts × 20s each to fit in a quarter of 15m0s (no deadline set)"},
		{"a Lambda's time left", 1000, 0, lambda, 92, "14m30s left"},
		{"less time, more at once", 1000, 0, 5 * time.Minute, 200, "at most 200"},
		{"faster accounts, fewer at once", 1000, 2 * time.Second, 0, MinConcurrency, "× 2s each"},
		{"many accounts for the time left", 10000, 0, lambda, MaxConcurrency, "at most 200"},
		{"past the deadline", 50, 0, -time.Second, 50, "one per account"},
	}
	// cpus: the CPUs the process has (GOMAXPROCS); 8 leaves MaxConcurrency the ceiling.
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			if tt.left != 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithDeadline(ctx, time.Now().Add(tt.left))
				defer cancel()
			}
			got, why := autoConcurrency(ctx, tt.accounts, tt.perAccount, 8)
			assert.Equal(t, tt.want, got, "case %s: concurrency (%s)", tt.name, why)
			assert.Contains(t, why, tt.why, "case %s: why", tt.name)
			assert.NotContains(t, why, "more than the time left", "case %s: before any account is measured, nothing is said of the time it will take", tt.name)
		})
	}
}

// On a small machine the process's CPUs bound the accounts in flight.
func TestAutoConcurrencyPerCPU(t *testing.T) {
	got, why := autoConcurrency(context.Background(), 1000, 0, 2)
	assert.Equal(t, 2*PerCPU, got, "1,000 accounts on 2 CPUs (%s)", why)
	assert.Contains(t, why, "at most 50 to start (25 per CPU, 2 CPUs; more if the accounts prove slower)", "1,000 accounts on 2 CPUs: why")
	got, why = autoConcurrency(context.Background(), 10000, 0, 1)
	assert.Equal(t, PerCPU, got, "10,000 accounts on 1 CPU (%s)", why)
	got, why = regrow(context.Background(), 10000, 20*time.Second)
	assert.Equal(t, MaxConcurrency, got, "10,000 accounts that prove to take 20 s each (%s)", why)
	assert.Contains(t, why, "more than the time left; split the accounts into several runs, or use the Distributed Map mode", "10,000 accounts on 1 CPU: why")
	got, _ = autoConcurrency(context.Background(), 100, 0, 1)
	assert.Equal(t, MinConcurrency, got, "100 accounts on 1 CPU: the floor")
}

// numbered returns n targets, accounts 000000000001 onwards.
func numbered(n int) []Target {
	targets := make([]Target, n)
	for i := range targets {
		targets[i] = Target{AccountID: fmt.Sprintf("%012d", i+1)}
	}
	return targets
}

// A scheduler left at Concurrency 0 audits as many accounts at once as
// AutoConcurrency says.
func TestSchedulerDerivesConcurrency(t *testing.T) {
	targets := numbered(40)
	audit, peak := inFlight(20 * time.Millisecond)
	(&Scheduler[struct{}]{}).Run(context.Background(), slices.Values([][]Target{targets}), audit)
	want, _ := AutoConcurrency(context.Background(), len(targets), 0)
	assert.Equal(t, MinConcurrency, want, "40 accounts without a deadline: the floor")
	assert.Equal(t, want, peak(), "accounts audited at once by a scheduler with Concurrency 0")
}

// inFlight is an audit taking d per account, and the most accounts it
// had in flight at once.
func inFlight(d time.Duration) (AuditFunc[struct{}], func() int) {
	var mu sync.Mutex
	running, peak := 0, 0
	return func(_ context.Context, t Target) (inventory.Account, struct{}) {
			mu.Lock()
			running++
			peak = max(peak, running)
			mu.Unlock()
			time.Sleep(d)
			mu.Lock()
			running--
			mu.Unlock()
			return inventory.Account{ID: t.AccountID, Status: inventory.StatusOK}, struct{}{}
		}, func() int {
			mu.Lock()
			defer mu.Unlock()
			return peak
		}
}

// A scheduler whose derived concurrency proves too low for how slow its
// accounts are adds workers, so the rest still fits the time left, and
// says so.
func TestSchedulerGrowsForSlowAccounts(t *testing.T) {
	targets := numbered(60)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	defer cancel()
	var planned []int // Planned is called one at a time
	// Planned for 1 ms each: the floor of 10 at once. At 300 ms each, 60
	// accounts fit a quarter of 4 s only with about 18.
	s := &Scheduler[struct{}]{MinTime: time.Millisecond, Planned: func(n int, _ string) { planned = append(planned, n) }}
	audit, peak := inFlight(300 * time.Millisecond)
	s.Run(ctx, slices.Values([][]Target{targets}), audit)
	if assert.NotEmpty(t, planned, "the scheduler said what it planned") {
		assert.Equal(t, MinConcurrency, planned[0], "planned at the start")
		assert.Greater(t, planned[len(planned)-1], MinConcurrency, "planned once the accounts proved slow")
	}
	assert.Greater(t, peak(), MinConcurrency, "accounts in flight after growing")
}

// A set concurrency is kept, however slow the accounts, and nothing is planned.
func TestSchedulerKeepsASetConcurrency(t *testing.T) {
	targets := numbered(30)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	planned := 0
	s := &Scheduler[struct{}]{Concurrency: 2, MinTime: time.Millisecond, Planned: func(int, string) { planned++ }}
	audit, peak := inFlight(50 * time.Millisecond)
	s.Run(ctx, slices.Values([][]Target{targets}), audit)
	assert.Equal(t, 2, peak(), "accounts in flight: as set")
	assert.Zero(t, planned, "nothing planned for a set concurrency")
}

// Accounts are audited as their page arrives: the second page is listed
// only once an account of the first is done, which a scheduler waiting for
// the last page would never see. Every account is done once, and the
// concurrency grows with the accounts listed.
func TestSchedulerAuditsPagesAsTheyArrive(t *testing.T) {
	all := numbered(300)
	firstDone := make(chan struct{})
	pages := func(yield func([]Target) bool) {
		if !yield(all[:20]) {
			return
		}
		select {
		case <-firstDone:
		case <-time.After(5 * time.Second):
			t.Error("no account of the first page was audited before the second page was listed")
		}
		for i := 20; i < len(all); i += 20 {
			if !yield(all[i : i+20]) {
				return
			}
		}
	}
	var once sync.Once
	audit := func(_ context.Context, t Target) (inventory.Account, struct{}) {
		once.Do(func() { close(firstDone) })
		return inventory.Account{ID: t.AccountID, Status: inventory.StatusOK}, struct{}{}
	}
	var planned []int // Planned and Done are called one at a time
	var whys []string
	seen := map[string]int{}
	s := &Scheduler[struct{}]{MinTime: time.Hour, Planned: func(n int, why string) { planned, whys = append(planned, n), append(whys, why) },
		Done: func(a inventory.Account, _ struct{}) { seen[a.ID]++ }}
	s.Run(context.Background(), pages, audit)
	assert.Len(t, seen, len(all), "accounts done")
	for id, n := range seen {
		assert.Equal(t, 1, n, "account %s done once", id)
	}
	// An hour each: one per account listed, up to what a process starts with.
	want, _ := AutoConcurrency(context.Background(), len(all), time.Hour)
	if assert.NotEmpty(t, planned, "planned") {
		assert.Equal(t, 20, planned[0], "planned for the first page: %s", whys[0])
		assert.Equal(t, want, planned[len(planned)-1], "planned once every account is listed: %s", whys[len(whys)-1])
		assert.IsIncreasing(t, planned, "each plan an increase")
	}
}

// A scheduler given no page audits nothing and returns.
func TestSchedulerWithoutPages(t *testing.T) {
	done := 0
	s := &Scheduler[struct{}]{Done: func(inventory.Account, struct{}) { done++ }}
	s.Run(context.Background(), slices.Values([][]Target{}), func(context.Context, Target) (inventory.Account, struct{}) {
		t.Error("audited without a target")
		return inventory.Account{}, struct{}{}
	})
	assert.Zero(t, done, "accounts done")
}

// An account whose audit panics is that account's error, with its result
// zero; the other accounts are audited and report their own results.
func TestSchedulerSurvivesAPanic(t *testing.T) {
	targets := numbered(5)
	done := map[string]inventory.Account{} // Done is called one at a time
	results := map[string]int{}
	s := &Scheduler[int]{Concurrency: 2, Done: func(a inventory.Account, n int) { done[a.ID], results[a.ID] = a, n }}
	s.Run(context.Background(), slices.Values([][]Target{targets}), func(_ context.Context, t Target) (inventory.Account, int) {
		if t.AccountID == targets[2].AccountID {
			panic("a bug in one account's audit")
		}
		return inventory.Account{ID: t.AccountID, Status: inventory.StatusOK}, 7
	})
	assert.Len(t, done, len(targets), "every account is done, the one that panicked too")
	for _, tg := range targets {
		a := done[tg.AccountID]
		if tg.AccountID == targets[2].AccountID {
			assert.Equal(t, inventory.StatusError, a.Status, "the account whose audit panicked: status")
			assert.Contains(t, a.Error, "internal error while auditing (please report this): a bug in one account's audit", "the account whose audit panicked: error")
			assert.Zero(t, results[tg.AccountID], "the account whose audit panicked: no result")
			continue
		}
		assert.Equal(t, inventory.StatusOK, a.Status, "account %s: status", tg.AccountID)
		assert.Equal(t, 7, results[tg.AccountID], "account %s: its audit's result reaches Done", tg.AccountID)
	}
}

// Planned is told outside the scheduler's lock: a Planned that waits on
// the accounts in flight (here, until another account is done) holds none
// of them back. Its calls still come one at a time, each an increase.
func TestSchedulerPlannedOutsideTheLock(t *testing.T) {
	targets := numbered(200)
	// 100 ms an account against a 3 s deadline: once 3 accounts are done,
	// the rest fit the time planned for them (a second at the least) only
	// with about 20 at once, not 10.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	dones := make(chan struct{}, len(targets)) // one a Done
	var telling atomic.Int32
	var planned []int // Planned is called one at a time (asserted)
	s := &Scheduler[struct{}]{MinTime: time.Millisecond,
		Planned: func(n int, _ string) {
			assert.Equal(t, int32(1), telling.Add(1), "one Planned at a time")
			defer telling.Add(-1)
			planned = append(planned, n)
			if len(planned) != 2 {
				return
			}
			// The first increase, told by the worker whose account showed
			// the pace, with other accounts in flight: wait for one of them.
			for drained := false; !drained; {
				select {
				case <-dones:
				default:
					drained = true
				}
			}
			select {
			case <-dones:
			case <-time.After(10 * time.Second): // reached only if Planned holds the scheduler
				t.Error("no account was done while Planned waited: Planned holds the scheduler")
			}
		},
		Done: func(inventory.Account, struct{}) { dones <- struct{}{} }}
	audit, _ := inFlight(100 * time.Millisecond)
	s.Run(ctx, slices.Values([][]Target{targets}), audit)
	if assert.GreaterOrEqual(t, len(planned), 2, "planned at the first page and once the accounts proved slow") {
		assert.Equal(t, MinConcurrency, planned[0], "planned at the first page")
		assert.IsIncreasing(t, planned, "each plan an increase, in order")
	}
}
