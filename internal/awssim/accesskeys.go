package awssim

import (
	"net/http"
	"slices"
)

// keyMutations are the calls that change the world's keys: they run alone
// (Server.state).
var keyMutations = map[string]bool{"iam:CreateAccessKey": true, "iam:UpdateAccessKey": true, "iam:DeleteAccessKey": true}

// index records the keys of the account's user u.
func (s *Server) index(a *account, u int) {
	for k := range a.Users[u].Keys {
		s.keys[a.Users[u].Keys[k].ID] = keyRef{account: a, user: u, key: &a.Users[u].Keys[k]}
	}
}

// reindex records the keys of user u after they changed: appending or
// deleting moves them in memory, and a deleted key is forgotten. It reads
// every key of the world, so NewServer indexes each user once instead:
// through reindex, a world of 10,000 accounts took longer to build than
// to audit.
func (s *Server) reindex(a *account, u int) {
	for id, ref := range s.keys {
		if ref.account == a && ref.user == u {
			delete(s.keys, id)
		}
	}
	s.index(a, u)
}

// keyOwner is the user a key call names: UserName, or the caller when it
// is an IAM user. Calls on the root user's own keys are not served.
func (s *Server) keyOwner(r *request) (int, error) {
	name := r.form.Get("UserName")
	if name == "" && r.caller.user != nil {
		name = r.caller.user.Name
	}
	if name == "" {
		return 0, validationError(r.op, "Must specify userName when calling with non-User credentials")
	}
	i := slices.IndexFunc(r.account.Users, func(u User) bool { return u.Name == name })
	if i < 0 {
		return 0, noSuchUser(name)
	}
	return i, nil
}

type accessKey struct {
	UserName        string
	AccessKeyID     string `xml:"AccessKeyId"`
	Status          string
	SecretAccessKey string
	CreateDate      string
}

type createAccessKeyResult struct {
	AccessKey accessKey
}

// createAccessKey creates an active key at the server's clock; a user
// holds two at most.
func (s *Server) createAccessKey(r *request) (any, error) {
	u, err := s.keyOwner(r)
	if err != nil {
		return nil, err
	}
	user := &r.account.Users[u]
	if len(user.Keys) >= 2 {
		return nil, newError(http.StatusConflict, "LimitExceeded", "Cannot exceed quota for AccessKeysPerUser: 2")
	}
	s.mu.Lock()
	s.issued++
	id := KeyID("AKIA", r.account.ID, 1<<30+s.issued) // clear of the world's own
	s.mu.Unlock()
	now := s.now()
	user.Keys = append(user.Keys, Key{ID: id, Status: "Active", CreatedDaysAgo: s.daysAgo(now)})
	s.reindex(r.account, u)
	return createAccessKeyResult{AccessKey: accessKey{UserName: user.Name, AccessKeyID: id, Status: "Active",
		SecretAccessKey: fakeSecret(id), CreateDate: isoTime(s.at(s.daysAgo(now)))}}, nil
}

// userKey finds the key a call names among its user's keys.
func (s *Server) userKey(r *request) (int, int, error) {
	u, err := s.keyOwner(r)
	if err != nil {
		return 0, 0, err
	}
	id := r.form.Get("AccessKeyId")
	k := slices.IndexFunc(r.account.Users[u].Keys, func(k Key) bool { return k.ID == id })
	if k < 0 {
		return 0, 0, newError(http.StatusNotFound, "NoSuchEntity", "The Access Key with id %s cannot be found.", id)
	}
	return u, k, nil
}

func (s *Server) updateAccessKey(r *request) (any, error) {
	u, k, err := s.userKey(r)
	if err != nil {
		return nil, err
	}
	status := r.form.Get("Status")
	if status != "Active" && status != "Inactive" {
		return nil, validationError(r.op, "1 validation error detected: Value '%s' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [Active, Inactive]", status)
	}
	key := &r.account.Users[u].Keys[k]
	if key.Status == "Inactive" && status == "Active" {
		again := s.daysAgo(s.now())
		key.ReactivatedDaysAgo = &again
	}
	key.Status = status
	return struct{}{}, nil
}

func (s *Server) deleteAccessKey(r *request) (any, error) {
	u, k, err := s.userKey(r)
	if err != nil {
		return nil, err
	}
	r.account.Users[u].Keys = slices.Delete(r.account.Users[u].Keys, k, k+1)
	s.reindex(r.account, u)
	return struct{}{}, nil
}
