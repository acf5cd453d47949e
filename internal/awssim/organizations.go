package awssim

import (
	"encoding/json"
	"net/http"
	"strings"
)

type orgAccount struct {
	Arn             string  `json:"Arn"`
	Email           string  `json:"Email"`
	ID              string  `json:"Id"`
	JoinedMethod    string  `json:"JoinedMethod"`
	JoinedTimestamp float64 `json:"JoinedTimestamp"`
	Name            string  `json:"Name"`
	Status          string  `json:"Status"` // deprecated by State, still sent
	State           string  `json:"State"`
}

type listAccountsOutput struct {
	Accounts  []orgAccount `json:"Accounts"`
	NextToken string       `json:"NextToken,omitempty"`
}

func (s *Server) listAccounts(r *request) (any, error) {
	mgmt := s.world.Management()
	switch {
	case mgmt == nil:
		return nil, newError(http.StatusBadRequest, "AWSOrganizationsNotInUseException", "Your account is not a member of an organization.")
	case r.account.ID != mgmt.ID:
		return nil, newError(http.StatusBadRequest, "AccessDeniedException", "You don't have permissions to access this resource.")
	}
	var in struct {
		MaxResults *int   `json:"MaxResults"`
		NextToken  string `json:"NextToken"`
	}
	if err := json.Unmarshal(r.body, &in); err != nil {
		return nil, invalidInput("The request body is not valid JSON.")
	}
	size := 20
	if in.MaxResults != nil {
		if size = *in.MaxResults; size < 1 || size > 20 {
			return nil, invalidInput("You specified an invalid value for MaxResults: it must be between 1 and 20.")
		}
	}
	// The token holds the offset, the empty pages served so far, and
	// whether the last page was one of them.
	offset, empties, afterEmpty := 0, 0, 0
	if in.NextToken != "" {
		pos, ok := parsePageToken(in.NextToken, 3)
		if !ok || pos[0] > len(s.world.Accounts) {
			return nil, invalidInput("You specified an invalid value for nextToken.")
		}
		offset, empties, afterEmpty = pos[0], pos[1], pos[2]
		if s.listFailsAfter > 0 && offset >= s.listFailsAfter {
			return nil, invalidInput("You specified an invalid value for nextToken.")
		}
	}
	// Organizations can answer an empty page that still carries a
	// NextToken; a client that stops at the first empty page misses
	// accounts. Empty pages come between real ones, and the rest at the end.
	total, left := len(s.world.Accounts), s.emptyPages-empties
	switch {
	case offset == total && offset > 0:
		out := listAccountsOutput{Accounts: []orgAccount{}}
		if left > 1 {
			out.NextToken = pageToken(offset, empties+1, 1)
		}
		return out, nil
	case offset > 0 && afterEmpty == 0 && left > 0:
		return listAccountsOutput{Accounts: []orgAccount{}, NextToken: pageToken(offset, empties+1, 1)}, nil
	}
	end := min(offset+size, total)
	out := listAccountsOutput{Accounts: []orgAccount{}}
	org := "o-" + strings.ReplaceAll(uuid("org/"+mgmt.ID), "-", "")[:10]
	for _, a := range s.world.Accounts[offset:end] {
		out.Accounts = append(out.Accounts, orgAccount{
			Arn:             "arn:aws:organizations::" + mgmt.ID + ":account/" + org + "/" + a.ID,
			Email:           a.Email,
			ID:              a.ID,
			JoinedMethod:    "CREATED",
			JoinedTimestamp: epochSeconds(s.at(a.CreatedDaysAgo)),
			Name:            a.Name,
			Status:          a.State,
			State:           a.State,
		})
	}
	if end < total || left > 0 {
		out.NextToken = pageToken(end, empties, 0)
	}
	return out, nil
}

func invalidInput(msg string) *apiError {
	return newError(http.StatusBadRequest, "InvalidInputException", "%s", msg)
}
