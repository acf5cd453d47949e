package awssim

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/smithy-go/middleware"
	"golang.org/x/time/rate"

	"github.com/keyaudit/keyaudit/internal/transport"
)

// Each account's caller credentials belong to a role session, as an
// engineer signed in through IAM Identity Center holds: temporary keys
// that appear in no IAM listing and so leave the audited data untouched.
const (
	callerRole    = "Admin"
	callerSession = "awssim"
)

// Option configures a Server.
type Option func(*Server)

// WithClock sets the simulator's clock (default time.Now). The world's
// relative times are resolved against it once, when the server starts.
func WithClock(now func() time.Time) Option { return func(s *Server) { s.now = now } }

// WithReportCalls sets how many polls (GenerateCredentialReport or
// GetCredentialReport calls) after the call that started a report it takes
// to complete, in place of IAM's generation time (default 1: STARTED, then
// COMPLETE or the report; 0 completes at once).
func WithReportCalls(n int) Option { return func(s *Server) { s.reportCalls = n } }

// WithEmptyOrgPages makes ListAccounts answer n empty pages that still carry
// a NextToken, as Organizations does, interleaved with the real ones.
func WithEmptyOrgPages(n int) Option { return func(s *Server) { s.emptyPages = n } }

// WithOrgListingFailing makes ListAccounts refuse the NextToken of any
// page after the first n accounts (InvalidInputException, as for a token
// that expired): a listing that fails part way.
func WithOrgListingFailing(n int) Option { return func(s *Server) { s.listFailsAfter = n } }

// WithPageSize sets how many items IAM list calls return when the caller
// sets no MaxItems (default 100). IAM may return fewer than asked for, so
// a small size exercises a client's paging.
func WithPageSize(n int) Option { return func(s *Server) { s.pageSize = n } }

// Server answers AWS API calls from a World. Start it with NewServer, point
// SDK clients at URL (AWSConfig does), and Close it.
type Server struct {
	URL string

	world       *World
	now         func() time.Time
	epoch       time.Time // the clock when the server started: "days ago" count from here
	reportCalls int
	emptyPages  int
	pageSize    int
	// listFailsAfter, when positive, is where ListAccounts' paging fails.
	listFailsAfter int
	http           *httptest.Server
	client         *http.Client

	// The world's users' keys and their last use change only under state
	// (CreateAccessKey, UpdateAccessKey, DeleteAccessKey, and a call signed
	// with a long-term key); every other call reads them under its read
	// lock. accounts is read-only once NewServer returns.
	state    sync.RWMutex
	accounts map[string]*account
	keys     map[string]keyRef // the world's long-term keys

	mu       sync.Mutex
	sessions map[string]*session // temporary keys: callers' and those AssumeRole issued
	issued   int
	requests int
	reports  map[string]*reportState
	// limitExceeded counts the LimitExceeded answers given per account.
	limitExceeded map[string]int
	calls         map[string]map[string]int
	total         int
	lookups       map[regionKey][]time.Time
}

type account struct {
	*Account
	users    map[string]*User
	limiter  *rate.Limiter // nil: IAM calls are not rate limited
	attempts int           // calls made with this account's credentials; guarded by Server.mu
}

type keyRef struct {
	account *account
	user    int // index into Users; -1 for the root user
	key     *Key
}

type regionKey struct{ account, region string }

// principal is who made a call.
type principal struct {
	account  string
	arn      string // as GetCallerIdentity reports it
	userID   string
	trustARN string // what a role's trust policy names: the user, or the role behind a session
	user     *User  // set for an IAM user's long-term key
	chained  bool   // a role session: assuming a role from it is role chaining
	root     bool   // the account's root user, with one of its keys
	key      *Key   // the long-term key the call was signed with
}

type session struct {
	principal
	secret, token string
	// expires is on the wall clock, not the simulator's: the SDK's
	// credential cache judges expiry against the wall clock.
	expires time.Time
}

// NewServer starts a server on a loopback port answering from w. It
// normalizes w (see World.Normalize) and panics if w is invalid: worlds are
// fixtures, and a broken fixture is a bug. The server reads w while it
// runs; do not change w until Close.
func NewServer(w *World, opts ...Option) *Server {
	if err := w.Normalize(); err != nil {
		panic("awssim.NewServer: " + err.Error())
	}
	s := &Server{
		world:         w,
		now:           time.Now,
		reportCalls:   1,
		pageSize:      100,
		accounts:      map[string]*account{},
		keys:          map[string]keyRef{},
		sessions:      map[string]*session{},
		reports:       map[string]*reportState{},
		limitExceeded: map[string]int{},
		calls:         map[string]map[string]int{},
		lookups:       map[regionKey][]time.Time{},
	}
	for _, o := range opts {
		o(s)
	}
	s.epoch = s.now().UTC().Truncate(time.Second)
	for i := range w.Accounts {
		a := &account{Account: &w.Accounts[i], users: map[string]*User{}}
		for k := range a.Root.Keys {
			s.keys[a.Root.Keys[k].ID] = keyRef{account: a, user: -1, key: &a.Root.Keys[k]}
		}
		for u := range a.Users {
			a.users[a.Users[u].Name] = &a.Users[u]
			s.index(a, u)
		}
		if a.Faults.IAMRate > 0 {
			a.limiter = rate.NewLimiter(rate.Limit(a.Faults.IAMRate), max(1, a.Faults.IAMBurst))
		}
		s.accounts[a.ID] = a
		creds := s.Credentials(a.ID)
		s.sessions[creds.AccessKeyID] = &session{
			principal: rolePrincipal(a.ID, KeyID("AROA", a.ID, 0), callerRole, "/", callerSession),
			secret:    creds.SecretAccessKey,
			token:     creds.SessionToken,
		}
	}
	s.http = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.http.URL
	// One pool of connections for every client made by AWSConfig: a
	// benchmark over a thousand accounts would otherwise churn ports.
	s.client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	return s
}

// Close stops the server.
func (s *Server) Close() {
	s.client.CloseIdleConnections()
	s.http.Close()
}

// Credentials returns the caller credentials of account (secrets are fake).
// For an account not in the world they are well-formed but unknown to the
// server, which answers InvalidClientTokenId.
func (s *Server) Credentials(account string) aws.Credentials {
	id := KeyID("ASIA", account, 0)
	return aws.Credentials{
		AccessKeyID:     id,
		SecretAccessKey: fakeSecret(id),
		SessionToken:    fakeToken(id),
		Source:          "awssim",
	}
}

// AWSConfig returns a configuration that calls the server as account in
// region: static caller credentials, BaseEndpoint set for every service,
// and nothing read from the environment, shared files or IMDS. ctx is
// unused; it keeps the shape of config.LoadDefaultConfig.
func (s *Server) AWSConfig(_ context.Context, account, region string) (aws.Config, error) {
	if s.accounts[account] == nil {
		return aws.Config{}, fmt.Errorf("aws config for account %s: not in the simulated world", account)
	}
	return aws.Config{
		Region:       region,
		Credentials:  credentials.StaticCredentialsProvider{Value: s.Credentials(account)},
		BaseEndpoint: aws.String(s.URL),
		HTTPClient:   s.client,
		APIOptions:   []func(*middleware.Stack) error{transport.HideWriteTo},
	}, nil
}

// Calls is a snapshot of the calls the server received.
type Calls struct {
	// Total counts every request, including those whose credentials were rejected.
	Total int
	// ByAccount counts authenticated calls by the caller's account and
	// operation ("iam:ListAccessKeys"), throttled and denied ones included.
	ByAccount map[string]map[string]int
}

// Account returns the number of calls made with account's credentials.
func (c Calls) Account(id string) int {
	n := 0
	for _, v := range c.ByAccount[id] {
		n += v
	}
	return n
}

// Calls returns the calls received so far.
func (s *Server) Calls() Calls {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := Calls{Total: s.total, ByAccount: make(map[string]map[string]int, len(s.calls))}
	for a, ops := range s.calls {
		c.ByAccount[a] = maps.Clone(ops)
	}
	return c
}

// CloudTrailRequests returns when (on the wall clock) account called
// CloudTrail in region, so a test can measure a client's request rate.
func (s *Server) CloudTrailRequests(account, region string) []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.lookups[regionKey{account, region}])
}

// request is one authenticated call, as handlers see it.
type request struct {
	op      operation
	caller  principal
	account *account // the caller's
	region  string
	form    url.Values // query protocol parameters
	body    []byte     // JSON protocol document
}

type handler func(r *request) (any, error)

func (s *Server) handler(op operation) handler {
	switch op.String() {
	case "iam:GetAccountSummary":
		return s.getAccountSummary
	case "iam:GenerateCredentialReport":
		return s.generateCredentialReport
	case "iam:GetCredentialReport":
		return s.getCredentialReport
	case "iam:ListAccessKeys":
		return s.listAccessKeys
	case "iam:GetAccessKeyLastUsed":
		return s.getAccessKeyLastUsed
	case "iam:ListUsers":
		return s.listUsers
	case "iam:GetAccountAuthorizationDetails":
		return s.getAccountAuthorizationDetails
	case "iam:GetPolicy":
		return s.getPolicy
	case "iam:GetPolicyVersion":
		return s.getPolicyVersion
	case "iam:CreateAccessKey":
		return s.createAccessKey
	case "iam:UpdateAccessKey":
		return s.updateAccessKey
	case "iam:DeleteAccessKey":
		return s.deleteAccessKey
	case "iam:ListUserTags":
		return s.listUserTags
	case "iam:ListAttachedUserPolicies":
		return s.listAttachedUserPolicies
	case "iam:GetUser":
		return s.getUser
	case "iam:GetLoginProfile":
		return s.getLoginProfile
	case "iam:ListMFADevices":
		return s.listMFADevices
	case "iam:ListUserPolicies":
		return s.listUserPolicies
	case "iam:GetUserPolicy":
		return s.getUserPolicy
	case "iam:ListGroupsForUser":
		return s.listGroupsForUser
	case "iam:ListAttachedGroupPolicies":
		return s.listAttachedGroupPolicies
	case "iam:ListGroupPolicies":
		return s.listGroupPolicies
	case "iam:GetGroupPolicy":
		return s.getGroupPolicy
	case "sts:GetCallerIdentity":
		return s.getCallerIdentity
	case "sts:AssumeRole":
		return s.assumeRole
	case "sts:GetAccessKeyInfo":
		return s.getAccessKeyInfo
	case "organizations:ListAccounts":
		return s.listAccounts
	case "organizations:DescribeAccount":
		return s.describeAccount
	case "organizations:DescribeOrganization":
		return s.describeOrganization
	case "organizations:ListParents":
		return s.listParents
	case "organizations:ListPoliciesForTarget":
		return s.listPoliciesForTarget
	case "organizations:DescribePolicy":
		return s.describePolicy
	case "cloudtrail:LookupEvents":
		return s.lookupEvents
	case "secretsmanager:GetSecretValue":
		return s.getSecretValue
	case "ssm:GetParameter":
		return s.getParameter
	}
	return nil
}

func (s *Server) serve(w http.ResponseWriter, hr *http.Request) {
	s.mu.Lock()
	s.requests++
	s.total++
	requestID := uuid(fmt.Sprintf("request/%d", s.requests))
	s.mu.Unlock()

	body, err := io.ReadAll(io.LimitReader(hr.Body, 1<<20))
	if err != nil {
		return // the client went away
	}
	akid, region, service := parseScope(hr.Header.Get("Authorization"))
	op, form, apiErr := route(hr, body, service)
	if apiErr == nil && akid == "" {
		apiErr = protocolError(op, http.StatusForbidden, "MissingAuthenticationToken", "MissingAuthenticationTokenException", "Request is missing Authentication Token")
	}
	if keyMutations[op.String()] || strings.HasPrefix(akid, "AKIA") {
		s.state.Lock()
		defer s.state.Unlock()
	} else {
		s.state.RLock()
		defer s.state.RUnlock()
	}
	var caller principal
	if apiErr == nil {
		caller, apiErr = s.authenticate(op, akid, hr.Header.Get("X-Amz-Security-Token"))
	}
	if apiErr == nil && caller.key != nil {
		// IAM records a long-term key's last use, with the service and
		// region of the call.
		used := s.daysAgo(s.now())
		caller.key.LastUsedDaysAgo, caller.key.LastUsedService, caller.key.LastUsedRegion = &used, op.service, region
	}
	h := s.handler(op)
	if apiErr == nil && h == nil {
		apiErr = protocolError(op, http.StatusBadRequest, "InvalidAction", "UnknownOperationException",
			fmt.Sprintf("Could not find operation %s for version %s", op.action, form.Get("Version")))
	}
	if apiErr != nil {
		writeError(w, op, requestID, apiErr)
		return
	}
	a := s.accounts[caller.account]
	attempt := s.record(a, op, region)
	if err := sleep(hr.Context(), time.Duration(a.Faults.LatencyMS)*time.Millisecond); err != nil {
		return
	}
	if apiErr := s.inject(a, op, caller, form, attempt); apiErr != nil {
		writeError(w, op, requestID, apiErr)
		return
	}
	result, err := h(&request{op: op, caller: caller, account: a, region: region, form: form, body: body})
	if err != nil {
		e, ok := err.(*apiError)
		if !ok {
			e = newError(http.StatusInternalServerError, "InternalFailure", "%v", err)
		}
		writeError(w, op, requestID, e)
		return
	}
	writeResult(w, op, requestID, result)
}

// parseScope reads the SigV4 credential scope:
// Authorization: AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request, …
// The signature is not checked: the secrets are fake.
func parseScope(header string) (akid, region, service string) {
	_, cred, ok := strings.Cut(header, "Credential=")
	if !ok {
		return "", "", ""
	}
	cred, _, _ = strings.Cut(cred, ",")
	parts := strings.Split(strings.TrimSpace(cred), "/")
	if len(parts) != 5 {
		return "", "", ""
	}
	return parts[0], parts[2], parts[3]
}

// route finds the operation: JSON 1.1 services name it in X-Amz-Target,
// query services in the Action parameter, told apart by the signing scope.
func route(hr *http.Request, body []byte, service string) (operation, url.Values, *apiError) {
	if target := hr.Header.Get("X-Amz-Target"); target != "" {
		i := strings.LastIndex(target, ".")
		op := operation{service: "json", action: target[i+1:]}
		switch target[:max(i, 0)] {
		case "AWSOrganizationsV20161128":
			op.service = "organizations"
		case "CloudTrail_20131101", "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101": // the SDK's, and the CLI's
			op.service = "cloudtrail"
		case "secretsmanager":
			op.service = "secretsmanager"
		case "AmazonSSM":
			op.service = "ssm"
		}
		return op, nil, nil
	}
	if service != "sts" {
		service = "iam"
	}
	form, err := url.ParseQuery(string(body))
	op := operation{service: service, action: form.Get("Action")}
	if err != nil {
		return op, form, validationError(op, "malformed query request body: %v", err)
	}
	return op, form, nil
}

func (s *Server) authenticate(op operation, akid, token string) (principal, *apiError) {
	invalid := protocolError(op, http.StatusForbidden, "InvalidClientTokenId", "UnrecognizedClientException",
		"The security token included in the request is invalid.")
	s.mu.Lock()
	sess := s.sessions[akid]
	s.mu.Unlock()
	if sess != nil {
		if token != sess.token {
			return principal{}, invalid
		}
		if !sess.expires.IsZero() && time.Now().After(sess.expires) {
			return principal{}, protocolError(op, http.StatusBadRequest, "ExpiredToken", "ExpiredTokenException",
				"The security token included in the request is expired")
		}
		return sess.principal, nil
	}
	ref, ok := s.keys[akid]
	if !ok || ref.key.Status != "Active" || token != "" {
		return principal{}, invalid
	}
	if ref.user < 0 {
		arn := "arn:aws:iam::" + ref.account.ID + ":root"
		return principal{account: ref.account.ID, arn: arn, userID: ref.account.ID, trustARN: arn, root: true, key: ref.key}, nil
	}
	u := &ref.account.Users[ref.user]
	arn := userARN(ref.account.ID, u)
	return principal{account: ref.account.ID, arn: arn, userID: KeyID("AIDA", ref.account.ID, ref.user+1), trustARN: arn, user: u, key: ref.key}, nil
}

// record counts the call and returns its number among the account's calls.
func (s *Server) record(a *account, op operation, region string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	ops := s.calls[a.ID]
	if ops == nil {
		ops = map[string]int{}
		s.calls[a.ID] = ops
	}
	ops[op.String()]++
	a.attempts++
	if op.service == "cloudtrail" {
		k := regionKey{a.ID, region}
		// The wall clock: a test measures the client's real request rate.
		s.lookups[k] = append(s.lookups[k], time.Now())
	}
	return a.attempts
}

// inject answers the call with the account's faults, if any applies.
func (s *Server) inject(a *account, op operation, caller principal, form url.Values, attempt int) *apiError {
	n := float64(attempt)
	// Throttle call n when n*rate crosses an integer: exactly the given
	// fraction of calls, evenly spread, the same on every run.
	if r := a.Faults.ThrottleRate; r > 0 && math.Floor(n*r) > math.Floor((n-1)*r) {
		return throttlingError(op)
	}
	if a.limiter != nil && op.service == "iam" && !a.limiter.Allow() {
		return throttlingError(op)
	}
	if slices.Contains(a.Faults.Deny, op.String()) {
		return accessDenied(op, caller.arn, op.String(), s.resource(a, form),
			"because no identity-based policy allows the "+op.String()+" action")
	}
	return nil
}

// resource names what a call acts on, as AccessDenied messages do.
func (s *Server) resource(a *account, form url.Values) string {
	if name := form.Get("UserName"); name != "" {
		if u := a.users[name]; u != nil {
			return userARN(a.ID, u)
		}
		return "arn:aws:iam::" + a.ID + ":user/" + name
	}
	if arn := form.Get("RoleArn"); arn != "" {
		return arn
	}
	return "*"
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// at resolves an age in days against the server's start.
// daysAgo is the age of t, for the world's relative times.
func (s *Server) daysAgo(t time.Time) Days {
	return float64(s.epoch.Sub(t.UTC().Truncate(time.Second))) / float64(24*time.Hour)
}

func (s *Server) at(days Days) time.Time {
	return s.epoch.Add(-time.Duration(days * float64(24*time.Hour))).Truncate(time.Second)
}

// atOrNever resolves an optional age; the zero time is never.
func (s *Server) atOrNever(days *Days) time.Time {
	if days == nil {
		return time.Time{}
	}
	return s.at(*days)
}

func userARN(account string, u *User) string {
	return "arn:aws:iam::" + account + ":user" + u.Path + u.Name
}

func rolePrincipal(account, roleID, name, path, sessionName string) principal {
	return principal{
		account:  account,
		arn:      "arn:aws:sts::" + account + ":assumed-role/" + name + "/" + sessionName,
		userID:   roleID + ":" + sessionName,
		trustARN: "arn:aws:iam::" + account + ":role" + path + name,
		chained:  true,
	}
}

// fakeSecret and fakeToken give credentials the shape of real ones.
func fakeSecret(akid string) string {
	return base64.StdEncoding.EncodeToString([]byte(uuid("secret/" + akid)))[:40]
}

func fakeToken(akid string) string {
	// Real session tokens begin with this base64 prefix.
	return "IQoJb3JpZ2luX2VjE" + base64.StdEncoding.EncodeToString([]byte(uuid("token/"+akid)+uuid("token2/"+akid)))
}
