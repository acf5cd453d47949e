package audit

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"
	"github.com/keyaudit/keyaudit/audit/inventory"
)

// Target is an account the run was asked to audit.
type Target struct {
	AccountID string
	Name      string // from Organizations, when known
}

// ParseAccountList reads a comma-separated list of account IDs, as given to
// --accounts or --exclude-accounts; where names the flag in errors.
func ParseAccountList(where, list string) ([]string, error) {
	var ids []string
	for _, f := range strings.Split(list, ",") {
		id := strings.TrimSpace(f)
		if id == "" {
			continue
		}
		if !inventory.ValidAccountID(id) {
			return nil, fmt.Errorf("%s: %q is not an AWS account ID (12 digits)", where, id)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// ReadAccountsFile reads account IDs one per line; blank lines and text after
// # are ignored. An optional name may follow the ID after white space.
func ReadAccountsFile(name string, r io.Reader) ([]Target, error) {
	var out []Target
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		text, _, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(text)
		if len(fields) == 0 {
			continue
		}
		if !inventory.ValidAccountID(fields[0]) {
			return nil, fmt.Errorf("%s:%d: %q is not an AWS account ID (12 digits)", name, line, fields[0])
		}
		out = append(out, Target{AccountID: fields[0], Name: strings.Join(fields[1:], " ")})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return out, nil
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
