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
	mgmt, err := s.manager(r)
	if err != nil {
		return nil, err
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
	for i := range s.world.Accounts[offset:end] {
		out.Accounts = append(out.Accounts, s.orgAccount(mgmt, &s.world.Accounts[offset+i]))
	}
	if end < total || left > 0 {
		out.NextToken = pageToken(end, empties, 0)
	}
	return out, nil
}

// orgAccount is a as Organizations describes it.
func (s *Server) orgAccount(mgmt, a *Account) orgAccount {
	return orgAccount{
		Arn:             "arn:aws:organizations::" + mgmt.ID + ":account/" + orgID(mgmt) + "/" + a.ID,
		Email:           a.Email,
		ID:              a.ID,
		JoinedMethod:    "CREATED",
		JoinedTimestamp: epochSeconds(s.at(a.CreatedDaysAgo)),
		Name:            a.Name,
		Status:          a.State,
		State:           a.State,
	}
}

// describeAccount answers the management account about one account of
// the organization; any other is AccountNotFoundException.
func (s *Server) describeAccount(r *request) (any, error) {
	mgmt, err := s.manager(r)
	if err != nil {
		return nil, err
	}
	var in struct {
		AccountID string `json:"AccountId"`
	}
	if err := json.Unmarshal(r.body, &in); err != nil {
		return nil, invalidInput("The request body is not valid JSON.")
	}
	a, ok := s.accounts[in.AccountID]
	if !ok {
		return nil, newError(http.StatusBadRequest, "AccountNotFoundException", "You specified an account that doesn't exist.")
	}
	return struct {
		Account orgAccount `json:"Account"`
	}{s.orgAccount(mgmt, a.Account)}, nil
}

func invalidInput(msg string) *apiError {
	return newError(http.StatusBadRequest, "InvalidInputException", "%s", msg)
}

// manager returns the management account, or the error Organizations
// answers a caller that is not it.
func (s *Server) manager(r *request) (*Account, error) {
	mgmt := s.world.Management()
	switch {
	case mgmt == nil:
		return nil, notInUse()
	case r.account.ID != mgmt.ID:
		return nil, newError(http.StatusBadRequest, "AccessDeniedException", "You don't have permissions to access this resource.")
	}
	return mgmt, nil
}

func notInUse() *apiError {
	return newError(http.StatusBadRequest, "AWSOrganizationsNotInUseException", "Your account is not a member of an organization.")
}

// Organizations IDs, derived from names so that a world always has the
// same ones.
func orgID(mgmt *Account) string {
	return "o-" + strings.ReplaceAll(uuid("org/"+mgmt.ID), "-", "")[:10]
}

func (s *Server) rootID() string {
	return "r-" + strings.ReplaceAll(uuid("root/"+s.world.Management().ID), "-", "")[:4]
}

func (s *Server) unitID(name string) string {
	return "ou-" + s.rootID()[2:] + "-" + strings.ReplaceAll(uuid("ou/"+name), "-", "")[:8]
}

func scpID(name string) string {
	if name == "FullAWSAccess" {
		return "p-FullAWSAccess"
	}
	return "p-" + strings.ReplaceAll(uuid("scp/"+name), "-", "")[:8]
}

type orgOrganization struct {
	Arn                string `json:"Arn"`
	FeatureSet         string `json:"FeatureSet"`
	ID                 string `json:"Id"`
	MasterAccountArn   string `json:"MasterAccountArn"`
	MasterAccountEmail string `json:"MasterAccountEmail"`
	MasterAccountID    string `json:"MasterAccountId"`
}

// describeOrganization answers any account of the organization, as
// Organizations does.
func (s *Server) describeOrganization(r *request) (any, error) {
	mgmt := s.world.Management()
	if mgmt == nil {
		return nil, notInUse()
	}
	org := orgID(mgmt)
	return struct {
		Organization orgOrganization `json:"Organization"`
	}{orgOrganization{
		Arn:                "arn:aws:organizations::" + mgmt.ID + ":organization/" + org,
		FeatureSet:         "ALL",
		ID:                 org,
		MasterAccountArn:   "arn:aws:organizations::" + mgmt.ID + ":account/" + org + "/" + mgmt.ID,
		MasterAccountEmail: mgmt.Email,
		MasterAccountID:    mgmt.ID,
	}}, nil
}

type orgParent struct {
	ID   string `json:"Id"`
	Type string `json:"Type"`
}

func (s *Server) listParents(r *request) (any, error) {
	if _, err := s.manager(r); err != nil {
		return nil, err
	}
	var in struct {
		ChildID string `json:"ChildId"`
	}
	if err := json.Unmarshal(r.body, &in); err != nil {
		return nil, invalidInput("The request body is not valid JSON.")
	}
	parent := ""
	if a := s.world.Account(in.ChildID); a != nil {
		parent = a.Unit
	} else if u := s.unit(in.ChildID); u != nil {
		parent = u.Parent
	} else {
		return nil, newError(http.StatusBadRequest, "ChildNotFoundException", "We can't find an organizational unit (OU) or AWS account with the ChildId that you specified.")
	}
	p := orgParent{ID: s.rootID(), Type: "ROOT"}
	if parent != "" {
		p = orgParent{ID: s.unitID(parent), Type: "ORGANIZATIONAL_UNIT"}
	}
	return struct {
		Parents []orgParent `json:"Parents"`
	}{[]orgParent{p}}, nil
}

// unit returns the unit with the given ID, or nil.
func (s *Server) unit(id string) *Unit {
	for i := range s.world.Units {
		if s.unitID(s.world.Units[i].Name) == id {
			return &s.world.Units[i]
		}
	}
	return nil
}

type orgPolicySummary struct {
	Arn         string `json:"Arn"`
	AwsManaged  bool   `json:"AwsManaged"`
	Description string `json:"Description"`
	ID          string `json:"Id"`
	Name        string `json:"Name"`
	Type        string `json:"Type"`
}

func (s *Server) policySummary(name string) orgPolicySummary {
	id := scpID(name)
	arn := "arn:aws:organizations::" + s.world.Management().ID + ":policy/" + orgID(s.world.Management()) + "/service_control_policy/" + id
	if id == "p-FullAWSAccess" {
		arn = "arn:aws:organizations::aws:policy/service_control_policy/p-FullAWSAccess"
	}
	return orgPolicySummary{Arn: arn, AwsManaged: id == "p-FullAWSAccess", ID: id, Name: name, Type: "SERVICE_CONTROL_POLICY"}
}

func (s *Server) listPoliciesForTarget(r *request) (any, error) {
	if _, err := s.manager(r); err != nil {
		return nil, err
	}
	var in struct {
		TargetID string `json:"TargetId"`
		Filter   string `json:"Filter"`
	}
	if err := json.Unmarshal(r.body, &in); err != nil {
		return nil, invalidInput("The request body is not valid JSON.")
	}
	var names []string
	switch a, u := s.world.Account(in.TargetID), s.unit(in.TargetID); {
	case in.TargetID == s.rootID():
		names = s.world.RootSCPs
	case a != nil:
		names = a.SCPs
	case u != nil:
		names = u.SCPs
	default:
		return nil, newError(http.StatusBadRequest, "TargetNotFoundException", "We can't find a root, OU, account, or email that you specified.")
	}
	out := []orgPolicySummary{}
	if in.Filter == "SERVICE_CONTROL_POLICY" {
		for _, n := range names {
			out = append(out, s.policySummary(n))
		}
	}
	return struct {
		Policies []orgPolicySummary `json:"Policies"`
	}{out}, nil
}

type orgPolicy struct {
	Content       string           `json:"Content"`
	PolicySummary orgPolicySummary `json:"PolicySummary"`
}

func (s *Server) describePolicy(r *request) (any, error) {
	if _, err := s.manager(r); err != nil {
		return nil, err
	}
	var in struct {
		PolicyID string `json:"PolicyId"`
	}
	if err := json.Unmarshal(r.body, &in); err != nil {
		return nil, invalidInput("The request body is not valid JSON.")
	}
	for _, p := range s.world.SCPs {
		if scpID(p.Name) == in.PolicyID {
			return struct {
				Policy orgPolicy `json:"Policy"`
			}{orgPolicy{Content: p.Document, PolicySummary: s.policySummary(p.Name)}}, nil
		}
	}
	return nil, newError(http.StatusBadRequest, "PolicyNotFoundException", "We can't find a policy with the PolicyId that you specified.")
}
