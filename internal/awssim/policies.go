package awssim

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// The IAM policy reads keyaudit's ranking makes: GetAccountAuthorizationDetails
// (users, groups, customer-managed policies) and, for an AWS-managed policy,
// GetPolicy and GetPolicyVersion.

type attachedPolicy struct {
	PolicyName string
	PolicyArn  string
}

type inlinePolicy struct {
	PolicyName     string
	PolicyDocument string
}

type permissionsBoundary struct {
	PermissionsBoundaryType string
	PermissionsBoundaryArn  string
}

type userDetail struct {
	Path                    string
	UserName                string
	UserID                  string `xml:"UserId"`
	Arn                     string
	CreateDate              string
	UserPolicyList          []inlinePolicy       `xml:"UserPolicyList>member"`
	GroupList               []string             `xml:"GroupList>member"`
	AttachedManagedPolicies []attachedPolicy     `xml:"AttachedManagedPolicies>member"`
	PermissionsBoundary     *permissionsBoundary `xml:",omitempty"`
}

type groupDetail struct {
	Path                    string
	GroupName               string
	GroupID                 string `xml:"GroupId"`
	Arn                     string
	CreateDate              string
	GroupPolicyList         []inlinePolicy   `xml:"GroupPolicyList>member"`
	AttachedManagedPolicies []attachedPolicy `xml:"AttachedManagedPolicies>member"`
}

type policyVersion struct {
	Document         string
	VersionID        string `xml:"VersionId"`
	IsDefaultVersion bool
	CreateDate       string
}

type policyDetail struct {
	PolicyName        string
	PolicyID          string `xml:"PolicyId"`
	Arn               string
	Path              string
	DefaultVersionID  string `xml:"DefaultVersionId"`
	AttachmentCount   int
	IsAttachable      bool
	CreateDate        string
	UpdateDate        string
	PolicyVersionList []policyVersion `xml:"PolicyVersionList>member"`
}

type getAccountAuthorizationDetailsResult struct {
	UserDetailList  []userDetail   `xml:"UserDetailList>member"`
	GroupDetailList []groupDetail  `xml:"GroupDetailList>member"`
	Policies        []policyDetail `xml:"Policies>member"`
	IsTruncated     bool
	Marker          string `xml:",omitempty"`
}

// encodeDocument URL-encodes a policy document as IAM returns it.
func encodeDocument(doc string) string {
	return strings.ReplaceAll(url.QueryEscape(doc), "+", "%20")
}

func policyARN(account, name string) string { return "arn:aws:iam::" + account + ":policy/" + name }

func attached(arns []string) []attachedPolicy {
	out := make([]attachedPolicy, len(arns))
	for i, arn := range arns {
		out[i] = attachedPolicy{PolicyName: arn[strings.LastIndex(arn, "/")+1:], PolicyArn: arn}
	}
	return out
}

func inline(docs map[string]string) []inlinePolicy {
	names := names(docs)
	out := make([]inlinePolicy, len(names))
	for i, n := range names {
		out[i] = inlinePolicy{PolicyName: n, PolicyDocument: encodeDocument(docs[n])}
	}
	return out
}

// getAccountAuthorizationDetails pages over users, then groups, then
// customer-managed policies, each kept only when Filter names its kind
// (no Filter: all; AWSManagedPolicy and Role are not simulated).
func (s *Server) getAccountAuthorizationDetails(r *request) (any, error) {
	size, err := s.maxItems(r)
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for i := 1; r.form.Get("Filter.member."+strconv.Itoa(i)) != ""; i++ {
		want[r.form.Get("Filter.member."+strconv.Itoa(i))] = true
	}
	all := len(want) == 0
	a := r.account
	type entry struct {
		user   *userDetail
		group  *groupDetail
		policy *policyDetail
	}
	var entries []entry
	if all || want["User"] {
		for i := range a.Users {
			u := &a.Users[i]
			d := &userDetail{Path: u.Path, UserName: u.Name, UserID: KeyID("AIDA", a.ID, i+1), Arn: userARN(a.ID, u),
				CreateDate: isoTime(s.at(u.CreatedDaysAgo)), UserPolicyList: inline(u.Inline), GroupList: u.Groups,
				AttachedManagedPolicies: attached(u.Attached)}
			if u.Boundary != "" {
				d.PermissionsBoundary = &permissionsBoundary{PermissionsBoundaryType: "PermissionsBoundaryPolicy", PermissionsBoundaryArn: u.Boundary}
			}
			entries = append(entries, entry{user: d})
		}
	}
	if all || want["Group"] {
		for i, g := range a.Groups {
			entries = append(entries, entry{group: &groupDetail{Path: "/", GroupName: g.Name, GroupID: KeyID("AGPA", a.ID, i+1),
				Arn: "arn:aws:iam::" + a.ID + ":group/" + g.Name, CreateDate: isoTime(s.at(a.CreatedDaysAgo)),
				GroupPolicyList: inline(g.Inline), AttachedManagedPolicies: attached(g.Attached)}})
		}
	}
	if all || want["LocalManagedPolicy"] {
		for i := range a.Policies {
			d := s.localPolicy(a, i)
			entries = append(entries, entry{policy: &d})
		}
	}
	page, next, ok := paginate(entries, r.form.Get("Marker"), size)
	if !ok {
		return nil, validationError(r.op, "Invalid Marker.")
	}
	out := getAccountAuthorizationDetailsResult{IsTruncated: next != "", Marker: next}
	for _, e := range page {
		switch {
		case e.user != nil:
			out.UserDetailList = append(out.UserDetailList, *e.user)
		case e.group != nil:
			out.GroupDetailList = append(out.GroupDetailList, *e.group)
		default:
			out.Policies = append(out.Policies, *e.policy)
		}
	}
	return out, nil
}

func (s *Server) localPolicy(a *account, i int) policyDetail {
	p := a.Policies[i]
	arn := policyARN(a.ID, p.Name)
	count := 0
	for _, u := range a.Users {
		if slices.Contains(u.Attached, arn) || u.Boundary == arn {
			count++
		}
	}
	for _, g := range a.Groups {
		if slices.Contains(g.Attached, arn) {
			count++
		}
	}
	created := isoTime(s.at(a.CreatedDaysAgo))
	return policyDetail{PolicyName: p.Name, PolicyID: KeyID("ANPA", a.ID, i+1), Arn: arn, Path: "/", DefaultVersionID: "v1",
		AttachmentCount: count, IsAttachable: true, CreateDate: created, UpdateDate: created,
		PolicyVersionList: []policyVersion{{Document: encodeDocument(p.Document), VersionID: "v1", IsDefaultVersion: true, CreateDate: created}}}
}

type getPolicyResult struct {
	Policy policyDetail
}

type getPolicyVersionResult struct {
	PolicyVersion policyVersion
}

// policy finds a policy by ARN: the account's own, or an AWS-managed one.
func (s *Server) policy(r *request) (policyDetail, *apiError) {
	arn := r.form.Get("PolicyArn")
	for i, p := range r.account.Policies {
		if policyARN(r.account.ID, p.Name) == arn {
			return s.localPolicy(r.account, i), nil
		}
	}
	if doc, ok := s.world.AWSPolicies[arn]; ok {
		name := arn[strings.LastIndex(arn, "/")+1:]
		created := isoTime(s.at(3000)) // AWS-managed policies predate every account
		return policyDetail{PolicyName: name, PolicyID: uuid("policy/" + arn), Arn: arn, Path: "/", DefaultVersionID: "v3", IsAttachable: true,
			CreateDate: created, UpdateDate: created,
			PolicyVersionList: []policyVersion{{Document: encodeDocument(doc), VersionID: "v3", IsDefaultVersion: true, CreateDate: created}}}, nil
	}
	return policyDetail{}, newError(http.StatusNotFound, "NoSuchEntity", "Policy %s does not exist or is not attachable.", arn)
}

func (s *Server) getPolicy(r *request) (any, error) {
	p, err := s.policy(r)
	if err != nil {
		return nil, err
	}
	p.PolicyVersionList = nil // GetPolicy does not return documents
	return getPolicyResult{Policy: p}, nil
}

func (s *Server) getPolicyVersion(r *request) (any, error) {
	p, err := s.policy(r)
	if err != nil {
		return nil, err
	}
	v := p.PolicyVersionList[0]
	if r.form.Get("VersionId") != v.VersionID {
		return nil, newError(http.StatusNotFound, "NoSuchEntity", "Policy %s version %s does not exist or is not attachable.", p.Arn, r.form.Get("VersionId"))
	}
	return getPolicyVersionResult{PolicyVersion: v}, nil
}
