package audit

import (
	"context"
	"fmt"
	"runtime"
	"time"
)

// The bounds of the derived concurrency (accounts audited at once).
const (
	// MinConcurrency: below this a small organization would wait on its
	// slowest accounts for no gain; nothing is short of capacity at 10.
	MinConcurrency = 10
	// MaxConcurrency is the most accounts audited at once, derived or set.
	// Each account assumes its role once (STS's account-wide quota is in
	// the hundreds of requests a second, AssumeRole credentials last an
	// hour), and has its own IAM and CloudTrail quotas (the Tracer keeps
	// to LookupEvents' 2 a second per region), so the bound is the auditing
	// process: its connections, memory and CPU. Organizations is read once,
	// to discover the accounts, and does not bound it.
	MaxConcurrency = 200
	// PerCPU bounds the derived concurrency a run starts with by the
	// process's CPUs (GOMAXPROCS): every call costs it signing, TLS and XML,
	// and fast accounts in flight past about 25 per CPU queue behind each
	// other (make bench, 2 CPUs: 89 at once took 0.80 s each, 50 took
	// 0.68 s). Accounts that prove slower, waiting on AWS, get more workers
	// as the Scheduler measures them (regrow), up to MaxConcurrency.
	PerCPU = 25
	// AccountTime is the time one account is expected to take: a
	// credential report generated and read, its key listings, its
	// policies, with some throttling. Most accounts take less.
	AccountTime = 20 * time.Second
	// DefaultTimeLeft is the time a run without a deadline (the CLI
	// without --timeout) is planned for: a Lambda invocation's 15 minutes.
	DefaultTimeLeft = 15 * time.Minute
	// planShare is the part of the time left the audit is planned to take:
	// AccountTime is a guess, throttling storms stretch it, and the
	// ranking and the delivery of the report come after.
	planShare = 4
)

// AutoConcurrency derives how many of accounts to audit at once from the
// time the run has left (ctx's deadline, else DefaultTimeLeft): enough that
// accounts × perAccount (AccountTime when zero) fits in a quarter of it,
// from MinConcurrency to PerCPU per CPU (at most MaxConcurrency), never more
// than the accounts. It also says why, for a person reading the log.
func AutoConcurrency(ctx context.Context, accounts int, perAccount time.Duration) (int, string) {
	return autoConcurrency(ctx, accounts, perAccount, runtime.GOMAXPROCS(0))
}

func autoConcurrency(ctx context.Context, accounts int, perAccount time.Duration, cpus int) (int, string) {
	ceiling, most := MaxConcurrency, fmt.Sprintf("at most %d", MaxConcurrency)
	if c := max(1, cpus) * PerCPU; c < ceiling {
		ceiling, most = c, fmt.Sprintf("at most %d to start (%d per CPU, %d CPUs; more if the accounts prove slower)", c, PerCPU, max(1, cpus))
	}
	return plan(ctx, accounts, perAccount, ceiling, most, false)
}

// plan is the concurrency that fits accounts × perAccount in a quarter of
// the time left, from MinConcurrency to ceiling (most says it), never more
// than the accounts. Only a measured perAccount warns that the run will
// not fit: before any account is done it is a cautious guess, many times
// what most accounts take.
func plan(ctx context.Context, accounts int, perAccount time.Duration, ceiling int, most string, measured bool) (int, string) {
	if perAccount <= 0 {
		perAccount = AccountTime
	}
	left, planned := DefaultTimeLeft, DefaultTimeLeft.String()+" (no deadline set)"
	if deadline, ok := ctx.Deadline(); ok {
		left = time.Until(deadline)
		planned = left.Round(time.Second).String() + " left"
	}
	work := time.Duration(accounts) * perAccount
	aim := max(left/planShare, time.Second)
	n := int((work + aim - 1) / aim)
	why := fmt.Sprintf("%d accounts × %s each to fit in a quarter of %s", accounts, perAccount.Round(time.Millisecond), planned)
	switch {
	case n > ceiling:
		n = ceiling
		why += "; " + most
		if expected := work / time.Duration(MaxConcurrency); measured && expected > left {
			why += fmt.Sprintf(": expect about %s at %d at once, more than the time left; split the accounts into several runs, or use the Distributed Map mode", expected.Round(time.Second), MaxConcurrency)
		}
	case n < MinConcurrency:
		n = MinConcurrency
		why += fmt.Sprintf("; at least %d", MinConcurrency)
	}
	if n > accounts {
		n = max(1, accounts)
		why += "; one per account"
	}
	return n, why
}

// regrow is the concurrency for the accounts left once the accounts done
// took mean each: more than planned when they prove slower (CPUs no longer
// bound it: slow accounts wait on AWS, not on the process).
func regrow(ctx context.Context, left int, mean time.Duration) (int, string) {
	return plan(ctx, left, mean, MaxConcurrency, fmt.Sprintf("at most %d", MaxConcurrency), true)
}
