package audit

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"
	"github.com/keyaudit/keyaudit/audit/inventory"
)

// OrgPolicyReader is the part of Organizations that reads service control
// policies; *organizations.Client satisfies it.
type OrgPolicyReader interface {
	DescribeOrganization(ctx context.Context, in *organizations.DescribeOrganizationInput, optFns ...func(*organizations.Options)) (*organizations.DescribeOrganizationOutput, error)
	organizations.ListParentsAPIClient
	organizations.ListPoliciesForTargetAPIClient
	DescribePolicy(ctx context.Context, in *organizations.DescribePolicyInput, optFns ...func(*organizations.Options)) (*organizations.DescribePolicyOutput, error)
}

// SCPReader says which service control policies apply to an account's IAM
// users. The IAM clients of a live run carry one (Classify looks for it).
type SCPReader interface {
	ServiceControlPolicies(ctx context.Context, accountID string) ([]inventory.SCPLevel, error)
}

// SCPs reads the service control policies along accounts' paths in their
// organization: the root, each organizational unit, the account. Listing
// them takes the management account's or a delegated administrator's
// credentials, as listing the organization does. Accounts share their
// path's upper levels, so each parent, each target's attachments and each
// policy is read once per run, not once per account or user.
type SCPs struct {
	client OrgPolicyReader

	org      memo[orgScope]
	parents  memo[orgtypes.Parent]
	attached memo[[]string]
	policies memo[inventory.Policy]

	mu      sync.Mutex
	refused error // once denied, every account is: not asked again
}

// orgScope is what the organization says about SCPs in every account.
type orgScope struct {
	// apply is false outside an organization, or in one with consolidated
	// billing only: no SCP applies anywhere.
	apply      bool
	management string // SCPs do not apply to the management account
}

// NewSCPs returns a reader of service control policies through client.
func NewSCPs(client OrgPolicyReader) *SCPs {
	return &SCPs{client: client}
}

// ServiceControlPolicies returns the SCP levels that apply to the
// account's IAM users, from the root down to the account; nil when none
// apply: outside an organization, in its management account, or when SCPs
// are not enabled. An error says why they could not be read.
func (s *SCPs) ServiceControlPolicies(ctx context.Context, accountID string) ([]inventory.SCPLevel, error) {
	s.mu.Lock()
	refused := s.refused
	s.mu.Unlock()
	if refused != nil {
		return nil, refused
	}
	levels, err := s.path(ctx, accountID)
	if err != nil && Classify(err) == ClassPermission {
		s.mu.Lock()
		s.refused = err
		s.mu.Unlock()
	}
	return levels, err
}

func (s *SCPs) path(ctx context.Context, accountID string) ([]inventory.SCPLevel, error) {
	scope, err := s.org.get(ctx, "", s.describeOrg)
	if err != nil || !scope.apply || accountID == scope.management {
		return nil, err
	}
	targets := []string{accountID}
	for child := accountID; ; {
		parent, err := s.parents.get(ctx, child, s.parent)
		if err != nil {
			return nil, err
		}
		child = aws.ToString(parent.Id)
		targets = append([]string{child}, targets...)
		if parent.Type == orgtypes.ParentTypeRoot {
			break
		}
	}
	levels := make([]inventory.SCPLevel, 0, len(targets))
	for _, target := range targets {
		ids, err := s.attached.get(ctx, target, s.listAttached)
		if err != nil {
			return nil, err
		}
		// While SCPs are enabled every root, unit and account has one at
		// least (Organizations refuses to detach the last): none means
		// they are not enabled.
		if len(ids) == 0 {
			return nil, nil
		}
		level := inventory.SCPLevel{Target: target}
		for _, id := range ids {
			pol, err := s.policies.get(ctx, id, s.describePolicy)
			if err != nil {
				return nil, err
			}
			level.Policies = append(level.Policies, pol)
		}
		levels = append(levels, level)
	}
	return levels, nil
}

func (s *SCPs) describeOrg(ctx context.Context, _ string) (orgScope, error) {
	out, err := s.client.DescribeOrganization(ctx, &organizations.DescribeOrganizationInput{})
	var notInUse *orgtypes.AWSOrganizationsNotInUseException
	switch {
	case errors.As(err, &notInUse):
		return orgScope{}, nil
	case err != nil:
		return orgScope{}, fmt.Errorf("describe the organization: %w", Explain(err))
	}
	return orgScope{
		apply:      out.Organization.FeatureSet == orgtypes.OrganizationFeatureSetAll,
		management: aws.ToString(out.Organization.MasterAccountId),
	}, nil
}

func (s *SCPs) parent(ctx context.Context, child string) (orgtypes.Parent, error) {
	// An account or a unit has exactly one parent.
	out, err := s.client.ListParents(ctx, &organizations.ListParentsInput{ChildId: aws.String(child)})
	if err != nil {
		return orgtypes.Parent{}, fmt.Errorf("find the parent of %s in the organization: %w", child, Explain(err))
	}
	if len(out.Parents) != 1 {
		return orgtypes.Parent{}, fmt.Errorf("find the parent of %s in the organization: Organizations named %d", child, len(out.Parents))
	}
	return out.Parents[0], nil
}

func (s *SCPs) listAttached(ctx context.Context, target string) ([]string, error) {
	var ids []string
	p := organizations.NewListPoliciesForTargetPaginator(s.client, &organizations.ListPoliciesForTargetInput{
		TargetId: aws.String(target), Filter: orgtypes.PolicyTypeServiceControlPolicy,
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list the service control policies of %s: %w", target, Explain(err))
		}
		for _, pol := range page.Policies {
			ids = append(ids, aws.ToString(pol.Id))
		}
	}
	return ids, nil
}

func (s *SCPs) describePolicy(ctx context.Context, id string) (inventory.Policy, error) {
	out, err := s.client.DescribePolicy(ctx, &organizations.DescribePolicyInput{PolicyId: aws.String(id)})
	if err != nil {
		return inventory.Policy{}, fmt.Errorf("read service control policy %s: %w", id, Explain(err))
	}
	sum := out.Policy.PolicySummary
	return inventory.Policy{Name: aws.ToString(sum.Name), ARN: aws.ToString(sum.Arn), Document: aws.ToString(out.Policy.Content)}, nil
}

// memo reads each key at most once at a time and keeps what it read: a
// read that failed is tried again by the next caller.
type memo[V any] struct {
	mu      sync.Mutex
	entries map[string]*memoEntry[V]
}

type memoEntry[V any] struct {
	done chan struct{}
	v    V
	err  error
}

func (m *memo[V]) get(ctx context.Context, key string, read func(context.Context, string) (V, error)) (V, error) {
	m.mu.Lock()
	if m.entries == nil {
		m.entries = map[string]*memoEntry[V]{}
	}
	e, ok := m.entries[key]
	if !ok {
		e = &memoEntry[V]{done: make(chan struct{})}
		m.entries[key] = e
	}
	m.mu.Unlock()
	if !ok {
		e.v, e.err = read(ctx, key)
		if e.err != nil {
			m.mu.Lock()
			delete(m.entries, key)
			m.mu.Unlock()
		}
		close(e.done)
	}
	select {
	case <-e.done:
		return e.v, e.err
	case <-ctx.Done():
		var zero V
		return zero, ctx.Err()
	}
}
