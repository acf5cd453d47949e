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
