package audit

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/keyaudit/keyaudit/audit/inventory"
)

// UserReader is the part of IAM the per-user collector calls; *iam.Client
// satisfies it.
type UserReader interface {
	GetUser(ctx context.Context, in *iam.GetUserInput, optFns ...func(*iam.Options)) (*iam.GetUserOutput, error)
	GetLoginProfile(ctx context.Context, in *iam.GetLoginProfileInput, optFns ...func(*iam.Options)) (*iam.GetLoginProfileOutput, error)
	iam.ListMFADevicesAPIClient
	iam.ListAccessKeysAPIClient
	lastUseReader
	GetAccountSummary(ctx context.Context, in *iam.GetAccountSummaryInput, optFns ...func(*iam.Options)) (*iam.GetAccountSummaryOutput, error)
	iam.ListAttachedUserPoliciesAPIClient
	iam.ListUserPoliciesAPIClient
	GetUserPolicy(ctx context.Context, in *iam.GetUserPolicyInput, optFns ...func(*iam.Options)) (*iam.GetUserPolicyOutput, error)
	iam.ListGroupsForUserAPIClient
	iam.ListAttachedGroupPoliciesAPIClient
	iam.ListGroupPoliciesAPIClient
	GetGroupPolicy(ctx context.Context, in *iam.GetGroupPolicyInput, optFns ...func(*iam.Options)) (*iam.GetGroupPolicyOutput, error)
	policyGetter
}

// CollectUser reads one IAM user live, as the credential report would
// describe it, and its blast radius: the real-time path cannot use the
// report, which IAM serves for up to four hours and so would not show a
// key created a minute ago (docs/design.md, "The real-time path"). Keys
// are named, in creation order in slots 1 and 2, with their last use
// confirmed by GetAccessKeyLastUsed. A user that no longer exists leaves
// the account without users and a warning saying so.
func (c *Collector) CollectUser(ctx context.Context, client UserReader, accountID, name string) (*inventory.Account, error) {
	acct := &inventory.Account{ID: accountID, Status: inventory.StatusOK, Source: "live", Users: []inventory.User{}}
	got, err := client.GetUser(ctx, &iam.GetUserInput{UserName: aws.String(name)})
	if missing(err) {
		acct.Warnings = append(acct.Warnings, fmt.Sprintf("user %q no longer exists: nothing to judge", name))
		return acct, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read user %q: %w", name, Explain(err))
	}
	u := inventory.User{Name: name, ARN: aws.ToString(got.User.Arn), CreatedAt: aws.ToTime(got.User.CreateDate).UTC(),
		PasswordLastUsed: aws.ToTime(got.User.PasswordLastUsed).UTC(), Keys: []inventory.Key{}}
	detail := types.UserDetail{UserName: aws.String(name), PermissionsBoundary: got.User.PermissionsBoundary}
	auth := &Authorization{users: map[string]types.UserDetail{}, groups: map[string]types.GroupDetail{}, local: map[string]string{}, unread: map[string]error{}}
	var unconfirmed error
	steps := []func(context.Context) error{
		func(ctx context.Context) error { return c.console(ctx, client, &u) },
		func(ctx context.Context) error {
			if err := listKeys(ctx, client, &u); err != nil {
				return err
			}
			unconfirmed = c.confirmAll(ctx, client, &u)
			return nil
		},
		func(ctx context.Context) error { return userPolicies(ctx, client, &detail, auth) },
	}
	if err := c.forEach(ctx, len(steps), func(ctx context.Context, i int) error { return steps[i](ctx) }); err != nil {
		return nil, err
	}
	if unconfirmed != nil {
		acct.Warnings = append(acct.Warnings, fmt.Sprintf("last use not confirmed: %v", unconfirmed))
	}
	if err := localPolicies(ctx, client, &detail, auth); err != nil {
		return nil, err
	}
	auth.users[name] = detail
	acct.Users = append(acct.Users, u)
	c.Classify(ctx, client, acct, auth)
	return acct, nil
}

// CollectRoot reads the root user: GetAccountSummary says whether it has
// a key and MFA. IAM names no root key through a role (ListAccessKeys
// lists IAM users' keys), so keyID, when the caller knows it (an event
// named it), is the key judged: active, the worst case, its status
// unknown, its last use read with GetAccessKeyLastUsed.
func (c *Collector) CollectRoot(ctx context.Context, client UserReader, accountID, partition, keyID string) (*inventory.Account, error) {
	summary, err := client.GetAccountSummary(ctx, &iam.GetAccountSummaryInput{})
	if err != nil {
		return nil, fmt.Errorf("read account summary: %w", Explain(err))
	}
	present := summary.SummaryMap[string(types.SummaryKeyTypeAccountAccessKeysPresent)] > 0
	root := &inventory.User{Name: inventory.RootName, ARN: "arn:" + partition + ":iam::" + accountID + ":root", Root: true,
		PasswordEnabled: true, MFAActive: summary.SummaryMap[string(types.SummaryKeyTypeAccountMFAEnabled)] > 0, Keys: []inventory.Key{}}
	if present && keyID != "" {
		k := inventory.Key{ID: keyID, Active: true, StatusUnknown: true}
		used, err := client.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: aws.String(keyID)})
		if err != nil {
			return nil, fmt.Errorf("read last use of root key %s: %w", inventory.MaskKeyID(keyID), Explain(err))
		}
		k.LastUsed = lastUse(used.AccessKeyLastUsed)
		root.Keys = append(root.Keys, k)
	}
	root.Permissions = &inventory.Permissions{Class: inventory.ClassAdmin, Grants: []string{"root user: no IAM policy limits it"}}
	return &inventory.Account{ID: accountID, Status: inventory.StatusOK, Source: "live", RootKeysPresent: &present, Root: root, Users: []inventory.User{}}, nil
}

// missing: IAM answered NoSuchEntity.
func missing(err error) bool {
	var nse *types.NoSuchEntityException
	return errors.As(err, &nse)
}

// console reads whether the user can sign in (a login profile) and has MFA.
func (c *Collector) console(ctx context.Context, client UserReader, u *inventory.User) error {
	_, err := client.GetLoginProfile(ctx, &iam.GetLoginProfileInput{UserName: aws.String(u.Name)})
	switch {
	case err == nil:
		u.PasswordEnabled = true
	case !missing(err): // NoSuchEntity: no password
		return fmt.Errorf("read login profile of user %q: %w", u.Name, Explain(err))
	}
	p := iam.NewListMFADevicesPaginator(client, &iam.ListMFADevicesInput{UserName: aws.String(u.Name)})
	for p.HasMorePages() && !u.MFAActive {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list MFA devices of user %q: %w", u.Name, Explain(err))
		}
		u.MFAActive = len(page.MFADevices) > 0
	}
	return nil
}

// confirmAll puts the user's keys (listKeys) in slots 1 and 2 in creation
// order, as the credential report shows them, and confirms the last use of
// each; a key whose last use could not be read keeps it unknown.
func (c *Collector) confirmAll(ctx context.Context, client lastUseReader, u *inventory.User) error {
	ids := make([]string, len(u.Keys))
	for i := range u.Keys {
		u.Keys[i].Slot = i + 1
		ids[i] = u.Keys[i].ID
	}
	// Confirm writes through this view of u's keys; it copies no other
	// field of u, which the other reads fill meanwhile.
	return c.Confirm(ctx, client, &inventory.Account{Users: []inventory.User{{Keys: u.Keys}}}, ids)
}

// userPolicies reads the user's policies and groups into detail, and each
// group's into auth, as GetAccountAuthorizationDetails would describe them.
func userPolicies(ctx context.Context, client UserReader, detail *types.UserDetail, auth *Authorization) error {
	name := aws.ToString(detail.UserName)
	user := aws.String(name)
	ap := iam.NewListAttachedUserPoliciesPaginator(client, &iam.ListAttachedUserPoliciesInput{UserName: user})
	for ap.HasMorePages() {
		page, err := ap.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list policies attached to user %q: %w", name, Explain(err))
		}
		detail.AttachedManagedPolicies = append(detail.AttachedManagedPolicies, page.AttachedPolicies...)
	}
	ip := iam.NewListUserPoliciesPaginator(client, &iam.ListUserPoliciesInput{UserName: user})
	for ip.HasMorePages() {
		page, err := ip.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list inline policies of user %q: %w", name, Explain(err))
		}
		for _, pol := range page.PolicyNames {
			doc, err := client.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: user, PolicyName: aws.String(pol)})
			if err != nil {
				return fmt.Errorf("read inline policy %q of user %q: %w", pol, name, Explain(err))
			}
			detail.UserPolicyList = append(detail.UserPolicyList, types.PolicyDetail{PolicyName: aws.String(pol), PolicyDocument: doc.PolicyDocument})
		}
	}
	gp := iam.NewListGroupsForUserPaginator(client, &iam.ListGroupsForUserInput{UserName: user})
	for gp.HasMorePages() {
		page, err := gp.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list groups of user %q: %w", name, Explain(err))
		}
		for _, g := range page.Groups {
			group, err := groupPolicies(ctx, client, aws.ToString(g.GroupName))
			if err != nil {
				return err
			}
			detail.GroupList = append(detail.GroupList, aws.ToString(g.GroupName))
			auth.groups[aws.ToString(g.GroupName)] = group
		}
	}
	return nil
}

// groupPolicies reads a group's attached and inline policies.
func groupPolicies(ctx context.Context, client UserReader, name string) (types.GroupDetail, error) {
	g := types.GroupDetail{GroupName: aws.String(name)}
	ap := iam.NewListAttachedGroupPoliciesPaginator(client, &iam.ListAttachedGroupPoliciesInput{GroupName: aws.String(name)})
	for ap.HasMorePages() {
		page, err := ap.NextPage(ctx)
		if err != nil {
			return g, fmt.Errorf("list policies attached to group %q: %w", name, Explain(err))
		}
		g.AttachedManagedPolicies = append(g.AttachedManagedPolicies, page.AttachedPolicies...)
	}
	ip := iam.NewListGroupPoliciesPaginator(client, &iam.ListGroupPoliciesInput{GroupName: aws.String(name)})
	for ip.HasMorePages() {
		page, err := ip.NextPage(ctx)
		if err != nil {
			return g, fmt.Errorf("list inline policies of group %q: %w", name, Explain(err))
		}
		for _, pol := range page.PolicyNames {
			doc, err := client.GetGroupPolicy(ctx, &iam.GetGroupPolicyInput{GroupName: aws.String(name), PolicyName: aws.String(pol)})
			if err != nil {
				return g, fmt.Errorf("read inline policy %q of group %q: %w", pol, name, Explain(err))
			}
			g.GroupPolicyList = append(g.GroupPolicyList, types.PolicyDetail{PolicyName: aws.String(pol), PolicyDocument: doc.PolicyDocument})
		}
	}
	return g, nil
}

// localPolicies reads the customer-managed policies the user's blast radius
// names (attached to it or its groups, or its boundary) into auth, as
// GetAccountAuthorizationDetails would list them; AWS-managed ones are
// resolved by Classify. A policy that cannot be read is noted in
// auth.unread, and Classify names it in the account's warnings.
func localPolicies(ctx context.Context, client policyGetter, detail *types.UserDetail, auth *Authorization) error {
	var arns []string
	add := func(list []types.AttachedPolicy) {
		for _, a := range list {
			arns = append(arns, aws.ToString(a.PolicyArn))
		}
	}
	add(detail.AttachedManagedPolicies)
	for _, g := range auth.groups {
		add(g.AttachedManagedPolicies)
	}
	if b := detail.PermissionsBoundary; b != nil {
		arns = append(arns, aws.ToString(b.PermissionsBoundaryArn))
	}
	sort.Strings(arns)
	for _, arn := range arns {
		if _, done := auth.local[arn]; done || arn == "" || strings.Contains(arn, ":aws:policy/") {
			continue
		}
		doc, err := readPolicy(ctx, client, arn)
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil:
			auth.unread[arn] = err
		default:
			auth.local[arn] = doc
		}
	}
	return nil
}
