package pipeline

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/smithy-go/logging"
	"github.com/keyaudit/keyaudit/audit"
)

// AWSOptions are the configuration every AWS client of a run shares: the
// retry policy, and the SDK's own log lines sent through the run's logger.
func AWSOptions(log *slog.Logger) []func(*config.LoadOptions) error {
	return []func(*config.LoadOptions) error{
		config.WithRetryer(audit.Retryer),
		config.WithLogger(SDKLogger(log)),
	}
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

// SDKLogger is the SDK logger of AWSOptions, for a config built by hand.
func SDKLogger(log *slog.Logger) logging.Logger {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return sdkLogger{log}
}
