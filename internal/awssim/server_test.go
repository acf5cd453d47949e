package awssim

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Accounts of testdata/aws/org-small.json.
const (
	mgmtID      = "111111111111"
	normalID    = "222222222222"
	deniedID    = "333333333333"
	noRoleID    = "444444444444"
	throttledID = "555555555555"
	suspendedID = "666666666666"
)

func fixedNow() time.Time { return time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC) }

// startSmall serves org-small.json on the fixed clock.
func startSmall(t *testing.T, opts ...Option) (*Server, *World) {
	t.Helper()
	return startChanged(t, func(*World) {}, opts...)
}

// startChanged serves org-small.json as change leaves it.
func startChanged(t *testing.T, change func(w *World), opts ...Option) (*Server, *World) {
	t.Helper()
	w, err := LoadWorld("../../testdata/aws/org-small.json")
	require.NoError(t, err)
	change(w)
	srv := NewServer(w, append([]Option{WithClock(fixedNow)}, opts...)...)
	t.Cleanup(srv.Close)
	return srv, w
}

// sdkConfig is the server's config for account, with the SDK's standard
// retryer made fast: tests check that retries happen, not how long they wait.
func sdkConfig(t *testing.T, srv *Server, account, region string) aws.Config {
	t.Helper()
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	cfg, err := srv.AWSConfig(context.Background(), account, region)
	require.NoError(t, err)
	cfg.Retryer = func() aws.Retryer {
		return retry.NewStandard(func(o *retry.StandardOptions) { o.MaxBackoff = time.Millisecond })
	}
	return cfg
}

// wantAPIError checks that err is a smithy API error with code, and that its
// message contains msg.
func wantAPIError(t *testing.T, err error, code, msg string) {
	t.Helper()
	var ae smithy.APIError
	require.ErrorAs(t, err, &ae, "want API error %s", code)
	require.Equal(t, code, ae.ErrorCode(), "error code of %v", err)
	require.Contains(t, ae.ErrorMessage(), msg, "error message")
}

func TestAuthentication(t *testing.T) {
	srv, w := startSmall(t)
	ctx := context.Background()
	user := w.Account(normalID).Users[0] // ci-deploy
	inactive := w.Account(normalID).Users[3].Keys[0]
	static := func(c aws.Credentials) aws.CredentialsProvider {
		return credentials.StaticCredentialsProvider{Value: c}
	}
	forged := srv.Credentials(normalID)
	forged.SessionToken = "forged"
	const invalid = "The security token included in the request is invalid."
	tests := []struct {
		name     string
		creds    aws.CredentialsProvider
		wantARN  string
		wantCode string
		wantMsg  string
	}{
		{"caller session", static(srv.Credentials(normalID)), "arn:aws:sts::222222222222:assumed-role/Admin/awssim", "", ""},
		{"IAM user key", static(aws.Credentials{AccessKeyID: user.Keys[0].ID, SecretAccessKey: "x"}), "arn:aws:iam::222222222222:user/automation/ci-deploy", "", ""},
		{"account outside the world", static(srv.Credentials("999999999999")), "", "InvalidClientTokenId", invalid},
		{"inactive key", static(aws.Credentials{AccessKeyID: inactive.ID, SecretAccessKey: "x"}), "", "InvalidClientTokenId", invalid},
		{"wrong session token", static(forged), "", "InvalidClientTokenId", invalid},
		{"unsigned", aws.AnonymousCredentials{}, "", "MissingAuthenticationToken", "Request is missing Authentication Token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := sdkConfig(t, srv, mgmtID, "us-east-1")
			cfg.Credentials = tt.creds
			out, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
			if tt.wantCode != "" {
				wantAPIError(t, err, tt.wantCode, tt.wantMsg)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantARN, aws.ToString(out.Arn))
		})
	}
}

func TestAWSConfigUnknownAccount(t *testing.T) {
	srv, _ := startSmall(t)
	_, err := srv.AWSConfig(context.Background(), "999999999999", "us-east-1")
	assert.Error(t, err, "AWSConfig for an account outside the world")
}

func TestCallsCountsConcurrentCalls(t *testing.T) {
	srv, _ := startSmall(t)
	ctx := context.Background()
	client := iam.NewFromConfig(sdkConfig(t, srv, normalID, "us-east-1"))
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := client.GetAccountSummary(ctx, &iam.GetAccountSummaryInput{})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	calls := srv.Calls()
	assert.Equal(t, n, calls.ByAccount[normalID]["iam:GetAccountSummary"], "GetAccountSummary calls")
	assert.Equal(t, n, calls.Account(normalID), "calls of the account")
	assert.Equal(t, n, calls.Total, "total")
}
