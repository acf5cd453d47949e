package audit

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"
	"github.com/keyaudit/keyaudit/audit/inventory"
	"github.com/keyaudit/keyaudit/internal/moto"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The oracle for the SCP reader: moto's Organizations, written by others,
// with an account in a unit under an SCP denying iam:*. The reader must
// find the path root → unit → account with FullAWSAccess at each level and
// the Deny at the unit, and a user allowed iam:* there must be classed none.
func TestSCPsAgainstMoto(t *testing.T) {
	moto.Require(t, "moto_server")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	ctx := context.Background()
	srv := moto.Start(t)
	accountID := srv.Organization(ctx, t, "prod-app")[0]
	org := organizations.NewFromConfig(srv.Config(moto.Management))
	roots, err := org.ListRoots(ctx, &organizations.ListRootsInput{})
	require.NoError(t, err, "list roots")
	rootID := roots.Roots[0].Id
	ou, err := org.CreateOrganizationalUnit(ctx, &organizations.CreateOrganizationalUnitInput{ParentId: rootID, Name: aws.String("prod")})
	require.NoError(t, err, "create unit prod")
	_, err = org.MoveAccount(ctx, &organizations.MoveAccountInput{AccountId: aws.String(accountID), SourceParentId: rootID, DestinationParentId: ou.OrganizationalUnit.Id})
	require.NoError(t, err, "move the account into prod")
	deny, err := org.CreatePolicy(ctx, &organizations.CreatePolicyInput{Name: aws.String("DenyIAM"), Description: aws.String("no IAM"),
		Type: orgtypes.PolicyTypeServiceControlPolicy, Content: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"iam:*","Resource":"*"}]}`)})
	require.NoError(t, err, "create the SCP")
	_, err = org.AttachPolicy(ctx, &organizations.AttachPolicyInput{PolicyId: deny.Policy.PolicySummary.Id, TargetId: ou.OrganizationalUnit.Id})
	require.NoError(t, err, "attach the SCP to prod")

	scps := NewSCPs(org)
	levels, err := scps.ServiceControlPolicies(ctx, accountID)
	require.NoError(t, err, "read the SCPs of the account")
	require.Len(t, levels, 3, "root, unit, account: %+v", levels)
	assert.Equal(t, []string{aws.ToString(rootID), aws.ToString(ou.OrganizationalUnit.Id), accountID},
		[]string{levels[0].Target, levels[1].Target, levels[2].Target}, "the path, root first")
	var names []string
	for _, p := range levels[1].Policies {
		names = append(names, p.Name)
	}
	assert.ElementsMatch(t, []string{"FullAWSAccess", "DenyIAM"}, names, "the unit's SCPs")
	iamAll := []inventory.Policy{{Name: "p", Document: `{"Statement":{"Effect":"Allow","Action":"iam:*","Resource":"*"}}`}}
	assert.Equal(t, inventory.ClassNone, inventory.ClassifyPolicies(iamAll, nil, levels).Class, "iam:* under the unit's Deny")

	mgmt, err := scps.ServiceControlPolicies(ctx, moto.ManagementAccount)
	require.NoError(t, err, "the management account")
	assert.Nil(t, mgmt, "SCPs do not apply to the management account")
}
