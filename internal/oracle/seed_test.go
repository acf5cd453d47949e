package oracle

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/keyaudit/keyaudit/internal/moto"
	"github.com/stretchr/testify/require"
)

// memberRole is the role keyaudit assumes in every account. moto does not
// evaluate trust policies, but the one it gets is the one the template
// gives (trust the auditor), so the seed reads like a real deployment.
const memberRole = "KeyAuditRole"

// keySeed is one access key to create: active or not, used once or never.
type keySeed struct{ active, used bool }

// userCase is one user and its keys: one subtest of the suite.
type userCase struct {
	name    string // the subtest
	account string // the account's name in the organization
	user    string
	keys    []keySeed
}

// cases covers the key states a plan must handle (issue 9). Every key is
// old by the time the scan judges it (--as-of is far ahead), so every one
// must be addressed by a plan.
var cases = []userCase{
	{name: "one-key", account: "management", user: "solo", keys: []keySeed{{active: true, used: true}}},
	{name: "two-active-keys", account: "member-a", user: "ci-deploy", keys: []keySeed{{active: true, used: true}, {active: true, used: true}}},
	{name: "active-plus-inactive", account: "member-b", user: "rotating", keys: []keySeed{{active: true, used: true}, {active: false, used: true}}},
	{name: "inactive-only", account: "member-b", user: "retired", keys: []keySeed{{active: false, used: true}}},
	{name: "never-used", account: "member-a", user: "never-used", keys: []keySeed{{active: true}}},
}

// decoy is a user named like the one-key case's user, with no keys, in
// another account: a plan run with that account's credentials must not
// touch it (issue 9 observation 3).
const decoyAccount = "member-a"

// org is the seeded organization.
type org struct {
	srv      *moto.Server
	accounts map[string]string          // name → account ID
	creds    map[string]aws.Credentials // account ID → credentials acting there
	keys     map[string][]string        // case name → seeded key IDs, in seed order
	seeded   time.Time                  // before the first key was created
}

// seed creates the organization, the member role in every account, and the
// users and keys of every case, through the real SDK.
func seed(ctx context.Context, t *testing.T, srv *moto.Server) *org {
	t.Helper()
	o := &org{srv: srv, accounts: map[string]string{"management": moto.ManagementAccount},
		creds: map[string]aws.Credentials{moto.ManagementAccount: moto.Management},
		keys:  map[string][]string{}, seeded: time.Now().Add(-time.Second)}

	orgs := organizations.NewFromConfig(srv.Config(moto.Management))
	_, err := orgs.CreateOrganization(ctx, &organizations.CreateOrganizationInput{FeatureSet: "ALL"})
	require.NoError(t, err, "create the organization")
	for _, name := range []string{"member-a", "member-b"} {
		out, err := orgs.CreateAccount(ctx, &organizations.CreateAccountInput{
			AccountName: aws.String(name), Email: aws.String(name + "@example.com"),
		})
		require.NoError(t, err, "create account %s", name)
		id := aws.ToString(out.CreateAccountStatus.AccountId)
		o.accounts[name] = id
		// How an administrator acts in a new member account.
		o.creds[id] = srv.AssumeRole(ctx, t, "arn:aws:iam::"+id+":role/OrganizationAccountAccessRole")
	}

	for _, id := range o.accounts {
		_, err := o.iam(id).CreateRole(ctx, &iam.CreateRoleInput{
			RoleName: aws.String(memberRole),
			AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow",` +
				`"Principal":{"AWS":"arn:aws:iam::` + moto.ManagementAccount + `:root"},"Action":"sts:AssumeRole"}]}`),
		})
		require.NoError(t, err, "create %s in account %s", memberRole, id)
	}

	for _, c := range cases {
		o.keys[c.name] = o.seedUser(ctx, t, o.accounts[c.account], c)
	}
	_, err = o.iam(o.accounts[decoyAccount]).CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(cases[0].user)})
	require.NoError(t, err, "create the decoy user in %s", decoyAccount)
	return o
}

func (o *org) seedUser(ctx context.Context, t *testing.T, account string, c userCase) []string {
	t.Helper()
	admin := o.iam(account)
	_, err := admin.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(c.user)})
	require.NoError(t, err, "case %s: create user", c.name)
	var ids []string
	for i, k := range c.keys {
		out, err := admin.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(c.user)})
		require.NoError(t, err, "case %s: create key %d", c.name, i+1)
		id := aws.ToString(out.AccessKey.AccessKeyId)
		ids = append(ids, id)
		if k.used {
			o.use(ctx, t, id)
		}
		if !k.active {
			_, err := admin.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{
				UserName: aws.String(c.user), AccessKeyId: aws.String(id), Status: types.StatusTypeInactive,
			})
			require.NoError(t, err, "case %s: deactivate key %d", c.name, i+1)
		}
	}
	return ids
}

// use makes one IAM call with a key, which moto records as its last use.
// moto checks no signatures, so the key's secret is not needed.
func (o *org) use(ctx context.Context, t *testing.T, keyID string) {
	t.Helper()
	_, err := iam.NewFromConfig(o.srv.Config(aws.Credentials{AccessKeyID: keyID, SecretAccessKey: "unused"})).
		ListUsers(ctx, &iam.ListUsersInput{})
	require.NoError(t, err, "use key %s", keyID)
}

func (o *org) iam(account string) *iam.Client {
	return iam.NewFromConfig(o.srv.Config(o.creds[account]))
}

// userKeys lists a user's keys as moto holds them now.
func (o *org) userKeys(ctx context.Context, t *testing.T, account, user string) []types.AccessKeyMetadata {
	t.Helper()
	out, err := o.iam(account).ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String(user)})
	require.NoError(t, err, "list the keys of %s in %s", user, account)
	return out.AccessKeyMetadata
}
