package audit

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/keyaudit/keyaudit/audit/inventory"
	"github.com/keyaudit/keyaudit/internal/awssim"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	scpMgmt  = "111111111111"
	scpProd  = "222222222222" // in unit prod, under an SCP denying iam:*
	scpDev   = "333333333333" // in unit dev: FullAWSAccess only
	scpProd2 = "444444444444"
)

// scpWorld is an organization whose prod unit denies iam:* by SCP; every
// account has the same users.
func scpWorld() *awssim.World {
	full := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`
	acct := func(id, unit string) awssim.Account {
		return awssim.Account{ID: id, Name: "acct-" + id[:1], CreatedDaysAgo: 900, Unit: unit, Management: id == scpMgmt,
			SCPs: []string{"FullAWSAccess"},
			Users: []awssim.User{
				{Name: "keymaker", CreatedDaysAgo: 400, Grants: awssim.Grants{Inline: map[string]string{
					"keys": `{"Statement":{"Effect":"Allow","Action":["iam:CreateAccessKey","iam:ListUsers"],"Resource":"*"}}`}}},
				{Name: "deployer", CreatedDaysAgo: 400, Grants: awssim.Grants{Inline: map[string]string{
					"deploy": `{"Statement":{"Effect":"Allow","Action":["iam:PassRole","lambda:CreateFunction"],"Resource":"*"}}`}}},
			}}
	}
	return &awssim.World{
		Accounts: []awssim.Account{acct(scpMgmt, ""), acct(scpProd, "prod"), acct(scpDev, "dev"), acct(scpProd2, "prod")},
		SCPs:     []awssim.SCP{{Name: "FullAWSAccess", Document: full}, {Name: "DenyIAM", Document: `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"iam:*","Resource":"*"}]}`}},
		RootSCPs: []string{"FullAWSAccess"},
		Units: []awssim.Unit{
			{Name: "workloads", SCPs: []string{"FullAWSAccess"}},
			{Name: "prod", Parent: "workloads", SCPs: []string{"FullAWSAccess", "DenyIAM"}},
			{Name: "dev", Parent: "workloads", SCPs: []string{"FullAWSAccess"}},
		},
	}
}

// memberClient is an account's IAM client that also reads the SCPs with
// the management account's credentials, as a live run's clients do.
type memberClient struct {
	*iam.Client
	*SCPs
}

// classes classifies the account's users through the simulator, with the
// SCPs read by scps (nil: none read).
func classes(t *testing.T, srv *awssim.Server, c *Collector, scps *SCPs, id string) (map[string]*inventory.Permissions, []string) {
	t.Helper()
	cfg, err := srv.AWSConfig(context.Background(), id, "us-east-1")
	require.NoError(t, err)
	cfg.Retryer = Retryer
	var client PolicyReader = iam.NewFromConfig(cfg)
	if scps != nil {
		client = memberClient{iam.NewFromConfig(cfg), scps}
	}
	acct := &inventory.Account{ID: id, Users: []inventory.User{{Name: "keymaker"}, {Name: "deployer"}}}
	require.NoError(t, permissions(context.Background(), c, client, acct), "account %s", id)
	out := map[string]*inventory.Permissions{}
	for _, u := range acct.Users {
		require.NotNil(t, u.Permissions, "account %s user %s", id, u.Name)
		out[u.Name] = u.Permissions
	}
	return out, acct.Warnings
}

func TestSCPsCapTheBlastRadius(t *testing.T) {
	srv, mgmt := simConfig(t, scpWorld(), scpMgmt)
	scps := NewSCPs(organizations.NewFromConfig(mgmt))
	c := NewCollector()
	for _, id := range []string{scpProd, scpDev, scpMgmt, scpProd2} {
		without, _ := classes(t, srv, c, nil, id)
		assert.Equal(t, inventory.ClassEscalation, without["keymaker"].Class, "account %s keymaker without SCPs", id)
		assert.Equal(t, inventory.ClassEscalation, without["deployer"].Class, "account %s deployer without SCPs: %v", id, without["deployer"].Grants)

		with, warnings := classes(t, srv, c, scps, id)
		assert.Empty(t, warnings, "account %s", id)
		want := map[string]inventory.Class{"keymaker": inventory.ClassEscalation, "deployer": inventory.ClassEscalation}
		if id == scpProd || id == scpProd2 {
			// iam:* denied: no key to create, no role to pass (a function
			// can still be created: write).
			want = map[string]inventory.Class{"keymaker": inventory.ClassNone, "deployer": inventory.ClassWrite}
		}
		for name, class := range want {
			assert.Equal(t, class, with[name].Class, "account %s user %s: %v", id, name, with[name].Grants)
			assert.Equal(t, class != inventory.ClassEscalation, with[name].SCPCapped, "account %s user %s: capped by SCPs", id, name)
		}
	}
	capped, _ := classes(t, srv, c, scps, scpProd)
	assert.Regexp(t, `^within service control policies ou-[a-z0-9]{4}-[a-z0-9]{8}: DenyIAM$`, capped["keymaker"].Grants[0], "the cap is named")

	// Read once per path, not per account or user: the organization once,
	// each unit's parent and each target's SCPs once, each policy once.
	calls := srv.Calls().ByAccount[scpMgmt]
	assert.Equal(t, 1, calls["organizations:DescribeOrganization"], "DescribeOrganization")
	assert.Equal(t, 3+3, calls["organizations:ListParents"], "ListParents: three member accounts, three units")
	assert.Equal(t, 3+3+1, calls["organizations:ListPoliciesForTarget"], "ListPoliciesForTarget: three accounts, three units, the root")
	assert.Equal(t, 2, calls["organizations:DescribePolicy"], "DescribePolicy: two policies")
}

// A run that cannot read the SCPs says so in the account's warnings and
// judges without them; it asks once, not once per account.
func TestSCPsDeniedIsALimit(t *testing.T) {
	w := scpWorld()
	w.Accounts[0].Faults.Deny = []string{"organizations:ListParents"}
	srv, mgmt := simConfig(t, w, scpMgmt)
	scps := NewSCPs(organizations.NewFromConfig(mgmt))
	c := NewCollector()
	for _, id := range []string{scpProd, scpDev} {
		with, warnings := classes(t, srv, c, scps, id)
		assert.Equal(t, inventory.ClassEscalation, with["keymaker"].Class, "account %s: judged without SCPs", id)
		require.Len(t, warnings, 1, "account %s warnings", id)
		assert.Contains(t, warnings[0], "blast radius ignores service control policies: find the parent of "+scpProd+" in the organization: organizations:ListParents was denied", "account %s", id)
	}
	assert.Equal(t, 1, srv.Calls().ByAccount[scpMgmt]["organizations:ListParents"], "a denial is not asked again")
}

// Outside an organization, and in one without SCPs enabled, no SCP applies
// and nothing is said.
func TestSCPsAbsent(t *testing.T) {
	disabled := scpWorld()
	disabled.SCPs, disabled.RootSCPs = nil, nil
	for i := range disabled.Units {
		disabled.Units[i].SCPs = nil
	}
	for i := range disabled.Accounts {
		disabled.Accounts[i].SCPs = nil
	}
	standalone := &awssim.World{Accounts: []awssim.Account{scpWorld().Accounts[1]}}
	standalone.Accounts[0].Unit, standalone.Accounts[0].SCPs = "", nil
	for name, w := range map[string]*awssim.World{"SCPs disabled": disabled, "no organization": standalone} {
		caller := w.Accounts[0].ID
		srv, cfg := simConfig(t, w, caller)
		got, warnings := classes(t, srv, NewCollector(), NewSCPs(organizations.NewFromConfig(cfg)), scpProd)
		assert.Equal(t, inventory.ClassEscalation, got["keymaker"].Class, "case %s", name)
		assert.Empty(t, warnings, "case %s", name)
	}
}
