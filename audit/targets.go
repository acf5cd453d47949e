package audit

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"
)

// Target is an account the run was asked to audit.
type Target struct {
	AccountID string
	Name      string // from Organizations, when known
}

// OrgListing lists the organization's active accounts a page at a time
// (ListAccounts returns at most 20 a call), so that their audit can start
// before the last page. It must run with the management account's (or a
// delegated administrator's) credentials.
type OrgListing struct {
	pages *organizations.ListAccountsPaginator
}

// ListOrg starts listing the organization's accounts.
func ListOrg(client organizations.ListAccountsAPIClient) *OrgListing {
	return &OrgListing{pages: organizations.NewListAccountsPaginator(client, &organizations.ListAccountsInput{})}
}

// More reports whether pages are left. The paginator follows NextToken
// until it is empty: Organizations can return empty pages that still
// carry a token.
func (l *OrgListing) More() bool {
	return l.pages.HasMorePages()
}

// Next returns the active accounts of the next page. After an error the
// same page can be asked for again.
func (l *OrgListing) Next(ctx context.Context) ([]Target, error) {
	page, err := l.pages.NextPage(ctx)
	if err != nil {
		return nil, fmt.Errorf("list the organization's accounts: %w", Explain(err))
	}
	var out []Target
	for _, a := range page.Accounts {
		// State supersedes the deprecated Status; suspended and closing
		// accounts have no IAM to audit.
		if a.State != orgtypes.AccountStateActive {
			continue
		}
		out = append(out, Target{AccountID: aws.ToString(a.Id), Name: aws.ToString(a.Name)})
	}
	return out, nil
}

// Exclude returns the targets whose account is not in ids.
func Exclude(targets []Target, ids []string) []Target {
	drop := make(map[string]bool, len(ids))
	for _, id := range ids {
		drop[id] = true
	}
	out := make([]Target, 0, len(targets))
	for _, t := range targets {
		if !drop[t.AccountID] {
			out = append(out, t)
		}
	}
	return out
}
