package audit

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/keyaudit/keyaudit/audit/inventory"
	"github.com/keyaudit/keyaudit/internal/awssim"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const dynamoFull = "arn:aws:iam::aws:policy/AmazonDynamoDBFullAccess"

// policyWorld has two accounts whose users get their power in every way
// IAM allows: attached AWS-managed and customer-managed policies, inline
// documents, groups and a permissions boundary.
func policyWorld() *awssim.World {
	acct := func(id string) awssim.Account {
		local := func(name string) string { return "arn:aws:iam::" + id + ":policy/" + name }
		return awssim.Account{ID: id, Name: "prod-" + id[:1], CreatedDaysAgo: 900,
			Groups: []awssim.Group{
				{Name: "admins", Grants: awssim.Grants{Attached: []string{"arn:aws:iam::aws:policy/AdministratorAccess"}}},
				{Name: "tables", Grants: awssim.Grants{Attached: []string{dynamoFull}}},
			},
			Policies: []awssim.Policy{
				{Name: "keys", Document: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:CreateAccessKey","Resource":"arn:aws:iam::*:user/*"}]}`},
				{Name: "describe-only", Document: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:Describe*","Resource":"*"}]}`},
			},
			Users: []awssim.User{
				{Name: "alice", CreatedDaysAgo: 400, Grants: awssim.Grants{Attached: []string{"arn:aws:iam::aws:policy/AdministratorAccess"}}},
				{Name: "bob", CreatedDaysAgo: 400, Groups: []string{"admins"}},
				{Name: "carol", CreatedDaysAgo: 400, Grants: awssim.Grants{Attached: []string{local("keys")}}},
				{Name: "dave", CreatedDaysAgo: 400, Groups: []string{"admins"}, Boundary: local("describe-only")},
				{Name: "erin", CreatedDaysAgo: 400, Grants: awssim.Grants{Inline: map[string]string{
					"secrets": `{"Statement":{"Effect":"Allow","Action":["secretsmanager:GetSecretValue"],"Resource":"*"}}`}}},
				{Name: "frank", CreatedDaysAgo: 400, Groups: []string{"tables"}},
				{Name: "grace", CreatedDaysAgo: 400},
			}}
	}
	return &awssim.World{
		Accounts:    []awssim.Account{acct("222222222222"), acct("333333333333")},
		AWSPolicies: map[string]string{dynamoFull: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["dynamodb:*"],"Resource":"*"}]}`},
	}
}

func TestPermissionsThroughSDK(t *testing.T) {
	w := policyWorld()
	srv, _ := simConfig(t, w, "222222222222", awssim.WithPageSize(3))
	c := NewCollector()
	want := map[string]inventory.Class{
		"alice": inventory.ClassAdmin, "bob": inventory.ClassAdmin, "carol": inventory.ClassEscalation,
		"dave": inventory.ClassReadOnly, "erin": inventory.ClassData, "frank": inventory.ClassWrite, "grace": inventory.ClassNone,
	}
	for _, id := range []string{"222222222222", "333333333333"} {
		cfg, err := srv.AWSConfig(context.Background(), id, "us-east-1")
		require.NoError(t, err)
		acct := &inventory.Account{ID: id, Root: &inventory.User{Root: true, Name: inventory.RootName}}
		for _, u := range w.Account(id).Users {
			acct.Users = append(acct.Users, inventory.User{Name: u.Name})
		}
		acct.Users = append(acct.Users, inventory.User{Name: "newcomer"})
		require.NoError(t, permissions(context.Background(), c, iam.NewFromConfig(cfg), acct), "account %s", id)
		for _, u := range acct.Users {
			if u.Name == "newcomer" {
				assert.Nil(t, u.Permissions, "account %s: a user missing from the answer is unknown", id)
				continue
			}
			require.NotNil(t, u.Permissions, "account %s user %s", id, u.Name)
			assert.Equal(t, want[u.Name], u.Permissions.Class, "account %s user %s: %v", id, u.Name, u.Permissions.Grants)
		}
		assert.Equal(t, inventory.ClassAdmin, acct.Root.Permissions.Class, "account %s: root", id)
		users := map[string]*inventory.Permissions{}
		for _, u := range acct.Users {
			users[u.Name] = u.Permissions
		}
		assert.True(t, users["bob"].FromGroups, "account %s: bob's power is his group's", id)
		assert.False(t, users["alice"].FromGroups, "account %s: alice's is her own", id)
		assert.True(t, users["dave"].BoundaryCapped, "account %s: dave's boundary caps him", id)
		assert.Equal(t, "arn:aws:iam::"+id+":policy/describe-only", users["dave"].Boundary, "account %s: dave's boundary", id)
		assert.Empty(t, acct.Warnings, "account %s", id)
	}
	calls := srv.Calls()
	// 7 users, 2 groups, 2 policies: 11 entries in pages of 3.
	assert.Equal(t, 4, calls.ByAccount["222222222222"]["iam:GetAccountAuthorizationDetails"], "pages in the first account")
	// AWS-managed policies are read once per run, not once per account.
	assert.Equal(t, 1, calls.ByAccount["222222222222"]["iam:GetPolicy"]+calls.ByAccount["333333333333"]["iam:GetPolicy"], "GetPolicy calls")
	assert.Equal(t, 1, calls.ByAccount["222222222222"]["iam:GetPolicyVersion"]+calls.ByAccount["333333333333"]["iam:GetPolicyVersion"], "GetPolicyVersion calls")
}

func TestPermissionsUnreadablePolicyWarns(t *testing.T) {
	w := policyWorld()
	delete(w.AWSPolicies, dynamoFull)
	w.Accounts[0].Users = append(w.Accounts[0].Users, awssim.User{Name: "ghost", CreatedDaysAgo: 1, Grants: awssim.Grants{Attached: []string{"arn:aws:iam::222222222222:policy/gone"}}})
	_, cfg := simConfig(t, w, "222222222222")
	acct := &inventory.Account{ID: "222222222222", Users: []inventory.User{{Name: "frank"}, {Name: "ghost"}}}
	require.NoError(t, permissions(context.Background(), NewCollector(), iam.NewFromConfig(cfg), acct))
	assert.Equal(t, []string{"group tables: AmazonDynamoDBFullAccess"}, acct.Users[0].Permissions.Unread, "case AWS-managed policy missing")
	assert.Equal(t, []string{"gone"}, acct.Users[1].Permissions.Unread, "case local policy missing")
	assert.Len(t, acct.Warnings, 2, "case each unreadable policy warned once: %v", acct.Warnings)
}

func TestPermissionsDenied(t *testing.T) {
	w := policyWorld()
	w.Accounts[0].Faults.Deny = []string{"iam:GetAccountAuthorizationDetails"}
	_, cfg := simConfig(t, w, "222222222222")
	err := permissions(context.Background(), NewCollector(), iam.NewFromConfig(cfg), &inventory.Account{ID: "222222222222"})
	require.Error(t, err)
	assert.Equal(t, ClassPermission, Classify(err), "case denied: %v", err)
}

// permissions reads an account's authorization and classifies its users,
// as an audit does.
func permissions(ctx context.Context, c *Collector, client PolicyReader, acct *inventory.Account) error {
	auth, err := ReadAuthorization(ctx, client)
	if err != nil {
		return err
	}
	c.Classify(ctx, client, acct, auth)
	return nil
}
