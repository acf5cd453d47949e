package audit

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/keyaudit/keyaudit/audit/inventory"
)

// PolicyReader is the part of IAM the permissions collector calls;
// *iam.Client satisfies it.
type PolicyReader interface {
	iam.GetAccountAuthorizationDetailsAPIClient
	policyGetter
}

// policyGetter reads one managed policy's default version.
type policyGetter interface {
	GetPolicy(ctx context.Context, in *iam.GetPolicyInput, optFns ...func(*iam.Options)) (*iam.GetPolicyOutput, error)
	GetPolicyVersion(ctx context.Context, in *iam.GetPolicyVersionInput, optFns ...func(*iam.Options)) (*iam.GetPolicyVersionOutput, error)
}

// awsPolicies caches AWS-managed policy documents for one run: they are the
// same in every account, so each is read at most once (and a read that
// failed is tried again by the next account that needs it).
type awsPolicies struct {
	docs memo[string]
}

// document returns the default version of an AWS-managed policy, reading it
// with client if no other account has.
func (c *awsPolicies) document(ctx context.Context, client policyGetter, arn string) (string, error) {
	return c.docs.get(ctx, arn, func(ctx context.Context, arn string) (string, error) { return readPolicy(ctx, client, arn) })
}

func readPolicy(ctx context.Context, client policyGetter, arn string) (string, error) {
	pol, err := client.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(arn)})
	if err != nil {
		return "", fmt.Errorf("read managed policy %s: %w", arn, Explain(err))
	}
	ver, err := client.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: aws.String(arn), VersionId: pol.Policy.DefaultVersionId})
	if err != nil {
		return "", fmt.Errorf("read default version of managed policy %s: %w", arn, Explain(err))
	}
	return inventory.DecodeDocument(aws.ToString(ver.PolicyVersion.Document))
}

// Authorization is an account's users, groups and customer-managed
// policies, as one paginated GetAccountAuthorizationDetails returns them.
type Authorization struct {
	users  map[string]types.UserDetail
	groups map[string]types.GroupDetail
	local  map[string]string // default version documents by policy ARN
	// unread are customer-managed policies that could not be read, and
	// why (the per-user collector reads them one by one).
	unread map[string]error
}

// ReadAuthorization reads the account's users, groups and customer-managed
// policies. It needs nothing from the credential report, so it can run
// while IAM generates one.
func ReadAuthorization(ctx context.Context, client iam.GetAccountAuthorizationDetailsAPIClient) (*Authorization, error) {
	a := &Authorization{users: map[string]types.UserDetail{}, groups: map[string]types.GroupDetail{}, local: map[string]string{}}
	p := iam.NewGetAccountAuthorizationDetailsPaginator(client, &iam.GetAccountAuthorizationDetailsInput{
		Filter: []types.EntityType{types.EntityTypeUser, types.EntityTypeGroup, types.EntityTypeLocalManagedPolicy},
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("read IAM policies (GetAccountAuthorizationDetails): %w", Explain(err))
		}
		for _, u := range page.UserDetailList {
			a.users[aws.ToString(u.UserName)] = u
		}
		for _, g := range page.GroupDetailList {
			a.groups[aws.ToString(g.GroupName)] = g
		}
		for _, pol := range page.Policies {
			for _, v := range pol.PolicyVersionList {
				if v.IsDefaultVersion {
					a.local[aws.ToString(pol.Arn)] = aws.ToString(v.Document)
				}
			}
		}
	}
	return a, nil
}

// Classify sets each IAM user's blast radius from the account's
// authorization (the root user's is everything). AWS-managed policies are
// judged from inventory.ManagedPolicies, or read once per run with client.
// A policy that cannot be read is named in the user's Unread and the
// account's warnings. When client is also an SCPReader, the service
// control policies along the account's path cap every user; when they
// cannot be read, the account's warnings say so and the class ignores them.
func (c *Collector) Classify(ctx context.Context, client policyGetter, acct *inventory.Account, auth *Authorization) {
	users, groups, local := auth.users, auth.groups, auth.local
	var scps []inventory.SCPLevel
	if r, ok := client.(SCPReader); ok {
		var err error
		if scps, err = r.ServiceControlPolicies(ctx, acct.ID); err != nil {
			acct.Warnings = append(acct.Warnings, fmt.Sprintf("blast radius ignores service control policies: %v", err))
		}
	}
	warned := map[string]bool{}
	resolve := func(name, arn, via string) inventory.Policy {
		pol := inventory.Policy{Name: name, ARN: arn, Via: via}
		var err error
		switch doc, ok := local[arn]; {
		case ok:
			pol.Document, err = inventory.DecodeDocument(doc)
		case inventory.ManagedPolicies[arn] != "":
			pol.Document = inventory.ManagedPolicies[arn]
		case strings.Contains(arn, ":aws:policy/"):
			pol.Document, err = c.awsPolicies.document(ctx, client, arn)
		case auth.unread[arn] != nil:
			err = auth.unread[arn]
		default:
			err = fmt.Errorf("policy %s is not in the account's GetAccountAuthorizationDetails answer", arn)
		}
		if err != nil && !warned[arn] {
			warned[arn] = true
			acct.Warnings = append(acct.Warnings, fmt.Sprintf("blast radius may be understated: %v", err))
		}
		return pol
	}
	inline := func(list []types.PolicyDetail, via string) []inventory.Policy {
		var out []inventory.Policy
		for _, d := range list {
			doc, err := inventory.DecodeDocument(aws.ToString(d.PolicyDocument))
			if err != nil {
				doc = "" // counted as unread
			}
			out = append(out, inventory.Policy{Name: aws.ToString(d.PolicyName), Via: via, Document: doc})
		}
		return out
	}
	attached := func(list []types.AttachedPolicy, via string) []inventory.Policy {
		var out []inventory.Policy
		for _, a := range list {
			out = append(out, resolve(aws.ToString(a.PolicyName), aws.ToString(a.PolicyArn), via))
		}
		return out
	}

	if acct.Root != nil {
		acct.Root.Permissions = &inventory.Permissions{Class: inventory.ClassAdmin, Grants: []string{"root user: no IAM policy limits it"}}
	}
	for i := range acct.Users {
		u := &acct.Users[i]
		d, ok := users[u.Name]
		if !ok {
			continue // created after the credential report: unknown, not none
		}
		policies := append(attached(d.AttachedManagedPolicies, ""), inline(d.UserPolicyList, "")...)
		for _, name := range d.GroupList {
			g := groups[name]
			policies = append(policies, attached(g.AttachedManagedPolicies, name)...)
			policies = append(policies, inline(g.GroupPolicyList, name)...)
		}
		var boundary *inventory.Policy
		if b := d.PermissionsBoundary; b != nil && aws.ToString(b.PermissionsBoundaryArn) != "" {
			arn := aws.ToString(b.PermissionsBoundaryArn)
			bp := resolve(arn[strings.LastIndex(arn, "/")+1:], arn, "")
			boundary = &bp
		}
		perms := inventory.ClassifyPolicies(policies, boundary, scps)
		u.Permissions = &perms
	}
}
