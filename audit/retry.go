package audit

import (
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
)

// Retryer is the retry policy for every AWS client of a run: standard mode
// with more attempts and capped backoff, and no client-side retry quota.
// Under concurrency the SDK's default token bucket fails calls locally with
// "retry quota exceeded" long before AWS stops answering; adaptive mode
// would throttle all accounts for one account's limits.
func Retryer() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = 12
		o.MaxBackoff = 20 * time.Second
		o.RateLimiter = ratelimit.None
	})
}
