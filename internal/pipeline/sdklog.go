package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddle "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/logging"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/keyaudit/keyaudit/audit"
	"github.com/keyaudit/keyaudit/internal/transport"
)

// LoadAWS loads the AWS configuration every client of a run shares: the
// standard credential chain plus more, per-attempt timeouts, the retry
// policy by error class, the SDK's own log lines sent through log, and
// credential failures typed so that audit.Classify tells them apart. say,
// when not nil, hears one line whenever a call's retries have taken more
// than a few seconds; nil logs that line as a warning.
func LoadAWS(ctx context.Context, log *slog.Logger, say func(string), more ...func(*config.LoadOptions) error) (aws.Config, error) {
	if say == nil {
		l := log
		if l == nil {
			l = slog.New(slog.DiscardHandler)
		}
		say = func(line string) { l.Warn(line) }
	}
	opts := append([]func(*config.LoadOptions) error{
		config.WithHTTPClient(audit.HTTPClient()),
		config.WithRetryer(audit.RetryerWithNotice(slowRetries(say, time.Now))),
		config.WithLogger(SDKLogger(log)),
		config.WithAPIOptions([]func(*middleware.Stack) error{nameAttempts, transport.HideWriteTo}),
	}, more...)
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return cfg, err
	}
	cfg.Credentials = audit.WithCredentialErrors(cfg.Credentials)
	return cfg, nil
}

// slowRetry is how long a call may retry before a line says so.
const slowRetry = 3 * time.Second

// attemptError is an attempt's error with the operation it belongs to, for
// the retry notice; its text and what it unwraps to are the error's own.
type attemptError struct {
	op      string // e.g. sts:GetCallerIdentity
	started time.Time
	err     error
}

func (e *attemptError) Error() string { return e.err.Error() }
func (e *attemptError) Unwrap() error { return e.err }

// nameAttempts names the operation on each failed attempt: the retryer
// sees the error alone, not the call it came from.
func nameAttempts(st *middleware.Stack) error {
	return st.Finalize.Insert(middleware.FinalizeMiddlewareFunc("keyauditNameAttempts",
		func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
			started := time.Now()
			out, md, err := next.HandleFinalize(ctx, in)
			if err != nil {
				op := strings.ToLower(strings.ReplaceAll(awsmiddle.GetServiceID(ctx), " ", "")) + ":" + awsmiddle.GetOperationName(ctx)
				err = &attemptError{op: op, started: started, err: err}
			}
			return out, md, err
		}), "Retry", middleware.After)
}

// slowRetries returns the retry notice that says, through say, what is
// being retried and why once a call has been retrying for slowRetry. The
// quick retries of a refused connection stay silent.
func slowRetries(say func(string), now func() time.Time) audit.RetryNotice {
	var mu sync.Mutex
	first := map[string]time.Time{} // operation → start of its first failed attempt
	return func(attempt int, class audit.ErrorClass, err error, wait time.Duration) {
		op, started := "an AWS call", now()
		var ae *attemptError
		if errors.As(err, &ae) {
			op, started = ae.op, ae.started
		}
		mu.Lock()
		if attempt <= 1 || first[op].IsZero() {
			first[op] = started
		}
		slow := now().Add(wait).Sub(first[op]) >= slowRetry
		mu.Unlock()
		if slow {
			say(fmt.Sprintf("retrying %s: %s (attempt %d)", op, retryReason(class, err), attempt+1))
		}
	}
}

// retryReason is the short cause of a failed attempt.
func retryReason(class audit.ErrorClass, err error) string {
	var send *smithyhttp.RequestSendError
	var api smithy.APIError
	switch {
	case errors.As(err, &send):
		return fmt.Sprintf("%s error: %v", class, send.Err)
	case errors.As(err, &api):
		return fmt.Sprintf("%s: %s", class, api.ErrorCode())
	}
	return err.Error()
}

// sdkLogger sends the SDK's log lines to slog. The SDK warns about its own
// internals (a response checksum it could not check, a deprecated setting)
// that nobody running keyaudit can act on, so its warnings are logged at
// info level: shown with --verbose, and never as a stray line before an error.
type sdkLogger struct{ log *slog.Logger }

func (l sdkLogger) Logf(c logging.Classification, format string, v ...any) {
	level := slog.LevelInfo
	if c == logging.Debug {
		level = slog.LevelDebug
	}
	l.log.Log(context.Background(), level, fmt.Sprintf(format, v...), "source", "aws-sdk")
}

// Configure gives a config built by hand (the demo's) what LoadAWS gives
// the standard chain's: the retry policy by error class, and the SDK's own
// log lines sent through log.
func Configure(cfg aws.Config, log *slog.Logger) aws.Config {
	cfg.Retryer = audit.Retryer
	cfg.Logger = SDKLogger(log)
	return cfg
}

// SDKLogger is the SDK logger of LoadAWS, for a config built by hand.
func SDKLogger(log *slog.Logger) logging.Logger {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return sdkLogger{log}
}
