package audit

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/keyaudit/keyaudit/audit/inventory"
)

// Scheduler audits many accounts at once, with a bound, and accounts for
// every target: each comes back ok, error or skipped, in target order.
type Scheduler struct {
	// Concurrency bounds the accounts audited at once. 0 derives it from
	// the accounts and the time left (AutoConcurrency, with MinTime), and
	// adds workers, up to MaxConcurrency, when the accounts done so far
	// prove too slow for the rest to fit in a quarter of the time left.
	Concurrency int
	// MinTime is the least time one account is expected to take; no account
	// starts when the context's deadline is closer than this (or than the
	// mean time of the accounts done so far, when that is longer).
	MinTime time.Duration
	// Planned, when set, hears how many accounts are audited at once and
	// why, when that is derived: at the start and at each increase, one
	// call at a time.
	Planned func(n int, why string)
	// Done, when set, is called after each account, one call at a time,
	// and Run keeps none of them: an organization's inventory need not fit
	// in memory at once.
	Done func(inventory.Account)
}

// AuditFunc audits one target. It reports failure in the Account it
// returns (Status error with a reason), never by panicking.
type AuditFunc func(ctx context.Context, t Target) inventory.Account

// Run audits every target and returns one Account per target, in order
// (none when Done is set).
func (s *Scheduler) Run(ctx context.Context, targets []Target, audit AuditFunc) []inventory.Account {
	var results []inventory.Account
	if s.Done == nil {
		results = make([]inventory.Account, len(targets))
	}
	jobs := make(chan int)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		done     int // audited ok
		finished int // ok, error or skipped
		elapsed  time.Duration
		workers  int
		work     func()
		derived  = s.Concurrency <= 0
		initial  = s.Concurrency
	)
	if derived {
		var why string
		initial, why = AutoConcurrency(ctx, len(targets), s.MinTime)
		if s.Planned != nil {
			s.Planned(initial, why)
		}
	}
	finish := func(i int, a inventory.Account, took time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		finished++
		if a.Status == inventory.StatusOK {
			done++
			elapsed += took
		}
		// A few accounts are enough to know their pace.
		if derived && a.Status == inventory.StatusOK && done >= 3 {
			if n, why := regrow(ctx, len(targets)-finished, elapsed/time.Duration(done)); n > workers {
				for ; workers < n; workers++ {
					wg.Add(1)
					go work()
				}
				if s.Planned != nil {
					s.Planned(n, why)
				}
			}
		}
		if s.Done != nil {
			s.Done(a)
		} else {
			results[i] = a
		}
	}
	enough := func() (bool, time.Duration) {
		deadline, ok := ctx.Deadline()
		if !ok {
			return true, 0
		}
		mu.Lock()
		need := s.MinTime
		if done > 0 {
			need = max(need, elapsed/time.Duration(done))
		}
		mu.Unlock()
		left := time.Until(deadline)
		return left >= need, left
	}
	work = func() {
		defer wg.Done()
		for i := range jobs {
			t := targets[i]
			if err := ctx.Err(); err != nil {
				finish(i, skipped(t, "not started: the run was stopped before this account's turn ("+err.Error()+")"), 0)
				continue
			}
			if ok, left := enough(); !ok {
				finish(i, skipped(t, fmt.Sprintf("not started: only %s was left before the run's deadline; give the run more time or split the accounts", left.Round(time.Second))), 0)
				continue
			}
			start := time.Now()
			a := safely(ctx, t, audit)
			if a.Status == inventory.StatusError && ctx.Err() != nil {
				a = skipped(t, "cut short by the run's deadline before this account was done ("+a.Error+")")
			}
			finish(i, a, time.Since(start))
		}
	}
	mu.Lock()
	for ; workers < initial; workers++ {
		wg.Add(1)
		go work()
	}
	mu.Unlock()
	for i := range targets {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	return results
}

// safely turns a panic while auditing one account into that account's
// error, so the other accounts and the report survive it.
func safely(ctx context.Context, t Target, audit AuditFunc) (a inventory.Account) {
	defer func() {
		if r := recover(); r != nil {
			a = Failed(t, fmt.Errorf("internal error while auditing (please report this): %v", r))
		}
	}()
	return audit(ctx, t)
}

// Failed is the record of an account that could not be audited.
func Failed(t Target, err error) inventory.Account {
	return inventory.Account{ID: t.AccountID, Name: t.Name, Status: inventory.StatusError, Error: err.Error()}
}

func skipped(t Target, reason string) inventory.Account {
	return inventory.Account{ID: t.AccountID, Name: t.Name, Status: inventory.StatusSkipped, Error: reason}
}
