package awssim

import (
	"context"
	"net/url"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const readDoc = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:Get*","Resource":"*"}]}`

func policyChange(w *World) {
	a := w.Account(normalID)
	a.Groups = []Group{{Name: "readers", Grants: Grants{Inline: map[string]string{"read": readDoc}}}}
	a.Policies = []Policy{{Name: "read", Document: readDoc}}
	a.Users[0].Groups = []string{"readers"}
	a.Users[0].Attached = []string{"arn:aws:iam::" + normalID + ":policy/read", "arn:aws:iam::aws:policy/ReadOnlyAccess"}
	a.Users[0].Boundary = "arn:aws:iam::" + normalID + ":policy/read"
	w.AWSPolicies = map[string]string{"arn:aws:iam::aws:policy/ReadOnlyAccess": readDoc}
}

func TestAccountAuthorizationDetailsFilter(t *testing.T) {
	srv, w := startChanged(t, policyChange)
	client := iam.NewFromConfig(sdkConfig(t, srv, normalID, "us-east-1"))
	ctx := context.Background()
	tests := []struct {
		name                    string
		filter                  []types.EntityType
		users, groups, policies int
	}{
		{"users", []types.EntityType{types.EntityTypeUser}, len(w.Account(normalID).Users), 0, 0},
		{"groups and local policies", []types.EntityType{types.EntityTypeGroup, types.EntityTypeLocalManagedPolicy}, 0, 1, 1},
		{"no filter", nil, len(w.Account(normalID).Users), 1, 1},
	}
	for _, tt := range tests {
		out, err := client.GetAccountAuthorizationDetails(ctx, &iam.GetAccountAuthorizationDetailsInput{Filter: tt.filter})
		require.NoError(t, err, "case %s", tt.name)
		assert.Len(t, out.UserDetailList, tt.users, "case %s: users", tt.name)
		assert.Len(t, out.GroupDetailList, tt.groups, "case %s: groups", tt.name)
		assert.Len(t, out.Policies, tt.policies, "case %s: policies", tt.name)
	}
	out, err := client.GetAccountAuthorizationDetails(ctx, &iam.GetAccountAuthorizationDetailsInput{Filter: []types.EntityType{types.EntityTypeUser, types.EntityTypeLocalManagedPolicy}})
	require.NoError(t, err)
	u := out.UserDetailList[0]
	assert.Equal(t, []string{"readers"}, u.GroupList, "group membership")
	assert.Len(t, u.AttachedManagedPolicies, 2, "attached policies")
	assert.Equal(t, "arn:aws:iam::"+normalID+":policy/read", aws.ToString(u.PermissionsBoundary.PermissionsBoundaryArn), "boundary")
	// IAM URL-encodes documents; the SDK does not decode them.
	doc, err := url.QueryUnescape(aws.ToString(out.Policies[0].PolicyVersionList[0].Document))
	require.NoError(t, err)
	assert.Equal(t, readDoc, doc, "local policy document")
	assert.NotContains(t, aws.ToString(out.Policies[0].PolicyVersionList[0].Document), "{", "document is encoded")
}

func TestGetAWSManagedPolicy(t *testing.T) {
	srv, _ := startChanged(t, policyChange)
	client := iam.NewFromConfig(sdkConfig(t, srv, normalID, "us-east-1"))
	ctx := context.Background()
	arn := aws.String("arn:aws:iam::aws:policy/ReadOnlyAccess")
	pol, err := client.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: arn})
	require.NoError(t, err)
	ver, err := client.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: arn, VersionId: pol.Policy.DefaultVersionId})
	require.NoError(t, err)
	doc, err := url.QueryUnescape(aws.ToString(ver.PolicyVersion.Document))
	require.NoError(t, err)
	assert.Equal(t, readDoc, doc, "default version")
	_, err = client.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String("arn:aws:iam::aws:policy/Nope")})
	wantAPIError(t, err, "NoSuchEntity", "does not exist")
}

func TestWorldRejectsUnknownGroup(t *testing.T) {
	w := &World{Accounts: []Account{{ID: normalID, Name: "n", Users: []User{{Name: "u", Groups: []string{"nope"}}}}}}
	err := w.Normalize()
	require.Error(t, err)
	assert.Contains(t, err.Error(), `no group "nope"`, "case unknown group")
}
