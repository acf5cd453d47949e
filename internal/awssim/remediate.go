package awssim

// The reads keyaudit apply makes before it changes anything, so that its
// dry run works against the simulated organization (the demo). The
// simulation holds no user tags: no user is exempt.

type listUserTagsResult struct {
	Tags        []struct{} `xml:"Tags>member"`
	IsTruncated bool
}

func (s *Server) listUserTags(r *request) (any, error) {
	if name := r.form.Get("UserName"); r.account.users[name] == nil {
		return nil, noSuchUser(name)
	}
	return listUserTagsResult{}, nil
}

type listAttachedUserPoliciesResult struct {
	AttachedPolicies []attachedPolicy `xml:"AttachedPolicies>member"`
	IsTruncated      bool
}

func (s *Server) listAttachedUserPolicies(r *request) (any, error) {
	u := r.account.users[r.form.Get("UserName")]
	if u == nil {
		return nil, noSuchUser(r.form.Get("UserName"))
	}
	return listAttachedUserPoliciesResult{AttachedPolicies: attached(u.Attached)}, nil
}
