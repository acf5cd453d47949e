package audit

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"
)

// quota is IAM as one account sees it, in process, so that a test runs it
// on synctest's fake clock: every call takes 5 ms and, when limiter is set,
// is throttled while the account's token bucket is empty (as awssim's
// Faults.IAMRate and IAMBurst). It counts the attempts it answers.
type quota struct {
	limiter  *rate.Limiter
	attempts atomic.Int32
}

const (
	summaryXML  = `<GetAccountSummaryResponse><GetAccountSummaryResult><SummaryMap/></GetAccountSummaryResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></GetAccountSummaryResponse>`
	throttleXML = `<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>1</RequestId></ErrorResponse>`
)

func (q *quota) Do(r *http.Request) (*http.Response, error) {
	q.attempts.Add(1)
	time.Sleep(5 * time.Millisecond)
	status, body := http.StatusOK, summaryXML
	if q.limiter != nil && !q.limiter.Allow() {
		status, body = http.StatusBadRequest, throttleXML
	}
	return &http.Response{StatusCode: status, Header: http.Header{"Content-Type": {"text/xml"}},
		Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)), Request: r}, nil
}

// config is an account's configuration whose IAM is q, with the run's retryer.
func (q *quota) config() aws.Config {
	return aws.Config{Region: "us-east-1", HTTPClient: q, Retryer: Retryer,
		Credentials: credentials.NewStaticCredentialsProvider("AKIAGATETEST00000000", "not-a-secret", "")}
}

// burst makes calls IAM calls with cfg, 8 at a time, and returns how long
// they took.
func burst(t *testing.T, cfg aws.Config, calls int) time.Duration {
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
			_, err := client.GetAccountSummary(t.Context(), &iam.GetAccountSummaryInput{})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err, "every call succeeds in the end")
	}
	return time.Since(start)
}

// The calls of a throttled account wait together: fewer are throttled than
// when each retries on its own, and an account beside it is not slowed.
// On synctest's fake clock (the gate's pace, the quota's refill and the
// retryer's backoff alike), so a loaded machine changes nothing.
func TestThrottleGate(t *testing.T) {
	const calls = 60
	attempts := map[string]int{}
	for _, gated := range []bool{false, true} {
		name := map[bool]string{false: "ungated", true: "gated"}[gated]
		synctest.Test(t, func(t *testing.T) {
			// The tight account's IAM answers 20 calls a second after a burst of 5.
			tightIAM, freeIAM := &quota{limiter: rate.NewLimiter(20, 5)}, &quota{}
			tight, free := tightIAM.config(), freeIAM.config()
			if gated {
				tight, free = WithThrottleGate(tight), WithThrottleGate(free)
			}
			var wg sync.WaitGroup
			var freeTook time.Duration
			wg.Add(1)
			go func() {
				defer wg.Done()
				// Start once the tight account is being throttled: the
				// fake clock makes this an instant of the run, not a guess.
				time.Sleep(100 * time.Millisecond)
				freeTook = burst(t, free, calls)
			}()
			tightTook := burst(t, tight, calls)
			wg.Wait()
			attempts[name] = int(tightIAM.attempts.Load())
			assert.Equal(t, calls, int(freeIAM.attempts.Load()), "case %s: the free account's calls are never throttled nor retried", name)
			// 60 calls 8 at a time at 5 ms each: 8 rounds.
			assert.Equal(t, 8*5*time.Millisecond, freeTook, "case %s: the free account is not held back by the other's throttling", name)
			if gated {
				// The quota's pace: 55 calls after the burst of 5, at 20 a second.
				assert.Less(t, tightTook, 4*time.Second, "case %s: the throttled account keeps close to its quota's pace (2.75 s)", name)
			}
			t.Logf("case %s: %d attempts for %d calls in the throttled account, in %s", name, attempts[name], calls, tightTook)
		})
	}
	assert.Less(t, attempts["gated"], attempts["ungated"], "the gate saves throttled attempts")
	assert.Less(t, 3*(attempts["gated"]-calls), 2*(attempts["ungated"]-calls), "the gate saves a third of the throttled attempts at least")
}

// The pace halves with each throttle of an attempt booked after the last
// one was heard of, so a call throttled again and again backs off as
// patiently as the retryer would; attempts throttled in the same breath
// slow it once. On synctest's fake clock: every wait is exact.
func TestThrottleGatePace(t *testing.T) {
	throttle := middleware.FinalizeHandlerFunc(func(context.Context, middleware.FinalizeInput) (middleware.FinalizeOutput, middleware.Metadata, error) {
		time.Sleep(time.Millisecond) // IAM's answer takes a moment
		return middleware.FinalizeOutput{}, middleware.Metadata{}, &smithy.GenericAPIError{Code: "Throttling", Message: "Rate exceeded"}
	})
	attempt := func(t *testing.T, g *gate) {
		_, _, err := g.HandleFinalize(t.Context(), middleware.FinalizeInput{}, throttle)
		require.True(t, errors.As(err, new(smithy.APIError)), "the throttle comes back to the retryer")
	}
	interval := func(g *gate) time.Duration {
		g.mu.Lock()
		defer g.mu.Unlock()
		return g.by["/"].interval
	}

	synctest.Test(t, func(t *testing.T) {
		g := &gate{by: map[string]*hold{}}
		start := time.Now()
		for range 4 {
			attempt(t, g)
		}
		assert.Equal(t, 8*gateFirst, interval(g), "one after another: 50, 100, 200, 400 ms")
		assert.Equal(t, 7*gateFirst+4*time.Millisecond, time.Since(start), "one after another: each waited the pace of the throttle before")
	})

	synctest.Test(t, func(t *testing.T) {
		g := &gate{by: map[string]*hold{}}
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() { attempt(t, g) })
		}
		wg.Wait()
		assert.Equal(t, gateFirst, interval(g), "in the same breath: the pace slows once")
	})
}
