package awssim

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"
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
				if err != nil {
					t.Fatal(err)
				}
				pages++
				if len(page.Accounts) == 0 {
					empty++
				}
				got = append(got, page.Accounts...)
			}
			if pages != tt.wantPages || empty != tt.wantEmpty {
				t.Errorf("%d pages, %d empty; want %d pages, %d empty", pages, empty, tt.wantPages, tt.wantEmpty)
			}
			if len(got) != len(w.Accounts) {
				t.Fatalf("%d accounts, want %d", len(got), len(w.Accounts))
			}
			for i, a := range got {
				want := w.Accounts[i]
				if aws.ToString(a.Id) != want.ID || aws.ToString(a.Name) != want.Name || string(a.State) != want.State ||
					!strings.HasPrefix(aws.ToString(a.Arn), "arn:aws:organizations::111111111111:account/o-") {
					t.Errorf("account %d = %s %s %s %s, want %s %s %s", i, aws.ToString(a.Id), aws.ToString(a.Name), a.State, aws.ToString(a.Arn), want.ID, want.Name, want.State)
				}
			}
			if got[5].State != orgtypes.AccountStateSuspended || got[5].Status != orgtypes.AccountStatusSuspended {
				t.Errorf("suspended account: State %s, Status %s", got[5].State, got[5].Status)
			}
		})
	}
}

func TestListAccountsOutsideManagement(t *testing.T) {
	srv, _ := startSmall(t)
	_, err := organizations.NewFromConfig(sdkConfig(t, srv, normalID, "us-east-1")).ListAccounts(context.Background(), &organizations.ListAccountsInput{})
	var denied *orgtypes.AccessDeniedException
	if !errors.As(err, &denied) {
		t.Fatalf("ListAccounts from a member: error = %v, want AccessDeniedException", err)
	}
	wantAPIError(t, err, "AccessDeniedException", "You don't have permissions")

	standalone := &World{Accounts: []Account{{ID: "123456789012", Name: "standalone"}}}
	alone := NewServer(standalone, WithClock(fixedNow))
	t.Cleanup(alone.Close)
	_, err = organizations.NewFromConfig(sdkConfig(t, alone, "123456789012", "us-east-1")).ListAccounts(context.Background(), &organizations.ListAccountsInput{})
	var notInUse *orgtypes.AWSOrganizationsNotInUseException
	if !errors.As(err, &notInUse) {
		t.Fatalf("ListAccounts outside an organization: error = %v, want AWSOrganizationsNotInUseException", err)
	}
}
