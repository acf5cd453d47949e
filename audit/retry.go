package audit

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// The retry policy by error class. Throttling and 5xx answers mean AWS is
// there and busy: up to MaxAttempts attempts with backoff up to 20 s ride
// out a throttling storm of minutes. A transport error (refused, reset, DNS,
// a timeout) means AWS may not be there at all: a few quick attempts, so a
// wrong endpoint fails in seconds.
const (
	MaxAttempts          = 12
	maxBackoff           = 20 * time.Second
	TransportAttempts    = 3
	transportBaseBackoff = 200 * time.Millisecond
)

// Retryer is the retry policy for every AWS client of a run: standard mode,
// patient for throttling and server errors, quick for transport errors,
// and no client-side retry quota. Under concurrency the SDK's default token
// bucket fails calls locally with "retry quota exceeded" long before AWS
// stops answering; adaptive mode would throttle all accounts for one
// account's limits. Per account, WithThrottleGate (Sessions) paces the
// calls of a throttled service together.
func Retryer() aws.Retryer { return RetryerWithNotice(nil)() }

// RetryNotice hears of each retry before its wait: the attempt that failed,
// the error's class, the error, and the wait. An entrypoint uses it to say
// on standard error what is being retried once that takes a while.
type RetryNotice func(attempt int, class ErrorClass, err error, wait time.Duration)

// RetryerWithNotice is Retryer, telling notice (if not nil) of each retry;
// it has the shape config.WithRetryer takes.
func RetryerWithNotice(notice RetryNotice) func() aws.Retryer {
	return func() aws.Retryer {
		return retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = MaxAttempts
			o.MaxBackoff = maxBackoff
			o.RateLimiter = ratelimit.None
			o.Backoff = byClass{patient: retry.NewExponentialJitterBackoff(maxBackoff), notice: notice}
		})
	}
}

// byClass delays retries by error class and stops transport errors after
// TransportAttempts attempts.
type byClass struct {
	patient retry.BackoffDelayer
	notice  RetryNotice
}

func (b byClass) BackoffDelay(attempt int, err error) (time.Duration, error) {
	wait, err2 := b.delay(attempt, err)
	if err2 == nil && b.notice != nil {
		b.notice(attempt, Classify(err), err, wait)
	}
	return wait, err2
}

func (b byClass) delay(attempt int, err error) (time.Duration, error) {
	var send *smithyhttp.RequestSendError
	if !errors.As(err, &send) {
		return b.patient.BackoffDelay(attempt, err)
	}
	if attempt >= TransportAttempts {
		return 0, fmt.Errorf("gave up after %d attempts: %w", attempt, err)
	}
	// Full jitter under 400 ms, then 800 ms: the attempts are over in about a second.
	return rand.N(transportBaseBackoff << attempt), nil
}

// Timeouts bound each attempt of an AWS call; a slow or silent endpoint
// fails the attempt, which is then retried as a transport error.
type Timeouts struct {
	Connect        time.Duration // TCP connect
	TLSHandshake   time.Duration
	ResponseHeader time.Duration // from the request sent to the response's headers
}

// DefaultTimeouts fit AWS: its endpoints connect and complete a TLS
// handshake in well under a second, and the calls keyaudit makes (reads,
// report generation is asynchronous) answer within seconds. A silent
// endpoint fails within TransportAttempts × ResponseHeader, under a minute.
func DefaultTimeouts() Timeouts {
	return Timeouts{Connect: 5 * time.Second, TLSHandshake: 5 * time.Second, ResponseHeader: 15 * time.Second}
}

// HTTPClient is the HTTP client for every AWS client of a run, with the
// default per-attempt timeouts.
func HTTPClient() *awshttp.BuildableClient { return DefaultTimeouts().HTTPClient() }

// idleConns is how many connections to one endpoint stay open for reuse:
// every account audited at once calls the same IAM endpoint, a few calls at
// a time; with the SDK's default of 10 most calls would open a new TLS
// connection.
const idleConns = 4 * MaxConcurrency

// HTTPClient returns the SDK's HTTP client with these per-attempt timeouts.
func (t Timeouts) HTTPClient() *awshttp.BuildableClient {
	return awshttp.NewBuildableClient().
		WithDialerOptions(func(d *net.Dialer) { d.Timeout = t.Connect }).
		WithTransportOptions(func(tr *http.Transport) {
			tr.TLSHandshakeTimeout = t.TLSHandshake
			tr.ResponseHeaderTimeout = t.ResponseHeader
			tr.MaxIdleConns = idleConns
			tr.MaxIdleConnsPerHost = idleConns
		})
}
