package oracle

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/keyaudit/keyaudit/internal/moto"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// memberRole is the role keyaudit assumes in every account, deployed from
// the StackSet's template in template.yaml. moto does not evaluate trust
// policies, but it does evaluate the role's permissions while the scan
// runs (EnforceIAM), so the scan proves the template grants enough.
const (
	memberRole = "KeyAuditRole"
	externalID = "oracle-external-id"
	// auditor is the principal the member role trusts: the operator who
	// runs the scan (the Lambda function's role, deployed).
	auditor = "arn:aws:iam::" + moto.ManagementAccount + ":user/keyaudit-operator"
)

// keySeed is one access key to create: active or not, used once or never.
type keySeed struct{ active, used bool }

// userCase is one user and its keys: one subtest of the suite.
type userCase struct {
	name    string // the subtest
	account string // the account's name in the organization
	user    string
	keys    []keySeed
	admin   bool // the operator who runs the scan: AdministratorAccess
	console bool // has a console password and no MFA: key-without-mfa
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
	// Its plan ends with a step that lists the user's MFA devices.
	{name: "console-without-mfa", account: "member-b", user: "console-user", keys: []keySeed{{active: true, used: true}}, console: true},
	// The scan sees its own operator's key too, and its plan runs like any.
	{name: "operator-key", account: "management", user: "keyaudit-operator", keys: []keySeed{{active: true, used: true}}, admin: true},
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
	operator aws.Credentials            // the admin case's key: runs the scan under enforced IAM
}

// seed creates the organization, the member role in every account, and the
// users and keys of every case, through the real SDK.
func seed(ctx context.Context, t *testing.T, srv *moto.Server) *org {
	t.Helper()
	o := &org{srv: srv, accounts: map[string]string{"management": moto.ManagementAccount},
		creds: map[string]aws.Credentials{moto.ManagementAccount: moto.Management},
		keys:  map[string][]string{}, seeded: time.Now().Add(-time.Second)}

	names := []string{"member-a", "member-b"}
	for i, id := range srv.Organization(ctx, t, names...) {
		name := names[i]
		o.accounts[name] = id
		// How an administrator acts in a new member account.
		o.creds[id] = srv.AssumeRole(ctx, t, "arn:aws:iam::"+id+":role/OrganizationAccountAccessRole")
	}

	for _, c := range cases {
		o.keys[c.name] = o.seedUser(ctx, t, o.accounts[c.account], c)
	}
	o.deployMemberRoles(ctx, t)
	_, err := o.iam(o.accounts[decoyAccount]).CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(cases[0].user)})
	require.NoError(t, err, "create the decoy user in %s", decoyAccount)
	return o
}

func (o *org) seedUser(ctx context.Context, t *testing.T, account string, c userCase) []string {
	t.Helper()
	admin := o.iam(account)
	_, err := admin.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(c.user)})
	require.NoError(t, err, "case %s: create user", c.name)
	if c.admin {
		_, err := admin.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{
			UserName: aws.String(c.user), PolicyArn: aws.String("arn:aws:iam::aws:policy/AdministratorAccess"),
		})
		require.NoError(t, err, "case %s: attach AdministratorAccess", c.name)
	}
	if c.console {
		_, err := admin.CreateLoginProfile(ctx, &iam.CreateLoginProfileInput{
			UserName: aws.String(c.user), Password: aws.String("Oracle-console-1"),
		})
		require.NoError(t, err, "case %s: create a login profile", c.name)
	}
	var ids []string
	for i, k := range c.keys {
		out, err := admin.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(c.user)})
		require.NoError(t, err, "case %s: create key %d", c.name, i+1)
		id := aws.ToString(out.AccessKey.AccessKeyId)
		ids = append(ids, id)
		if c.admin {
			o.operator = aws.Credentials{AccessKeyID: id, SecretAccessKey: aws.ToString(out.AccessKey.SecretAccessKey)}
		}
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

// deployMemberRoles deploys the StackSet's template body from template.yaml
// in every account with the aws CLI, as the ManagementAccountRole output
// tells a delegated administrator to do for the management account.
func (o *org) deployMemberRoles(ctx context.Context, t *testing.T) {
	t.Helper()
	data, err := os.ReadFile("../../template.yaml")
	require.NoError(t, err, "read template.yaml")
	var tpl struct {
		Resources struct {
			MemberRoleStackSet struct {
				Properties struct {
					TemplateBody string `yaml:"TemplateBody"`
				} `yaml:"Properties"`
			} `yaml:"MemberRoleStackSet"`
		} `yaml:"Resources"`
	}
	require.NoError(t, yaml.Unmarshal(data, &tpl), "parse template.yaml")
	body := tpl.Resources.MemberRoleStackSet.Properties.TemplateBody
	require.NotEmpty(t, body, "template.yaml has the StackSet's template inline")
	var member struct {
		Resources struct {
			KeyAuditRole struct {
				Properties struct {
					Policies []struct {
						PolicyName     string         `yaml:"PolicyName"`
						PolicyDocument map[string]any `yaml:"PolicyDocument"`
					} `yaml:"Policies"`
				} `yaml:"Properties"`
			} `yaml:"KeyAuditRole"`
		} `yaml:"Resources"`
	}
	require.NoError(t, yaml.Unmarshal([]byte(body), &member), "parse the StackSet's template")
	policies := member.Resources.KeyAuditRole.Properties.Policies
	require.NotEmpty(t, policies, "the member role has inline policies")
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "member-role.yaml"), []byte(body), 0o600), "write the member template")

	cmd := "aws cloudformation deploy --stack-name keyaudit-member-role --template-file member-role.yaml" +
		" --capabilities CAPABILITY_NAMED_IAM --parameter-overrides AuditorRoleArn=" + auditor +
		" RoleName=" + memberRole + " ExternalId=" + externalID
	results := map[string]moto.Result{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, id := range o.accounts {
		wg.Go(func() { // the CLI's waiter polls every few seconds: deploy all at once
			res := o.srv.Shell(ctx, dir, o.creds[id], cmd)
			mu.Lock()
			defer mu.Unlock()
			results[id] = res
		})
	}
	wg.Wait()
	for id, res := range results {
		require.NoError(t, res.Err, "deploy the member role in account %s: %s\n%s", id, res.Stdout, res.Stderr)
		// moto 5.2.1 stores an inline policy created by CloudFormation in a
		// form its own IAM enforcement cannot read (KeyError
		// 'policy_document', a 500 on every call): put the same documents
		// again through the IAM API.
		for _, p := range policies {
			doc, err := json.Marshal(p.PolicyDocument)
			require.NoError(t, err, "policy %s as JSON", p.PolicyName)
			_, err = o.iam(id).PutRolePolicy(ctx, &iam.PutRolePolicyInput{
				RoleName: aws.String(memberRole), PolicyName: aws.String(p.PolicyName), PolicyDocument: aws.String(string(doc)),
			})
			require.NoError(t, err, "put policy %s on %s in account %s", p.PolicyName, memberRole, id)
		}
	}
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
