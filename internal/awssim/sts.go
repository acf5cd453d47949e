package awssim

import (
	"regexp"
	"slices"
	"strconv"
	"time"
)

var (
	roleARNPattern     = regexp.MustCompile(`^arn:aws:iam::(\d{12}):role(/(?:[\x21-\x7E]*/)?)([\w+=,.@-]{1,64})$`)
	sessionNamePattern = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)
)

type getCallerIdentityResult struct {
	Arn     string
	UserID  string `xml:"UserId"`
	Account string
}

func (s *Server) getCallerIdentity(r *request) (any, error) {
	return getCallerIdentityResult{Arn: r.caller.arn, UserID: r.caller.userID, Account: r.caller.account}, nil
}

type assumeRoleResult struct {
	Credentials struct {
		AccessKeyID     string `xml:"AccessKeyId"`
		SecretAccessKey string
		SessionToken    string
		Expiration      string
	}
	AssumedRoleUser struct {
		AssumedRoleID string `xml:"AssumedRoleId"`
		Arn           string
	}
}

func (s *Server) assumeRole(r *request) (any, error) {
	roleARN, sessionName := r.form.Get("RoleArn"), r.form.Get("RoleSessionName")
	m := roleARNPattern.FindStringSubmatch(roleARN)
	if m == nil {
		return nil, validationError(r.op, "%s is invalid", roleARN)
	}
	if !sessionNamePattern.MatchString(sessionName) {
		return nil, validationError(r.op, "1 validation error detected: Value '%s' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*", sessionName)
	}
	duration := 3600
	if v := r.form.Get("DurationSeconds"); v != "" {
		var err error
		if duration, err = strconv.Atoi(v); err != nil || duration < 900 || duration > 43200 {
			return nil, validationError(r.op, "1 validation error detected: Value '%s' at 'durationSeconds' failed to satisfy constraint: Member must have value between 900 and 43200", v)
		}
	}
	switch {
	case duration > 3600 && r.caller.chained:
		return nil, validationError(r.op, "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.")
	case duration > 3600:
		return nil, validationError(r.op, "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
	}

	// A role that does not exist, does not trust the caller or expects
	// another external ID: AWS answers all three alike.
	denied := accessDenied(r.op, r.caller.arn, "sts:AssumeRole", roleARN, "")
	target := s.accounts[m[1]]
	if target == nil || target.State != "ACTIVE" {
		return nil, denied
	}
	roleIndex := slices.IndexFunc(target.Roles, func(role Role) bool { return role.Name == m[3] && role.Path == m[2] })
	if roleIndex < 0 {
		return nil, denied
	}
	role := target.Roles[roleIndex]
	trusted := slices.ContainsFunc(role.Trust, func(p string) bool {
		return p == r.caller.account || p == "arn:aws:iam::"+r.caller.account+":root" || p == r.caller.trustARN
	})
	if !trusted || r.form.Get("ExternalId") != role.ExternalID {
		return nil, denied
	}

	p := rolePrincipal(target.ID, KeyID("AROA", target.ID, roleIndex+1), role.Name, role.Path, sessionName)
	s.mu.Lock()
	s.issued++
	akid := KeyID("ASIA", target.ID, s.issued)
	sess := &session{principal: p, secret: fakeSecret(akid), token: fakeToken(akid),
		expires: time.Now().Add(time.Duration(duration) * time.Second).Truncate(time.Second)}
	s.sessions[akid] = sess
	s.mu.Unlock()

	var out assumeRoleResult
	out.Credentials.AccessKeyID = akid
	out.Credentials.SecretAccessKey = sess.secret
	out.Credentials.SessionToken = sess.token
	out.Credentials.Expiration = isoTime(sess.expires)
	out.AssumedRoleUser.AssumedRoleID = p.userID
	out.AssumedRoleUser.Arn = p.arn
	return out, nil
}

type getAccessKeyInfoResult struct {
	Account string
}

// getAccessKeyInfo names the owner of any key in the world, and decodes the
// owner of any other from the ID, as STS does for keys it has never seen.
func (s *Server) getAccessKeyInfo(r *request) (any, error) {
	id := r.form.Get("AccessKeyId")
	if ref, ok := s.keys[id]; ok {
		return getAccessKeyInfoResult{Account: ref.account.ID}, nil
	}
	s.mu.Lock()
	sess := s.sessions[id]
	s.mu.Unlock()
	if sess != nil {
		return getAccessKeyInfoResult{Account: sess.account}, nil
	}
	owner, err := AccountFromKeyID(id)
	if err != nil {
		return nil, validationError(r.op, "The access key ID is not valid: %v", err)
	}
	return getAccessKeyInfoResult{Account: owner}, nil
}
