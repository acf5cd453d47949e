package awssim

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The SDK retries throttling errors on its own: every second call of the
// throttled account fails, and every operation still succeeds.
func TestThrottlingIsRetried(t *testing.T) {
	srv, _ := startSmall(t)
	ctx := context.Background()
	cfg := sdkConfig(t, srv, throttledID, "us-east-1")
	client := iam.NewFromConfig(cfg)
	const ops = 5
	for i := range ops {
		_, err := client.ListUsers(ctx, &iam.ListUsersInput{})
		require.NoError(t, err, "ListUsers %d", i+1)
	}
	// Calls 2, 4, … are throttled: each operation after the first takes two calls.
	assert.Equal(t, 2*ops-1, srv.Calls().ByAccount[throttledID]["iam:ListUsers"], "ListUsers calls")

	cfg.RetryMaxAttempts = 1
	ct := cloudtrail.NewFromConfig(cfg)
	var codes []string
	for range 2 {
		if _, err := ct.LookupEvents(ctx, &cloudtrail.LookupEventsInput{}); err != nil {
			wantAPIError(t, err, "ThrottlingException", "Rate exceeded")
			codes = append(codes, "ThrottlingException")
		}
	}
	assert.Len(t, codes, 1, "without retries, LookupEvents calls throttled of 2")
	assert.Len(t, srv.CloudTrailRequests(throttledID, "us-east-1"), 2, "CloudTrail requests")
}

func TestIAMRateLimit(t *testing.T) {
	srv, _ := startChanged(t, func(w *World) {
		w.Account(normalID).Faults.IAMRate = 0.001 // no refill within the test
		w.Account(normalID).Faults.IAMBurst = 3
	})
	cfg := sdkConfig(t, srv, normalID, "us-east-1")
	cfg.RetryMaxAttempts = 1
	client := iam.NewFromConfig(cfg)
	ctx := context.Background()
	for i := range 3 {
		_, err := client.GetAccountSummary(ctx, &iam.GetAccountSummaryInput{})
		require.NoError(t, err, "call %d within the burst", i+1)
	}
	_, err := client.GetAccountSummary(ctx, &iam.GetAccountSummaryInput{})
	wantAPIError(t, err, "Throttling", "Rate exceeded")
	_, err = cloudtrail.NewFromConfig(cfg).LookupEvents(ctx, &cloudtrail.LookupEventsInput{})
	assert.NoError(t, err, "CloudTrail is not rate limited by the IAM limit")
}

func TestDeniedActions(t *testing.T) {
	srv, _ := startSmall(t)
	client := iam.NewFromConfig(sdkConfig(t, srv, deniedID, "us-east-1"))
	ctx := context.Background()
	tests := []struct {
		name    string
		call    func() error
		wantMsg string
	}{
		{"GenerateCredentialReport", func() error {
			_, err := client.GenerateCredentialReport(ctx, &iam.GenerateCredentialReportInput{})
			return err
		}, "User: arn:aws:sts::333333333333:assumed-role/Admin/awssim is not authorized to perform: iam:GenerateCredentialReport on resource: * because no identity-based policy allows the iam:GenerateCredentialReport action"},
		{"GetCredentialReport", func() error {
			_, err := client.GetCredentialReport(ctx, &iam.GetCredentialReportInput{})
			return err
		}, "is not authorized to perform: iam:GetCredentialReport on resource: *"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantAPIError(t, tt.call(), "AccessDenied", tt.wantMsg)
		})
	}
	t.Run("other actions allowed", func(t *testing.T) {
		_, err := client.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("carol")})
		require.NoError(t, err)
	})
}

func TestLatency(t *testing.T) {
	srv, _ := startChanged(t, func(w *World) { w.Account(normalID).Faults.LatencyMS = 50 })
	client := iam.NewFromConfig(sdkConfig(t, srv, normalID, "us-east-1"))
	start := time.Now()
	_, err := client.GetAccountSummary(context.Background(), &iam.GetAccountSummaryInput{})
	require.NoError(t, err)
	assert.GreaterOrEqual(t, time.Since(start), 50*time.Millisecond, "the call waited the latency")
}
