package awssim

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/iam"
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
		if _, err := client.ListUsers(ctx, &iam.ListUsersInput{}); err != nil {
			t.Fatalf("ListUsers %d: %v", i+1, err)
		}
	}
	// Calls 2, 4, … are throttled: each operation after the first takes two calls.
	if got, want := srv.Calls().ByAccount[throttledID]["iam:ListUsers"], 2*ops-1; got != want {
		t.Errorf("ListUsers calls = %d, want %d", got, want)
	}

	cfg.RetryMaxAttempts = 1
	ct := cloudtrail.NewFromConfig(cfg)
	var codes []string
	for range 2 {
		if _, err := ct.LookupEvents(ctx, &cloudtrail.LookupEventsInput{}); err != nil {
			wantAPIError(t, err, "ThrottlingException", "Rate exceeded")
			codes = append(codes, "ThrottlingException")
		}
	}
	if len(codes) != 1 {
		t.Errorf("without retries, %d of 2 LookupEvents calls were throttled, want 1", len(codes))
	}
	if got := len(srv.CloudTrailRequests(throttledID, "us-east-1")); got != 2 {
		t.Errorf("CloudTrailRequests = %d, want 2", got)
	}
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
		if _, err := client.GetAccountSummary(ctx, &iam.GetAccountSummaryInput{}); err != nil {
			t.Fatalf("call %d within the burst: %v", i+1, err)
		}
	}
	_, err := client.GetAccountSummary(ctx, &iam.GetAccountSummaryInput{})
	wantAPIError(t, err, "Throttling", "Rate exceeded")
	if _, err := cloudtrail.NewFromConfig(cfg).LookupEvents(ctx, &cloudtrail.LookupEventsInput{}); err != nil {
		t.Errorf("CloudTrail is not rate limited by the IAM limit: %v", err)
	}
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
		if _, err := client.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("carol")}); err != nil {
			t.Fatal(err)
		}
	})
}

func TestLatency(t *testing.T) {
	srv, _ := startChanged(t, func(w *World) { w.Account(normalID).Faults.LatencyMS = 50 })
	client := iam.NewFromConfig(sdkConfig(t, srv, normalID, "us-east-1"))
	start := time.Now()
	if _, err := client.GetAccountSummary(context.Background(), &iam.GetAccountSummaryInput{}); err != nil {
		t.Fatal(err)
	}
	if got := time.Since(start); got < 50*time.Millisecond {
		t.Errorf("call took %s, want at least 50ms", got)
	}
}
