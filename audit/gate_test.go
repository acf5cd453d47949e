package audit

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/keyaudit/keyaudit/internal/awssim"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	throttledAccount = "222222222222"
	freeAccount      = "333333333333"
)

// gateWorld has one account with a tight IAM quota and one without.
func gateWorld() *awssim.World {
	return &awssim.World{Accounts: []awssim.Account{
		{ID: throttledAccount, Name: "tight", CreatedDaysAgo: 900, Faults: awssim.Faults{IAMRate: 20, IAMBurst: 5, LatencyMS: 5}},
		{ID: freeAccount, Name: "free", CreatedDaysAgo: 900, Faults: awssim.Faults{LatencyMS: 5}},
	}}
}

// burst makes calls IAM calls in account, 8 at a time, and returns how long
// they took.
func burst(t *testing.T, cfg aws.Config, account string, calls int) time.Duration {
	t.Helper()
	client := iam.NewFromConfig(cfg)
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, calls)
	sem := make(chan struct{}, 8)
	for range calls {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			_, err := client.GetAccountSummary(context.Background(), &iam.GetAccountSummaryInput{})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err, "account %s: every call succeeds in the end", account)
	}
	return time.Since(start)
}

// The calls of a throttled account wait together: fewer are throttled than
// when each retries on its own, and an account beside it is not slowed.
func TestThrottleGate(t *testing.T) {
	const calls = 60
	attempts := map[string]int{}
	for _, gated := range []bool{false, true} {
		name := map[bool]string{false: "ungated", true: "gated"}[gated]
		srv, tight := simConfig(t, gateWorld(), throttledAccount)
		free, err := srv.AWSConfig(context.Background(), freeAccount, "us-east-1")
		require.NoError(t, err, "case %s: config of the free account", name)
		free.Retryer = Retryer
		if gated {
			tight, free = WithThrottleGate(tight), WithThrottleGate(free)
		}
		var wg sync.WaitGroup
		var freeTook time.Duration
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Start once the tight account is being throttled.
			time.Sleep(100 * time.Millisecond)
			freeTook = burst(t, free, freeAccount, calls)
		}()
		tightTook := burst(t, tight, throttledAccount, calls)
		wg.Wait()
		c := srv.Calls()
		attempts[name] = c.Account(throttledAccount)
		assert.Equal(t, calls, c.Account(freeAccount), "case %s: the free account's calls are never throttled nor retried", name)
		// 60 calls 8 at a time at 5 ms each: well under a second unless held back.
		assert.Less(t, freeTook, time.Second, "case %s: the free account is not held back by the other's throttling", name)
		t.Logf("case %s: %d attempts for %d calls in the throttled account, in %s", name, attempts[name], calls, tightTook)
	}
	assert.Less(t, attempts["gated"], attempts["ungated"], "the gate saves throttled attempts")
	assert.Less(t, attempts["gated"]-calls, (attempts["ungated"]-calls)/2, "the gate at least halves the throttled attempts")
}
