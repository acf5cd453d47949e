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
			if err != nil {
				t.Fatal(err)
			}
			c := out.Credentials
			if got := aws.ToString(out.AssumedRoleUser.Arn); got != tt.wantARN {
				t.Errorf("Arn = %s, want %s", got, tt.wantARN)
			}
			if id := aws.ToString(c.AccessKeyId); !strings.HasPrefix(id, "ASIA") || len(id) != 20 {
				t.Errorf("AccessKeyId = %s, want a 20-character ASIA ID", id)
			}
			if aws.ToString(c.SessionToken) == "" || aws.ToTime(c.Expiration).Before(time.Now()) {
				t.Errorf("SessionToken %q, Expiration %s: want a token and a future expiry", aws.ToString(c.SessionToken), aws.ToTime(c.Expiration))
			}
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
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(id.Account); got != normalID {
		t.Errorf("Account = %s, want %s", got, normalID)
	}
	if got, want := aws.ToString(id.UserId), ":keyaudit"; !strings.HasPrefix(got, "AROA") || !strings.HasSuffix(got, want) {
		t.Errorf("UserId = %s, want AROA…%s", got, want)
	}
	users, err := iam.NewFromConfig(cfg).ListUsers(ctx, &iam.ListUsersInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(users.Users) != 4 || aws.ToString(users.Users[0].UserName) != "ci-deploy" {
		t.Errorf("ListUsers as the member: %d users, want normal's 4 starting with ci-deploy", len(users.Users))
	}
	calls := srv.Calls()
	if calls.ByAccount[mgmtID]["sts:AssumeRole"] != 1 || calls.ByAccount[normalID]["iam:ListUsers"] != 1 {
		t.Errorf("calls = %v, want AssumeRole by the management account and ListUsers by the member", calls.ByAccount)
	}
}

func TestGetAccessKeyInfo(t *testing.T) {
	srv, w := startSmall(t)
	ctx := context.Background()
	client := sts.NewFromConfig(sdkConfig(t, srv, mgmtID, "us-east-1"))
	tests := []struct {
		name     string
		keyID    string
		want     string
		wantCode string
	}{
		{"user key in another account", w.Account(normalID).Users[0].Keys[0].ID, normalID, ""},
		{"root key", w.Account(normalID).Root.Keys[0].ID, normalID, ""},
		{"caller session key", srv.Credentials(throttledID).AccessKeyID, throttledID, ""},
		{"key outside the world, decoded", "ASIAY34FZKBOKMUTVV7A", "609629065308", ""},
		{"malformed", "AKIA-not-a-key", "", "ValidationError"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := client.GetAccessKeyInfo(ctx, &sts.GetAccessKeyInfoInput{AccessKeyId: aws.String(tt.keyID)})
			if tt.wantCode != "" {
				wantAPIError(t, err, tt.wantCode, "not valid")
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := aws.ToString(out.Account); got != tt.want {
				t.Errorf("Account = %s, want %s", got, tt.want)
			}
		})
	}
}
