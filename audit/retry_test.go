package audit

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// endpointConfig calls endpoint with keyaudit's retry policy and HTTP client.
func endpointConfig(t *testing.T, endpoint string, timeouts Timeouts) aws.Config {
	t.Helper()
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	return aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIAXXXXXXXXXXXXXXXX", "x", ""),
		BaseEndpoint: aws.String(endpoint),
		Retryer:      Retryer,
		HTTPClient:   timeouts.HTTPClient(),
	}
}

// A refused endpoint (nothing listens on the port) fails in seconds, not
// after twelve patient attempts.
func TestRefusedEndpointFailsFast(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := endpointConfig(t, "http://"+addr, DefaultTimeouts())
	var notices []ErrorClass
	cfg.Retryer = RetryerWithNotice(func(_ int, class ErrorClass, _ error, _ time.Duration) { notices = append(notices, class) })
	start := time.Now()
	_, err = sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	took := time.Since(start)
	require.Error(t, err)
	assert.Less(t, took, 10*time.Second, "a refused endpoint must fail in under 10 s")
	assert.Equal(t, ClassNetwork, Classify(err), "class of %v", err)
	assert.Contains(t, err.Error(), fmt.Sprintf("gave up after %d attempts", TransportAttempts))
	assert.Contains(t, Explain(err).Error(), "could not reach AWS")
	assert.Equal(t, []ErrorClass{ClassNetwork, ClassNetwork}, notices, "each retry is told, with its class")
}

// An endpoint that accepts connections and never answers fails within the
// per-attempt timeout times the attempts.
func TestSilentEndpointTimesOut(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var accepted atomic.Int32
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			mu.Lock()
			conns = append(conns, c) // held open, never answered
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})

	timeouts := Timeouts{Connect: time.Second, TLSHandshake: time.Second, ResponseHeader: 300 * time.Millisecond}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	_, err = sts.NewFromConfig(endpointConfig(t, "http://"+l.Addr().String(), timeouts)).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	took := time.Since(start)
	require.Error(t, err)
	assert.NoError(t, ctx.Err(), "the call must fail by its own timeouts, not the test's deadline")
	// Three attempts of 300 ms, and under 400 + 800 ms of backoff between them.
	assert.Less(t, took, TransportAttempts*timeouts.ResponseHeader+1200*time.Millisecond+time.Second, "a silent endpoint must fail within attempts × timeout")
	assert.GreaterOrEqual(t, took, TransportAttempts*timeouts.ResponseHeader, "every attempt waited its timeout")
	assert.Equal(t, int32(TransportAttempts), accepted.Load(), "attempts made")
	assert.Equal(t, ClassNetwork, Classify(err), "class of %v", err)
}

// Throttling and server errors keep the patient policy: no attempt limit
// below MaxAttempts, whatever the attempt; transport errors stop early.
func TestBackoffByClass(t *testing.T) {
	b := byClass{patient: constantDelay(time.Second)}
	throttled := &smithy.OperationError{ServiceID: "IAM", OperationName: "ListUsers", Err: &smithy.GenericAPIError{Code: "Throttling"}}
	for attempt := 1; attempt < MaxAttempts; attempt++ {
		d, err := b.BackoffDelay(attempt, throttled)
		require.NoError(t, err, "throttled, attempt %d", attempt)
		assert.Equal(t, time.Second, d, "throttled, attempt %d: the patient delay", attempt)
	}
	refused := &smithyhttp.RequestSendError{Err: errors.New("dial tcp 127.0.0.1:9: connect: connection refused")}
	for attempt := 1; attempt < TransportAttempts; attempt++ {
		d, err := b.BackoffDelay(attempt, refused)
		require.NoError(t, err, "transport, attempt %d", attempt)
		assert.Less(t, d, transportBaseBackoff<<attempt, "transport, attempt %d: a quick delay", attempt)
	}
	_, err := b.BackoffDelay(TransportAttempts, refused)
	assert.ErrorIs(t, err, refused, "transport error stops after %d attempts", TransportAttempts)
}

type constantDelay time.Duration

func (c constantDelay) BackoffDelay(int, error) (time.Duration, error) { return time.Duration(c), nil }

func TestClassify(t *testing.T) {
	api := func(code string) error {
		return fmt.Errorf("list users: %w", &smithy.OperationError{ServiceID: "IAM", OperationName: "ListUsers", Err: &smithy.GenericAPIError{Code: code}})
	}
	tests := []struct {
		name string
		err  error
		want ErrorClass
	}{
		{"refused", &smithyhttp.RequestSendError{Err: errors.New("connection refused")}, ClassNetwork},
		{"expired token", api("ExpiredToken"), ClassCredentials},
		{"unknown key", api("InvalidClientTokenId"), ClassCredentials},
		{"denied", api("AccessDenied"), ClassPermission},
		{"denied, JSON service", api("AccessDeniedException"), ClassPermission},
		{"role not assumable", fmt.Errorf("cannot assume role: %w", ErrDenied), ClassPermission},
		{"throttled", api("Throttling"), ClassThrottled},
		{"throttled, JSON service", api("ThrottlingException"), ClassThrottled},
		{"other API error", api("NoSuchEntity"), ClassOther},
		{"not an AWS error", errors.New("disk full"), ClassOther},
		{"nil", nil, ClassOther},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, Classify(tt.err), "case %s", tt.name)
	}
}

// No credentials at all: the SDK says so in plain text; through
// WithCredentialErrors the class is what the hint needs.
func TestClassifyMissingCredentials(t *testing.T) {
	cfg := endpointConfig(t, "http://127.0.0.1:9", DefaultTimeouts())
	cfg.Credentials = WithCredentialErrors(aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{}, errors.New("no EC2 IMDS role found")
	}))
	_, err := sts.NewFromConfig(cfg).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	require.Error(t, err)
	assert.Equal(t, ClassCredentials, Classify(err), "class of %v", err)
}

// The patient policy outlasts a throttling storm of two minutes; the quick
// one gives up on a transport error within about a second of waiting.
func TestRetryBudgets(t *testing.T) {
	r := Retryer()
	throttled := &smithy.OperationError{ServiceID: "IAM", OperationName: "ListUsers", Err: &smithy.GenericAPIError{Code: "Throttling"}}
	require.True(t, r.IsErrorRetryable(throttled), "throttling is retried")
	var storm time.Duration
	for attempt := 1; attempt < r.MaxAttempts(); attempt++ {
		d, err := r.RetryDelay(attempt, throttled)
		require.NoError(t, err, "throttled, attempt %d", attempt)
		storm += d
	}
	assert.GreaterOrEqual(t, storm, 2*time.Minute, "waits between attempts under throttling")

	refused := &smithyhttp.RequestSendError{Err: errors.New("connection refused")}
	require.True(t, r.IsErrorRetryable(refused), "a transport error is retried")
	var quick time.Duration
	attempt := 1
	for ; ; attempt++ {
		d, err := r.RetryDelay(attempt, refused)
		if err != nil {
			break
		}
		quick += d
	}
	assert.Equal(t, TransportAttempts, attempt, "attempts for a transport error")
	assert.Less(t, quick, 1200*time.Millisecond, "waits between attempts for a transport error")
}

// Every account audited at once calls the same IAM endpoint: the pool
// keeps their connections for reuse rather than the SDK's 10.
func TestHTTPClientKeepsConnections(t *testing.T) {
	tr := HTTPClient().GetTransport()
	assert.Equal(t, 4*MaxConcurrency, tr.MaxIdleConnsPerHost, "idle connections kept per endpoint")
	assert.Equal(t, 4*MaxConcurrency, tr.MaxIdleConns, "idle connections kept in all")
	assert.Equal(t, DefaultTimeouts().ResponseHeader, tr.ResponseHeaderTimeout, "per-attempt timeout still set")
}
