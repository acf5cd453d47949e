package awssim

import (
	"net/http"
	"slices"
	"sort"
)

// The per-user reads of the real-time path (audit.CollectUser): one user's
// console access, MFA and policies, from the world's data, answering
// NoSuchEntity as IAM does. Lists are answered in one page.

// namedUser is the user a per-user call names: UserName, or the caller
// when it is an IAM user.
func (s *Server) namedUser(r *request) (int, *User, error) {
	name := r.form.Get("UserName")
	if name == "" && r.caller.user != nil {
		name = r.caller.user.Name
	}
	i := slices.IndexFunc(r.account.Users, func(u User) bool { return u.Name == name })
	if i < 0 {
		return 0, nil, noSuchUser(name)
	}
	return i, &r.account.Users[i], nil
}

// group is the account's group a call names.
func (r *request) group() (*Group, error) {
	name := r.form.Get("GroupName")
	i := slices.IndexFunc(r.account.Groups, func(g Group) bool { return g.Name == name })
	if i < 0 {
		return nil, newError(http.StatusNotFound, "NoSuchEntity", "The group with name %s cannot be found.", name)
	}
	return &r.account.Groups[i], nil
}

type getUserResult struct {
	User struct {
		iamUser
		PermissionsBoundary *permissionsBoundary `xml:",omitempty"`
	}
}

func (s *Server) getUser(r *request) (any, error) {
	i, u, err := s.namedUser(r)
	if err != nil {
		return nil, err
	}
	var out getUserResult
	out.User.iamUser = iamUser{Path: u.Path, UserName: u.Name, UserID: KeyID("AIDA", r.account.ID, i+1),
		Arn: userARN(r.account.ID, u), CreateDate: isoTime(s.at(u.CreatedDaysAgo))}
	if t := s.atOrNever(u.PasswordLastUsedDaysAgo); u.Password && !t.IsZero() {
		out.User.PasswordLastUsed = isoTime(t)
	}
	if u.Boundary != "" {
		out.User.PermissionsBoundary = &permissionsBoundary{PermissionsBoundaryType: "PermissionsBoundaryPolicy", PermissionsBoundaryArn: u.Boundary}
	}
	return out, nil
}

type getLoginProfileResult struct {
	LoginProfile struct {
		UserName              string
		CreateDate            string
		PasswordResetRequired bool
	}
}

func (s *Server) getLoginProfile(r *request) (any, error) {
	_, u, err := s.namedUser(r)
	if err != nil {
		return nil, err
	}
	if !u.Password {
		return nil, newError(http.StatusNotFound, "NoSuchEntity", "Login Profile for User %s cannot be found.", u.Name)
	}
	var out getLoginProfileResult
	out.LoginProfile.UserName, out.LoginProfile.CreateDate = u.Name, isoTime(s.at(u.CreatedDaysAgo))
	return out, nil
}

type mfaDevice struct {
	UserName     string
	SerialNumber string
	EnableDate   string
}

type listMFADevicesResult struct {
	MFADevices  []mfaDevice `xml:"MFADevices>member"`
	IsTruncated bool
}

func (s *Server) listMFADevices(r *request) (any, error) {
	_, u, err := s.namedUser(r)
	if err != nil {
		return nil, err
	}
	var out listMFADevicesResult
	if u.MFA {
		out.MFADevices = []mfaDevice{{UserName: u.Name, SerialNumber: "arn:aws:iam::" + r.account.ID + ":mfa/" + u.Name, EnableDate: isoTime(s.at(u.CreatedDaysAgo))}}
	}
	return out, nil
}

type policyNamesResult struct {
	PolicyNames []string `xml:"PolicyNames>member"`
	IsTruncated bool
}

// names are an inline policy map's names, sorted.
func names(docs map[string]string) []string {
	out := make([]string, 0, len(docs))
	for n := range docs {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func (s *Server) listUserPolicies(r *request) (any, error) {
	_, u, err := s.namedUser(r)
	if err != nil {
		return nil, err
	}
	return policyNamesResult{PolicyNames: names(u.Inline)}, nil
}

type getUserPolicyResult struct {
	UserName       string
	PolicyName     string
	PolicyDocument string
}

func (s *Server) getUserPolicy(r *request) (any, error) {
	_, u, err := s.namedUser(r)
	if err != nil {
		return nil, err
	}
	name := r.form.Get("PolicyName")
	doc, ok := u.Inline[name]
	if !ok {
		return nil, newError(http.StatusNotFound, "NoSuchEntity", "The user policy with name %s cannot be found.", name)
	}
	return getUserPolicyResult{UserName: u.Name, PolicyName: name, PolicyDocument: encodeDocument(doc)}, nil
}

type iamGroup struct {
	Path       string
	GroupName  string
	GroupID    string `xml:"GroupId"`
	Arn        string
	CreateDate string
}

type listGroupsForUserResult struct {
	Groups      []iamGroup `xml:"Groups>member"`
	IsTruncated bool
}

func (s *Server) listGroupsForUser(r *request) (any, error) {
	_, u, err := s.namedUser(r)
	if err != nil {
		return nil, err
	}
	var out listGroupsForUserResult
	for _, name := range u.Groups {
		i := slices.IndexFunc(r.account.Groups, func(g Group) bool { return g.Name == name })
		out.Groups = append(out.Groups, iamGroup{Path: "/", GroupName: name, GroupID: KeyID("AGPA", r.account.ID, i+1),
			Arn: "arn:aws:iam::" + r.account.ID + ":group/" + name, CreateDate: isoTime(s.at(r.account.CreatedDaysAgo))})
	}
	return out, nil
}

type listAttachedGroupPoliciesResult struct {
	AttachedPolicies []attachedPolicy `xml:"AttachedPolicies>member"`
	IsTruncated      bool
}

func (s *Server) listAttachedGroupPolicies(r *request) (any, error) {
	g, err := r.group()
	if err != nil {
		return nil, err
	}
	return listAttachedGroupPoliciesResult{AttachedPolicies: attached(g.Attached)}, nil
}

func (s *Server) listGroupPolicies(r *request) (any, error) {
	g, err := r.group()
	if err != nil {
		return nil, err
	}
	return policyNamesResult{PolicyNames: names(g.Inline)}, nil
}

type getGroupPolicyResult struct {
	GroupName      string
	PolicyName     string
	PolicyDocument string
}

func (s *Server) getGroupPolicy(r *request) (any, error) {
	g, err := r.group()
	if err != nil {
		return nil, err
	}
	name := r.form.Get("PolicyName")
	doc, ok := g.Inline[name]
	if !ok {
		return nil, newError(http.StatusNotFound, "NoSuchEntity", "The group policy with name %s cannot be found.", name)
	}
	return getGroupPolicyResult{GroupName: g.Name, PolicyName: name, PolicyDocument: encodeDocument(doc)}, nil
}
