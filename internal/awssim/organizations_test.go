package awssim

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestListAccountsPaginates(t *testing.T) {
	tests := []struct {
		name       string
		emptyPages int
		maxResults int32
		wantPages  int
		wantEmpty  int
	}{
		{"one page", 0, 0, 1, 0},
		{"pages of 4", 0, 4, 2, 0},
		{"empty pages with tokens", 2, 2, 5, 2},
		{"more empty pages than page breaks", 4, 4, 6, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, w := startSmall(t, WithEmptyOrgPages(tt.emptyPages))
			in := &organizations.ListAccountsInput{}
			if tt.maxResults > 0 {
				in.MaxResults = aws.Int32(tt.maxResults)
			}
			p := organizations.NewListAccountsPaginator(organizations.NewFromConfig(sdkConfig(t, srv, mgmtID, "us-east-1")), in)
			var got []orgtypes.Account
			pages, empty := 0, 0
			for p.HasMorePages() {
				page, err := p.NextPage(context.Background())
				require.NoError(t, err)
				pages++
				if len(page.Accounts) == 0 {
					empty++
				}
				got = append(got, page.Accounts...)
			}
			assert.Equal(t, tt.wantPages, pages, "pages")
			assert.Equal(t, tt.wantEmpty, empty, "empty pages")
			require.Len(t, got, len(w.Accounts))
			for i, a := range got {
				want := w.Accounts[i]
				assert.Equal(t, want.ID, aws.ToString(a.Id), "account %d", i)
				assert.Equal(t, want.Name, aws.ToString(a.Name), "account %d", i)
				assert.Equal(t, want.State, string(a.State), "account %d", i)
				assert.True(t, strings.HasPrefix(aws.ToString(a.Arn), "arn:aws:organizations::111111111111:account/o-"), "account %d: ARN %s", i, aws.ToString(a.Arn))
			}
			assert.Equal(t, orgtypes.AccountStateSuspended, got[5].State, "suspended account")
			assert.Equal(t, orgtypes.AccountStatusSuspended, got[5].Status, "suspended account")
		})
	}
}

func TestListAccountsOutsideManagement(t *testing.T) {
	srv, _ := startSmall(t)
	_, err := organizations.NewFromConfig(sdkConfig(t, srv, normalID, "us-east-1")).ListAccounts(context.Background(), &organizations.ListAccountsInput{})
	var denied *orgtypes.AccessDeniedException
	require.ErrorAs(t, err, &denied, "ListAccounts from a member")
	wantAPIError(t, err, "AccessDeniedException", "You don't have permissions")

	standalone := &World{Accounts: []Account{{ID: "123456789012", Name: "standalone"}}}
	alone := NewServer(standalone, WithClock(fixedNow))
	t.Cleanup(alone.Close)
	_, err = organizations.NewFromConfig(sdkConfig(t, alone, "123456789012", "us-east-1")).ListAccounts(context.Background(), &organizations.ListAccountsInput{})
	var notInUse *orgtypes.AWSOrganizationsNotInUseException
	assert.ErrorAs(t, err, &notInUse, "ListAccounts outside an organization")
}

// The organization's tree and its service control policies, as the real
// Organizations client reads them: the account's parent chain up to the
// root, the SCPs attached at each level, and their documents.
func TestServiceControlPolicies(t *testing.T) {
	const denyIAM = `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"iam:*","Resource":"*"}]}`
	srv, _ := startChanged(t, func(w *World) {
		w.SCPs = []SCP{{Name: "FullAWSAccess", Document: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`}, {Name: "DenyIAM", Document: denyIAM}}
		w.RootSCPs = []string{"FullAWSAccess"}
		w.Units = []Unit{{Name: "workloads", SCPs: []string{"FullAWSAccess"}}, {Name: "prod", Parent: "workloads", SCPs: []string{"FullAWSAccess", "DenyIAM"}}}
		w.Account(normalID).Unit = "prod"
		w.Account(normalID).SCPs = []string{"FullAWSAccess"}
	})
	ctx := context.Background()
	client := organizations.NewFromConfig(sdkConfig(t, srv, mgmtID, "us-east-1"))

	org, err := organizations.NewFromConfig(sdkConfig(t, srv, normalID, "us-east-1")).DescribeOrganization(ctx, &organizations.DescribeOrganizationInput{})
	require.NoError(t, err, "DescribeOrganization from a member account")
	assert.Equal(t, mgmtID, aws.ToString(org.Organization.MasterAccountId), "management account")
	assert.Equal(t, orgtypes.OrganizationFeatureSetAll, org.Organization.FeatureSet, "feature set")

	var path []orgtypes.Parent
	for child := normalID; ; {
		out, err := client.ListParents(ctx, &organizations.ListParentsInput{ChildId: aws.String(child)})
		require.NoError(t, err, "ListParents of %s", child)
		require.Len(t, out.Parents, 1, "parents of %s", child)
		path = append(path, out.Parents[0])
		if out.Parents[0].Type == orgtypes.ParentTypeRoot {
			break
		}
		child = aws.ToString(out.Parents[0].Id)
	}
	require.Len(t, path, 3, "account → prod → workloads → root")
	assert.Equal(t, []orgtypes.ParentType{orgtypes.ParentTypeOrganizationalUnit, orgtypes.ParentTypeOrganizationalUnit, orgtypes.ParentTypeRoot},
		[]orgtypes.ParentType{path[0].Type, path[1].Type, path[2].Type}, "parent types")
	assert.Regexp(t, `^ou-[a-z0-9]{4}-[a-z0-9]{8}$`, aws.ToString(path[0].Id), "unit ID")
	assert.Regexp(t, `^r-[a-z0-9]{4}$`, aws.ToString(path[2].Id), "root ID")

	pols, err := client.ListPoliciesForTarget(ctx, &organizations.ListPoliciesForTargetInput{TargetId: path[0].Id, Filter: orgtypes.PolicyTypeServiceControlPolicy})
	require.NoError(t, err, "SCPs of prod")
	require.Len(t, pols.Policies, 2, "SCPs of prod")
	assert.Equal(t, "p-FullAWSAccess", aws.ToString(pols.Policies[0].Id), "FullAWSAccess keeps its AWS ID")
	assert.True(t, pols.Policies[0].AwsManaged, "FullAWSAccess is AWS-managed")
	pol, err := client.DescribePolicy(ctx, &organizations.DescribePolicyInput{PolicyId: pols.Policies[1].Id})
	require.NoError(t, err, "DescribePolicy")
	assert.Equal(t, "DenyIAM", aws.ToString(pol.Policy.PolicySummary.Name), "policy name")
	assert.Equal(t, denyIAM, aws.ToString(pol.Policy.Content), "policy document")
	other, err := client.ListPoliciesForTarget(ctx, &organizations.ListPoliciesForTargetInput{TargetId: path[0].Id, Filter: orgtypes.PolicyTypeTagPolicy})
	require.NoError(t, err, "tag policies of prod")
	assert.Empty(t, other.Policies, "only SCPs are modelled")

	_, err = client.ListParents(ctx, &organizations.ListParentsInput{ChildId: aws.String("999999999999")})
	var noChild *orgtypes.ChildNotFoundException
	assert.ErrorAs(t, err, &noChild, "ListParents of an account not in the organization")
	_, err = client.DescribePolicy(ctx, &organizations.DescribePolicyInput{PolicyId: aws.String("p-12345678")})
	var noPolicy *orgtypes.PolicyNotFoundException
	assert.ErrorAs(t, err, &noPolicy, "DescribePolicy of an unknown policy")
	_, err = organizations.NewFromConfig(sdkConfig(t, srv, normalID, "us-east-1")).ListPoliciesForTarget(ctx,
		&organizations.ListPoliciesForTargetInput{TargetId: aws.String(normalID), Filter: orgtypes.PolicyTypeServiceControlPolicy})
	var denied *orgtypes.AccessDeniedException
	assert.ErrorAs(t, err, &denied, "ListPoliciesForTarget from a member account")
}

func TestWorldRejectsUnknownUnitsAndSCPs(t *testing.T) {
	w := &World{Accounts: []Account{{ID: "123456789012", Name: "a", Unit: "nowhere", SCPs: []string{"missing"}}},
		Units: []Unit{{Name: "child", Parent: "later"}, {Name: "later"}}}
	err := w.Normalize()
	require.Error(t, err)
	for _, want := range []string{`account "123456789012": no unit "nowhere"`, `account "123456789012": no SCP "missing"`, `unit "child": parent "later" is not a unit listed before it`} {
		assert.Contains(t, err.Error(), want, "world error")
	}
}

// DescribeAccount, asked by the management account, describes an account
// of the organization as ListAccounts does, and answers
// AccountNotFoundException for any other.
func TestDescribeAccount(t *testing.T) {
	srv, w := startSmall(t)
	ctx := context.Background()
	client := organizations.NewFromConfig(sdkConfig(t, srv, mgmtID, "us-east-1"))
	out, err := client.DescribeAccount(ctx, &organizations.DescribeAccountInput{AccountId: aws.String(normalID)})
	require.NoError(t, err, "DescribeAccount of a member")
	want := w.Account(normalID)
	assert.Equal(t, want.ID, aws.ToString(out.Account.Id), "ID")
	assert.Equal(t, want.Name, aws.ToString(out.Account.Name), "name")
	assert.Equal(t, orgtypes.AccountStateActive, out.Account.State, "state")

	_, err = client.DescribeAccount(ctx, &organizations.DescribeAccountInput{AccountId: aws.String("999999999999")})
	var notFound *orgtypes.AccountNotFoundException
	assert.ErrorAs(t, err, &notFound, "an account outside the organization")

	_, err = organizations.NewFromConfig(sdkConfig(t, srv, normalID, "us-east-1")).DescribeAccount(ctx, &organizations.DescribeAccountInput{AccountId: aws.String(normalID)})
	var denied *orgtypes.AccessDeniedException
	assert.ErrorAs(t, err, &denied, "DescribeAccount from a member")
}
