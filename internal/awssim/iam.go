package awssim

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// reportTTL is how long IAM serves a credential report before a new one
// must be generated.
const reportTTL = 4 * time.Hour

type reportState struct {
	pending   int       // polls still needed (see WithReportCalls)
	generated time.Time // zero until complete
}

type summaryEntry struct {
	Key   string `xml:"key"`
	Value int    `xml:"value"`
}

type getAccountSummaryResult struct {
	Entries []summaryEntry `xml:"SummaryMap>entry"`
}

func (s *Server) getAccountSummary(r *request) (any, error) {
	a := r.account
	mfa, rootMFA, rootKeys := 0, 0, 0
	for _, u := range a.Users {
		if u.MFA {
			mfa++
		}
	}
	if a.Root.MFA {
		mfa++
		rootMFA = 1
	}
	if len(a.Root.Keys) > 0 {
		rootKeys = 1
	}
	return getAccountSummaryResult{Entries: []summaryEntry{
		{"Users", len(a.Users)},
		{"UsersQuota", 5000},
		{"Groups", 0},
		{"GroupsQuota", 300},
		{"Roles", len(a.Roles)},
		{"RolesQuota", 1000},
		{"Policies", 0},
		{"PoliciesQuota", 1500},
		{"AccessKeysPerUserQuota", 2},
		{"MFADevices", mfa},
		{"MFADevicesInUse", mfa},
		{"AccountMFAEnabled", rootMFA},
		{"AccountAccessKeysPresent", rootKeys},
		{"AccountSigningCertificatesPresent", 0},
		{"SigningCertificatesPerUserQuota", 2},
	}}, nil
}

type generateCredentialReportResult struct {
	State       string
	Description string `xml:",omitempty"`
}

// generateCredentialReport: the first call starts a report, later calls
// report progress until it completes, and a report under four hours old is
// served as it is, as IAM does.
func (s *Server) generateCredentialReport(r *request) (any, error) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.limitExceeded[r.account.ID] < r.account.Faults.ReportLimitExceeded {
		s.limitExceeded[r.account.ID]++
		return nil, newError(http.StatusConflict, "LimitExceeded", "The request was rejected because it attempted to create resources beyond the current AWS account limits. The error message describes the limit exceeded.")
	}
	st := s.reports[r.account.ID]
	switch {
	case st == nil || (!st.generated.IsZero() && now.Sub(st.generated) >= reportTTL):
		st = &reportState{pending: s.reportCalls}
		s.reports[r.account.ID] = st
		if st.pending > 0 || r.account.Faults.ReportNeverCompletes {
			return generateCredentialReportResult{State: "STARTED", Description: "No report exists. Starting a new report generation task"}, nil
		}
		st.generated = now
	default:
		st.poll(now, r.account.Faults)
	}
	if st.generated.IsZero() {
		return generateCredentialReportResult{State: "INPROGRESS"}, nil
	}
	return generateCredentialReportResult{State: "COMPLETE"}, nil
}

type getCredentialReportResult struct {
	Content       string
	ReportFormat  string
	GeneratedTime string
}

// poll counts one poll of a report in progress, completing it after the
// polls WithReportCalls set: the simulator counts polls where IAM takes time.
func (st *reportState) poll(now time.Time, f Faults) {
	if st.generated.IsZero() && !f.ReportNeverCompletes {
		if st.pending--; st.pending <= 0 {
			st.generated = now
		}
	}
}

func (s *Server) getCredentialReport(r *request) (any, error) {
	now := s.now()
	s.mu.Lock()
	st, started := s.reports[r.account.ID]
	var generated time.Time
	if started {
		st.poll(now, r.account.Faults)
		generated = st.generated
	}
	s.mu.Unlock()
	switch {
	case !started:
		return nil, newError(http.StatusGone, "ReportNotPresent", "Credential report not present. To generate a credential report, use GenerateCredentialReport.")
	case generated.IsZero():
		return nil, newError(http.StatusNotFound, "ReportInProgress", "Credential report generation is in progress. Try again later.")
	case now.Sub(generated) >= reportTTL:
		return nil, newError(http.StatusGone, "ReportExpired", "The most recent credential report has expired. To generate a new credential report, use GenerateCredentialReport.")
	}
	csv := s.credentialReport(r.account)
	return getCredentialReportResult{
		Content:       base64.StdEncoding.EncodeToString(csv),
		ReportFormat:  "text/csv",
		GeneratedTime: isoTime(generated),
	}, nil
}

type accessKeyMetadata struct {
	UserName    string
	AccessKeyID string `xml:"AccessKeyId"`
	Status      string
	CreateDate  string
}

type listAccessKeysResult struct {
	AccessKeyMetadata []accessKeyMetadata `xml:"AccessKeyMetadata>member"`
	IsTruncated       bool
	Marker            string `xml:",omitempty"`
}

func (s *Server) listAccessKeys(r *request) (any, error) {
	// Without a user name IAM lists the caller's own keys: an IAM user's,
	// or the root user's when root calls. A UserName always means an IAM
	// user: "root" is one only if an IAM user has that name.
	var name string
	var keys []Key
	switch u := r.caller.user; {
	case r.form.Get("UserName") != "":
		name = r.form.Get("UserName")
		if u = r.account.users[name]; u == nil {
			return nil, noSuchUser(name)
		}
		keys = u.Keys
	case u != nil:
		name, keys = u.Name, u.Keys
	case r.caller.root:
		keys = r.account.Root.Keys
	default:
		return nil, validationError(r.op, "Must specify userName when calling with non-User credentials")
	}
	size, err := s.maxItems(r)
	if err != nil {
		return nil, err
	}
	page, next, ok := paginate(keys, r.form.Get("Marker"), size)
	if !ok {
		return nil, validationError(r.op, "Invalid Marker.")
	}
	out := listAccessKeysResult{IsTruncated: next != "", Marker: next}
	for _, k := range page {
		out.AccessKeyMetadata = append(out.AccessKeyMetadata, accessKeyMetadata{
			UserName: name, AccessKeyID: k.ID, Status: k.Status, CreateDate: isoTime(s.at(k.CreatedDaysAgo)),
		})
	}
	return out, nil
}

type getAccessKeyLastUsedResult struct {
	UserName          string
	AccessKeyLastUsed struct {
		LastUsedDate string `xml:",omitempty"`
		ServiceName  string
		Region       string
	}
}

func (s *Server) getAccessKeyLastUsed(r *request) (any, error) {
	id := r.form.Get("AccessKeyId")
	ref, ok := s.keys[id]
	if !ok || ref.account != r.account {
		// IAM cannot tell a key of another account from no key: it denies.
		return nil, accessDenied(r.op, r.caller.arn, "iam:GetAccessKeyLastUsed", "access key "+id, "")
	}
	var out getAccessKeyLastUsedResult
	out.UserName = "root" // IAM's name for the root user here, not an IAM user's
	if ref.user >= 0 {
		out.UserName = r.account.Users[ref.user].Name
	}
	k := ref.key
	out.AccessKeyLastUsed.ServiceName, out.AccessKeyLastUsed.Region = "N/A", "N/A"
	if k.LastUsedDaysAgo != nil {
		out.AccessKeyLastUsed.LastUsedDate = isoTime(s.at(*k.LastUsedDaysAgo))
		out.AccessKeyLastUsed.ServiceName = orNA(k.LastUsedService)
		out.AccessKeyLastUsed.Region = orNA(k.LastUsedRegion)
	}
	return out, nil
}

type iamUser struct {
	Path             string
	UserName         string
	UserID           string `xml:"UserId"`
	Arn              string
	CreateDate       string
	PasswordLastUsed string `xml:",omitempty"`
}

type listUsersResult struct {
	Users       []iamUser `xml:"Users>member"`
	IsTruncated bool
	Marker      string `xml:",omitempty"`
}

func (s *Server) listUsers(r *request) (any, error) {
	size, err := s.maxItems(r)
	if err != nil {
		return nil, err
	}
	prefix := r.form.Get("PathPrefix")
	var all []iamUser
	for i, u := range r.account.Users {
		if !strings.HasPrefix(u.Path, prefix) {
			continue
		}
		iu := iamUser{
			Path: u.Path, UserName: u.Name, UserID: KeyID("AIDA", r.account.ID, i+1),
			Arn: userARN(r.account.ID, &u), CreateDate: isoTime(s.at(u.CreatedDaysAgo)),
		}
		if t := s.atOrNever(u.PasswordLastUsedDaysAgo); u.Password && !t.IsZero() {
			iu.PasswordLastUsed = isoTime(t)
		}
		all = append(all, iu)
	}
	users, next, ok := paginate(all, r.form.Get("Marker"), size)
	if !ok {
		return nil, validationError(r.op, "Invalid Marker.")
	}
	return listUsersResult{Users: users, IsTruncated: next != "", Marker: next}, nil
}

// maxItems reads IAM's MaxItems: 1 to 1000, the server's page size when absent.
func (s *Server) maxItems(r *request) (int, error) {
	v := r.form.Get("MaxItems")
	if v == "" {
		return s.pageSize, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 1000 {
		return 0, validationError(r.op, "1 validation error detected: Value '%s' at 'maxItems' failed to satisfy constraint: Member must have value between 1 and 1000", v)
	}
	return n, nil
}

func noSuchUser(name string) *apiError {
	return newError(http.StatusNotFound, "NoSuchEntity", "The user with name %s cannot be found.", name)
}

func orNA(s string) string {
	if s == "" {
		return "N/A"
	}
	return s
}
