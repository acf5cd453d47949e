package awssim

import (
	"bytes"
	"context"
	"encoding/csv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCredentialReportLifecycle(t *testing.T) {
	tests := []struct {
		name        string
		reportCalls int
		wantStates  []types.ReportStateType
	}{
		{"default", 1, []types.ReportStateType{"STARTED", "COMPLETE", "COMPLETE"}},
		{"slow", 3, []types.ReportStateType{"STARTED", "INPROGRESS", "INPROGRESS", "COMPLETE"}},
		{"immediate", 0, []types.ReportStateType{"COMPLETE"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := startSmall(t, WithReportCalls(tt.reportCalls))
			ctx := context.Background()
			client := iam.NewFromConfig(sdkConfig(t, srv, normalID, "us-east-1"))

			_, err := client.GetCredentialReport(ctx, &iam.GetCredentialReportInput{})
			var notPresent *types.CredentialReportNotPresentException
			require.ErrorAs(t, err, &notPresent, "GetCredentialReport before generating")
			for i, want := range tt.wantStates {
				out, err := client.GenerateCredentialReport(ctx, &iam.GenerateCredentialReportInput{})
				require.NoError(t, err)
				require.Equal(t, want, out.State, "call %d", i+1)
			}
			out, err := client.GetCredentialReport(ctx, &iam.GetCredentialReportInput{})
			require.NoError(t, err)
			assert.Equal(t, types.ReportFormatTypeTextCsv, out.ReportFormat)
			assert.Equal(t, fixedNow(), aws.ToTime(out.GeneratedTime))
			header, _, _ := bytes.Cut(out.Content, []byte("\n"))
			assert.Equal(t, ReportHeader, string(header))
		})
	}
}

// A caller may poll with GetCredentialReport instead: each poll counts.
func TestCredentialReportPolledWithGet(t *testing.T) {
	srv, _ := startSmall(t, WithReportCalls(3))
	ctx := context.Background()
	client := iam.NewFromConfig(sdkConfig(t, srv, normalID, "us-east-1"))
	out, err := client.GenerateCredentialReport(ctx, &iam.GenerateCredentialReportInput{})
	require.NoError(t, err, "generate")
	require.Equal(t, types.ReportStateType("STARTED"), out.State, "generate")
	for i := range 2 {
		_, err = client.GetCredentialReport(ctx, &iam.GetCredentialReportInput{})
		var notReady *types.CredentialReportNotReadyException
		require.ErrorAs(t, err, &notReady, "GetCredentialReport poll %d, in progress", i+1)
	}
	got, err := client.GetCredentialReport(ctx, &iam.GetCredentialReportInput{})
	require.NoError(t, err, "GetCredentialReport poll 3: complete")
	assert.NotEmpty(t, got.Content, "the report")
}

func TestCredentialReportNeverCompletes(t *testing.T) {
	srv, _ := startChanged(t, func(w *World) { w.Account(normalID).Faults.ReportNeverCompletes = true })
	client := iam.NewFromConfig(sdkConfig(t, srv, normalID, "us-east-1"))
	for i := range 5 {
		out, err := client.GenerateCredentialReport(context.Background(), &iam.GenerateCredentialReportInput{})
		require.NoError(t, err)
		require.NotEqual(t, types.ReportStateTypeComplete, out.State, "call %d: report completed", i+1)
	}
}

// reportRows generates and reads the account's credential report, keyed by user.
func reportRows(t *testing.T, client *iam.Client) map[string][]string {
	t.Helper()
	ctx := context.Background()
	for range 2 {
		_, err := client.GenerateCredentialReport(ctx, &iam.GenerateCredentialReportInput{})
		require.NoError(t, err)
	}
	out, err := client.GetCredentialReport(ctx, &iam.GetCredentialReportInput{})
	require.NoError(t, err)
	records, err := csv.NewReader(bytes.NewReader(out.Content)).ReadAll()
	require.NoError(t, err)
	require.Len(t, records[0], 22, "columns")
	rows := map[string][]string{}
	for _, r := range records[1:] {
		rows[r[0]] = r
	}
	return rows
}

func TestCredentialReportRows(t *testing.T) {
	srv, _ := startSmall(t)
	rows := reportRows(t, iam.NewFromConfig(sdkConfig(t, srv, normalID, "us-east-1")))
	tests := []struct {
		user string
		want string
	}{
		{RootName, "<root_account>,arn:aws:iam::222222222222:root,2020-04-23T12:00:00+00:00,not_supported,no_information,not_supported,not_supported,false," +
			"true,2023-04-28T12:00:00+00:00,2023-11-14T12:00:00+00:00,us-east-1,s3,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A"},
		{"ci-deploy", "ci-deploy,arn:aws:iam::222222222222:user/automation/ci-deploy,2022-07-02T12:00:00+00:00,false,N/A,N/A,N/A,false," +
			"true,2023-11-14T12:00:00+00:00,2024-06-01T00:00:00+00:00,us-east-1,s3,true,2024-05-22T12:00:00+00:00,2024-06-01T06:00:00+00:00,eu-west-1,ec2,false,N/A,false,N/A"},
		{"alice", "alice,arn:aws:iam::222222222222:user/alice,2024-04-02T12:00:00+00:00,true,2024-05-30T09:36:00+00:00,2024-04-02T12:00:00+00:00,N/A,false," +
			"true,2024-05-02T12:00:00+00:00,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A"},
		{"bob", "bob,arn:aws:iam::222222222222:user/bob,2024-04-12T12:00:00+00:00,true,no_information,2024-04-12T12:00:00+00:00,N/A,true," +
			"false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A"},
		{"legacy-backup", "legacy-backup,arn:aws:iam::222222222222:user/legacy-backup,2021-02-17T12:00:00+00:00,false,N/A,N/A,N/A,false," +
			"false,2021-05-28T12:00:00+00:00,2023-08-06T12:00:00+00:00,us-west-2,s3,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A"},
	}
	assert.Len(t, rows, len(tests))
	for _, tt := range tests {
		assert.Equal(t, tt.want, strings.Join(rows[tt.user], ","), "case %s", tt.user)
	}
}

func TestListAccessKeysPaginates(t *testing.T) {
	srv, w := startSmall(t)
	client := iam.NewFromConfig(sdkConfig(t, srv, normalID, "us-east-1"))
	want := w.Account(normalID).Users[0].Keys
	p := iam.NewListAccessKeysPaginator(client, &iam.ListAccessKeysInput{UserName: aws.String("ci-deploy"), MaxItems: aws.Int32(1)})
	var got []types.AccessKeyMetadata
	pages := 0
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		require.NoError(t, err)
		pages++
		got = append(got, page.AccessKeyMetadata...)
	}
	assert.Equal(t, 2, pages, "pages")
	require.Len(t, got, 2, "keys")
	for i, k := range got {
		assert.Equal(t, want[i].ID, aws.ToString(k.AccessKeyId), "key %d", i)
		assert.Equal(t, "ci-deploy", aws.ToString(k.UserName), "key %d", i)
		assert.Equal(t, types.StatusTypeActive, k.Status, "key %d", i)
	}
	assert.Equal(t, fixedNow().AddDate(0, 0, -10), aws.ToTime(got[1].CreateDate), "10 days before the clock")
}

func TestListAccessKeysErrors(t *testing.T) {
	srv, _ := startSmall(t)
	client := iam.NewFromConfig(sdkConfig(t, srv, normalID, "us-east-1"))
	tests := []struct {
		name     string
		in       *iam.ListAccessKeysInput
		wantCode string
		wantMsg  string
	}{
		{"no such user", &iam.ListAccessKeysInput{UserName: aws.String("mallory")}, "NoSuchEntity", "mallory cannot be found"},
		{"no user name as a role", &iam.ListAccessKeysInput{}, "ValidationError", "Must specify userName"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := client.ListAccessKeys(context.Background(), tt.in)
			wantAPIError(t, err, tt.wantCode, tt.wantMsg)
		})
	}
}

func TestListUsersPaginates(t *testing.T) {
	srv, _ := startSmall(t)
	client := iam.NewFromConfig(sdkConfig(t, srv, normalID, "us-east-1"))
	p := iam.NewListUsersPaginator(client, &iam.ListUsersInput{MaxItems: aws.Int32(3)})
	var names []string
	pages := 0
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		require.NoError(t, err)
		pages++
		for _, u := range page.Users {
			names = append(names, aws.ToString(u.UserName))
		}
	}
	assert.Equal(t, 2, pages, "pages")
	assert.Equal(t, "ci-deploy,alice,bob,legacy-backup", strings.Join(names, ","))
}

func TestGetAccessKeyLastUsed(t *testing.T) {
	srv, w := startSmall(t)
	client := iam.NewFromConfig(sdkConfig(t, srv, normalID, "us-east-1"))
	normal := w.Account(normalID)
	tests := []struct {
		name        string
		keyID       string
		wantUser    string
		wantDate    time.Time
		wantService string
		wantRegion  string
		wantCode    string
	}{
		{"used", normal.Users[0].Keys[1].ID, "ci-deploy", fixedNow().Add(-6 * time.Hour), "ec2", "eu-west-1", ""},
		{"never used", normal.Users[1].Keys[0].ID, "alice", time.Time{}, "N/A", "N/A", ""},
		{"root key", normal.Root.Keys[0].ID, "root", fixedNow().AddDate(0, 0, -200), "s3", "us-east-1", ""},
		{"another account's key", w.Account(mgmtID).Users[0].Keys[0].ID, "", time.Time{}, "", "", "AccessDenied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := client.GetAccessKeyLastUsed(context.Background(), &iam.GetAccessKeyLastUsedInput{AccessKeyId: aws.String(tt.keyID)})
			if tt.wantCode != "" {
				wantAPIError(t, err, tt.wantCode, "is not authorized to perform: iam:GetAccessKeyLastUsed")
				return
			}
			require.NoError(t, err)
			u := out.AccessKeyLastUsed
			assert.Equal(t, tt.wantUser, aws.ToString(out.UserName))
			assert.Equal(t, tt.wantDate, aws.ToTime(u.LastUsedDate))
			assert.Equal(t, tt.wantService, aws.ToString(u.ServiceName))
			assert.Equal(t, tt.wantRegion, aws.ToString(u.Region))
		})
	}
}

func TestGetAccountSummary(t *testing.T) {
	srv, _ := startSmall(t)
	tests := []struct {
		account string
		want    map[types.SummaryKeyType]int32
	}{
		{normalID, map[types.SummaryKeyType]int32{"Users": 4, "AccountAccessKeysPresent": 1, "AccountMFAEnabled": 0}},
		{mgmtID, map[types.SummaryKeyType]int32{"Users": 1, "AccountAccessKeysPresent": 0, "AccountMFAEnabled": 1}},
	}
	for _, tt := range tests {
		t.Run(tt.account, func(t *testing.T) {
			out, err := iam.NewFromConfig(sdkConfig(t, srv, tt.account, "us-east-1")).GetAccountSummary(context.Background(), &iam.GetAccountSummaryInput{})
			require.NoError(t, err)
			for k, want := range tt.want {
				got, ok := out.SummaryMap[string(k)]
				assert.True(t, ok, "%s present", k)
				assert.Equal(t, want, got, "%s", k)
			}
		})
	}
}

// As in IAM: a UserName always names an IAM user, so "root" is NoSuchEntity
// where no IAM user has that name; the root user lists its own keys by
// calling without one.
func TestListAccessKeysOfRoot(t *testing.T) {
	srv, w := startSmall(t)
	ctx := context.Background()
	normal := w.Account(normalID)
	_, err := iam.NewFromConfig(sdkConfig(t, srv, normalID, "us-east-1")).ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("root")})
	wantAPIError(t, err, "NoSuchEntity", "The user with name root cannot be found.")

	cfg := sdkConfig(t, srv, normalID, "us-east-1")
	cfg.Credentials = credentials.NewStaticCredentialsProvider(normal.Root.Keys[0].ID, "secret", "")
	out, err := iam.NewFromConfig(cfg).ListAccessKeys(ctx, &iam.ListAccessKeysInput{})
	require.NoError(t, err, "root lists its own keys")
	require.Len(t, out.AccessKeyMetadata, len(normal.Root.Keys))
	assert.Equal(t, normal.Root.Keys[0].ID, aws.ToString(out.AccessKeyMetadata[0].AccessKeyId))
}

// The report's last_rotated is the key's creation or its latest
// reactivation, whichever came last; ListAccessKeys keeps the creation date.
func TestCredentialReportReactivatedKey(t *testing.T) {
	srv, w := startChanged(t, func(w *World) {
		r := 3.0
		w.Account(normalID).Users[1].Keys[0].ReactivatedDaysAgo = &r // alice's key, created 30 days ago
	})
	client := iam.NewFromConfig(sdkConfig(t, srv, normalID, "us-east-1"))
	rows := reportRows(t, client)
	assert.Equal(t, "2024-05-29T12:00:00+00:00", rows["alice"][9], "access_key_1_last_rotated: the reactivation")
	out, err := client.ListAccessKeys(context.Background(), &iam.ListAccessKeysInput{UserName: aws.String("alice")})
	require.NoError(t, err)
	require.Len(t, out.AccessKeyMetadata, 1)
	created := fixedNow().Add(-time.Duration(w.Account(normalID).Users[1].Keys[0].CreatedDaysAgo * float64(24*time.Hour)))
	assert.Equal(t, created, aws.ToTime(out.AccessKeyMetadata[0].CreateDate), "CreateDate: the creation")
}

// IAM answers LimitExceeded while it generates a report another caller
// asked for; the fault answers the first n calls so.
func TestCredentialReportLimitExceeded(t *testing.T) {
	srv, _ := startChanged(t, func(w *World) { w.Account(normalID).Faults.ReportLimitExceeded = 2 })
	client := iam.NewFromConfig(sdkConfig(t, srv, normalID, "us-east-1"))
	for i := range 2 {
		_, err := client.GenerateCredentialReport(context.Background(), &iam.GenerateCredentialReportInput{})
		var busy *types.LimitExceededException
		require.ErrorAs(t, err, &busy, "call %d", i+1)
	}
	out, err := client.GenerateCredentialReport(context.Background(), &iam.GenerateCredentialReportInput{})
	require.NoError(t, err, "call 3")
	assert.Equal(t, types.ReportStateTypeStarted, out.State, "call 3")
}
