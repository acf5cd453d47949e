package awssim

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAssumeRole(t *testing.T) {
	srv, _ := startSmall(t)
	tests := []struct {
		name       string
		caller     string
		roleARN    string
		externalID string
		duration   int32
		wantARN    string
		wantMsg    string // AccessDenied message
		wantCode   string
	}{
		{name: "member role", caller: mgmtID, roleARN: "arn:aws:iam::222222222222:role/KeyAuditRole",
			wantARN: "arn:aws:sts::222222222222:assumed-role/KeyAuditRole/keyaudit"},
		{name: "role with path and external ID", caller: mgmtID, roleARN: "arn:aws:iam::222222222222:role/partners/PartnerAudit", externalID: "partner-42",
			wantARN: "arn:aws:sts::222222222222:assumed-role/PartnerAudit/keyaudit"},
		{name: "external ID missing", caller: mgmtID, roleARN: "arn:aws:iam::222222222222:role/partners/PartnerAudit", wantCode: "AccessDenied",
			wantMsg: "User: arn:aws:sts::111111111111:assumed-role/Admin/awssim is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::222222222222:role/partners/PartnerAudit"},
		{name: "external ID wrong", caller: mgmtID, roleARN: "arn:aws:iam::222222222222:role/partners/PartnerAudit", externalID: "guess", wantCode: "AccessDenied",
			wantMsg: "sts:AssumeRole on resource: arn:aws:iam::222222222222:role/partners/PartnerAudit"},
		{name: "missing role", caller: mgmtID, roleARN: "arn:aws:iam::444444444444:role/KeyAuditRole", wantCode: "AccessDenied",
			wantMsg: "User: arn:aws:sts::111111111111:assumed-role/Admin/awssim is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::444444444444:role/KeyAuditRole"},
		{name: "untrusted caller", caller: normalID, roleARN: "arn:aws:iam::333333333333:role/KeyAuditRole", wantCode: "AccessDenied",
			wantMsg: "User: arn:aws:sts::222222222222:assumed-role/Admin/awssim is not authorized"},
		{name: "suspended account", caller: mgmtID, roleARN: "arn:aws:iam::666666666666:role/KeyAuditRole", wantCode: "AccessDenied", wantMsg: "sts:AssumeRole"},
		{name: "account outside the world", caller: mgmtID, roleARN: "arn:aws:iam::999999999999:role/KeyAuditRole", wantCode: "AccessDenied", wantMsg: "sts:AssumeRole"},
		{name: "role chaining over an hour", caller: mgmtID, roleARN: "arn:aws:iam::222222222222:role/KeyAuditRole", duration: 7200,
			wantCode: "ValidationError", wantMsg: "1 hour session limit for roles assumed by role chaining"},
		{name: "malformed ARN", caller: mgmtID, roleARN: "arn:aws:iam::2222:role/KeyAuditRole", wantCode: "ValidationError", wantMsg: "is invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := &sts.AssumeRoleInput{RoleArn: aws.String(tt.roleARN), RoleSessionName: aws.String("keyaudit")}
			if tt.externalID != "" {
				in.ExternalId = aws.String(tt.externalID)
			}
			if tt.duration != 0 {
				in.DurationSeconds = aws.Int32(tt.duration)
			}
			out, err := sts.NewFromConfig(sdkConfig(t, srv, tt.caller, "us-east-1")).AssumeRole(context.Background(), in)
			if tt.wantCode != "" {
				wantAPIError(t, err, tt.wantCode, tt.wantMsg)
				return
			}
			require.NoError(t, err)
			c := out.Credentials
			assert.Equal(t, tt.wantARN, aws.ToString(out.AssumedRoleUser.Arn))
			id := aws.ToString(c.AccessKeyId)
			assert.True(t, strings.HasPrefix(id, "ASIA") && len(id) == 20, "AccessKeyId = %s, want a 20-character ASIA ID", id)
			assert.NotEmpty(t, aws.ToString(c.SessionToken), "session token")
			assert.True(t, aws.ToTime(c.Expiration).After(time.Now()), "expiry %s in the future", aws.ToTime(c.Expiration))
		})
	}
}

// Calls made with an assumed role's credentials act in the role's account.
func TestAssumedRoleSeesMemberAccount(t *testing.T) {
	srv, _ := startSmall(t)
	ctx := context.Background()
	cfg := sdkConfig(t, srv, mgmtID, "us-east-1")
	cfg.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg), "arn:aws:iam::222222222222:role/KeyAuditRole",
		func(o *stscreds.AssumeRoleOptions) { o.RoleSessionName = "keyaudit"; o.Duration = time.Hour }))

	id, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	require.NoError(t, err)
	assert.Equal(t, normalID, aws.ToString(id.Account))
	userID := aws.ToString(id.UserId)
	assert.True(t, strings.HasPrefix(userID, "AROA") && strings.HasSuffix(userID, ":keyaudit"), "UserId = %s, want AROA…:keyaudit", userID)
	users, err := iam.NewFromConfig(cfg).ListUsers(ctx, &iam.ListUsersInput{})
	require.NoError(t, err)
	require.Len(t, users.Users, 4, "ListUsers as the member: normal's users")
	assert.Equal(t, "ci-deploy", aws.ToString(users.Users[0].UserName))
	calls := srv.Calls()
	assert.Equal(t, 1, calls.ByAccount[mgmtID]["sts:AssumeRole"], "AssumeRole by the management account")
	assert.Equal(t, 1, calls.ByAccount[normalID]["iam:ListUsers"], "ListUsers by the member")
}

func TestGetAccessKeyInfo(t *testing.T) {
	const oldFormat = "AKIAIOSFODNN7EXAMPLE" // encodes no account: only STS's records know it
	srv, w := startChanged(t, func(w *World) {
		w.Account(normalID).Users[1].Keys = append(w.Account(normalID).Users[1].Keys, Key{ID: oldFormat, Status: "Active", CreatedDaysAgo: 2000})
	})
	ctx := context.Background()
	client := sts.NewFromConfig(sdkConfig(t, srv, mgmtID, "us-east-1"))
	tests := []struct {
		name     string
		keyID    string
		want     string
		wantCode string
	}{
		{"user key in another account", w.Account(normalID).Users[0].Keys[0].ID, normalID, ""},
		{"old-format key, known", oldFormat, normalID, ""},
		{"root key", w.Account(normalID).Root.Keys[0].ID, normalID, ""},
		{"caller session key", srv.Credentials(throttledID).AccessKeyID, throttledID, ""},
		{"key outside the world, decoded", "ASIAY34FZKBOKMUTVV7A", "609629065308", ""},
		{"old-format key outside the world", "AKIAJQABLZS4A3QDU576", "", "ValidationError"},
		{"malformed", "AKIA-not-a-key", "", "ValidationError"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := client.GetAccessKeyInfo(ctx, &sts.GetAccessKeyInfoInput{AccessKeyId: aws.String(tt.keyID)})
			if tt.wantCode != "" {
				wantAPIError(t, err, tt.wantCode, "not valid")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, aws.ToString(out.Account))
		})
	}
}
