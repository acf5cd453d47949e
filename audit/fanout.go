package audit

import (
	"context"
	"fmt"
	"iter"
	"sync"
	"time"

	"github.com/keyaudit/keyaudit/audit/inventory"
)

// Scheduler audits many accounts at once, with a bound, and accounts for
// every target: each comes back ok, error or skipped, with R, what else
// auditing it yields (the zero R when it failed or was skipped).
type Scheduler[R any] struct {
	// Concurrency bounds the accounts audited at once. 0 derives it from
	// the accounts listed and the time left (AutoConcurrency, with
	// MinTime), again as pages of accounts arrive, and adds workers, up to
	// MaxConcurrency, when the accounts done so far prove too slow for the
	// rest to fit in a quarter of the time left.
	Concurrency int
	// MinTime is the least time one account is expected to take; no account
	// starts when the context's deadline is closer than this (or than the
	// mean time of the accounts done so far, when that is longer).
	MinTime time.Duration
	// Planned, when set, hears how many accounts are audited at once and
	// why, when that is derived: at the first page and at each increase,
	// as pages of accounts arrive or the accounts' pace calls for it; one
	// call at a time, in the order of the increases, outside the lock that
	// guards the scheduler's plan (a slow Planned holds back no other
	// worker's finish).
	Planned func(n int, why string)
	// Done is called after each account with its whole result, one call
	// at a time, outside the lock that guards the scheduler's plan (a slow
	// Done holds back no worker's start). Run keeps no account: an
	// organization's inventory need not fit in memory at once.
	Done func(inventory.Account, R)
}

// AuditFunc audits one target. It reports failure in the Account it
// returns (Status error with a reason); a panic is the account's error too.
type AuditFunc[R any] func(ctx context.Context, t Target) (inventory.Account, R)

// Run audits every target of pages, starting on a page's targets as soon
// as the page arrives: an organization is listed 20 accounts a call, and
// waiting for the last page would leave the first accounts idle. Pages are
// read as fast as they come, whatever the audit's pace, so the plan knows
// the accounts early.
func (s *Scheduler[R]) Run(ctx context.Context, pages iter.Seq[[]Target], audit AuditFunc[R]) {
	jobs := make(chan Target)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex // guards the plan: the counts below and workers
		doneMu   sync.Mutex // one Done at a time
		listed   int        // targets the pages held so far
		done     int        // audited ok
		finished int        // ok, error or skipped
		elapsed  time.Duration
		workers  int
		work     func()
		derived  = s.Concurrency <= 0
		plans    []increase // increases Planned has yet to hear of, oldest first
		telling  bool       // a goroutine is telling Planned of plans
	)
	// grow adds workers up to n, and queues a derived increase for tell
	// (mu held).
	grow := func(n int, why string) {
		if n <= workers {
			return
		}
		for ; workers < n; workers++ {
			wg.Add(1)
			go work()
		}
		if derived && s.Planned != nil {
			plans = append(plans, increase{n, why})
		}
	}
	// tell tells Planned of the queued plans, outside mu (mu not held).
	// One goroutine tells at a time, in order, and tells the plans queued
	// meanwhile too; any other returns at once rather than wait behind a
	// slow Planned.
	tell := func() {
		mu.Lock()
		if telling {
			mu.Unlock()
			return
		}
		telling = true
		for len(plans) > 0 {
			p := plans[0]
			plans = plans[1:]
			mu.Unlock()
			s.Planned(p.n, p.why)
			mu.Lock()
		}
		telling = false
		mu.Unlock()
	}
	finish := func(a inventory.Account, r R, took time.Duration) {
		mu.Lock()
		finished++
		if a.Status == inventory.StatusOK {
			done++
			elapsed += took
		}
		// A few accounts are enough to know their pace.
		if derived && a.Status == inventory.StatusOK && done >= 3 {
			grow(regrow(ctx, listed-finished, elapsed/time.Duration(done)))
		}
		mu.Unlock()
		tell()
		if s.Done != nil {
			doneMu.Lock()
			defer doneMu.Unlock()
			s.Done(a, r)
		}
	}
	var none R // the result of an account failed or skipped
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
		for t := range jobs {
			if err := ctx.Err(); err != nil {
				finish(skipped(t, "not started: the run was stopped before this account's turn ("+err.Error()+")"), none, 0)
				continue
			}
			if ok, left := enough(); !ok {
				finish(skipped(t, fmt.Sprintf("not started: only %s was left before the run's deadline; give the run more time or split the accounts", left.Round(time.Second))), none, 0)
				continue
			}
			start := time.Now()
			a, r := safely(ctx, t, audit)
			if a.Status == inventory.StatusError && ctx.Err() != nil {
				a, r = skipped(t, "cut short by the run's deadline before this account was done ("+a.Error+")"), none
			}
			finish(a, r, time.Since(start))
		}
	}
	feed := make(chan []Target)
	go func() {
		defer close(feed)
		for page := range pages {
			feed <- page
		}
	}()
	// Targets wait here, listed, until a worker is free.
	var queue []Target
	for feed != nil || len(queue) > 0 {
		var out chan Target
		var next Target
		if len(queue) > 0 {
			out, next = jobs, queue[0]
		}
		select {
		case page, ok := <-feed:
			if !ok {
				feed = nil
				continue
			}
			queue = append(queue, page...)
			// The workers fit the accounts listed so far.
			mu.Lock()
			listed += len(page)
			if derived {
				grow(AutoConcurrency(ctx, listed, s.MinTime))
			} else {
				grow(s.Concurrency, "")
			}
			mu.Unlock()
			tell()
		case out <- next:
			queue = queue[1:]
		}
	}
	close(jobs)
	wg.Wait()
}

// increase is a derived concurrency and why, as Planned hears it.
type increase struct {
	n   int
	why string
}

// safely turns a panic while auditing one account into that account's
// error, so the other accounts and the report survive it.
func safely[R any](ctx context.Context, t Target, audit AuditFunc[R]) (a inventory.Account, r R) {
	defer func() {
		if p := recover(); p != nil {
			var none R
			a, r = Failed(t, fmt.Errorf("internal error while auditing (please report this): %v", p)), none
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
