package audit

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
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
		if gated {
			// The quota's pace: 55 calls after the burst of 5, at 20 a second.
			assert.Less(t, tightTook, 4*time.Second, "case %s: the throttled account keeps close to its quota's pace (2.75 s)", name)
		}
		t.Logf("case %s: %d attempts for %d calls in the throttled account, in %s", name, attempts[name], calls, tightTook)
	}
	assert.Less(t, attempts["gated"], attempts["ungated"], "the gate saves throttled attempts")
	// Ungated, about 28 of the 60 calls are throttled; gated, about 11.
	assert.Less(t, 3*(attempts["gated"]-calls), 2*(attempts["ungated"]-calls), "the gate saves a third of the throttled attempts at least")
}

// The pace halves with each throttle of an attempt booked after the last
// one was heard of, so a call throttled again and again backs off as
// patiently as the retryer would; attempts throttled in the same breath
// slow it once.
func TestThrottleGatePace(t *testing.T) {
	throttle := middleware.FinalizeHandlerFunc(func(context.Context, middleware.FinalizeInput) (middleware.FinalizeOutput, middleware.Metadata, error) {
		return middleware.FinalizeOutput{}, middleware.Metadata{}, &smithy.GenericAPIError{Code: "Throttling", Message: "Rate exceeded"}
	})
	attempt := func(g *gate) {
		_, _, err := g.HandleFinalize(context.Background(), middleware.FinalizeInput{}, throttle)
		require.True(t, errors.As(err, new(smithy.APIError)), "the throttle comes back to the retryer")
	}
	interval := func(g *gate) time.Duration {
		g.mu.Lock()
		defer g.mu.Unlock()
		return g.by["/"].interval
	}

	g := &gate{by: map[string]*hold{}}
	start := time.Now()
	for range 4 {
		attempt(g)
	}
	assert.Equal(t, 8*gateFirst, interval(g), "one after another: 50, 100, 200, 400 ms")
	assert.GreaterOrEqual(t, time.Since(start), 7*gateFirst, "one after another: each waited the pace of the throttle before")

	g = &gate{by: map[string]*hold{}}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() { defer wg.Done(); attempt(g) }()
	}
	wg.Wait()
	assert.LessOrEqual(t, interval(g), 2*gateFirst, "in the same breath: the pace slows once (twice if one was booked after the first throttle)")
}
