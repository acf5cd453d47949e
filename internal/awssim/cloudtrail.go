package awssim

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// cloudTrailRetention is how far back LookupEvents sees.
const cloudTrailRetention = 90 * 24 * time.Hour

type ctResource struct {
	ResourceType string `json:"ResourceType"`
	ResourceName string `json:"ResourceName"`
}

type ctEvent struct {
	EventID         string       `json:"EventId"`
	EventName       string       `json:"EventName"`
	ReadOnly        string       `json:"ReadOnly"`
	AccessKeyID     string       `json:"AccessKeyId,omitempty"`
	EventTime       float64      `json:"EventTime"`
	EventSource     string       `json:"EventSource"`
	Username        string       `json:"Username"`
	Resources       []ctResource `json:"Resources,omitempty"`
	CloudTrailEvent string       `json:"CloudTrailEvent"`

	at time.Time
}

type lookupEventsOutput struct {
	Events    []ctEvent `json:"Events"`
	NextToken string    `json:"NextToken,omitempty"`
}

func (s *Server) lookupEvents(r *request) (any, error) {
	var in struct {
		LookupAttributes []struct {
			AttributeKey   string `json:"AttributeKey"`
			AttributeValue string `json:"AttributeValue"`
		} `json:"LookupAttributes"`
		StartTime  *float64 `json:"StartTime"`
		EndTime    *float64 `json:"EndTime"`
		MaxResults *int     `json:"MaxResults"`
		NextToken  string   `json:"NextToken"`
	}
	if err := json.Unmarshal(r.body, &in); err != nil {
		return nil, newError(http.StatusBadRequest, "SerializationException", "The request body is not valid JSON.")
	}
	if len(in.LookupAttributes) > 1 {
		return nil, newError(http.StatusBadRequest, "InvalidLookupAttributesException", "You cannot specify more than one lookup attribute.")
	}
	match := func(ctEvent) bool { return true }
	for _, attr := range in.LookupAttributes {
		switch v := attr.AttributeValue; attr.AttributeKey {
		case "AccessKeyId":
			match = func(e ctEvent) bool { return e.AccessKeyID == v }
		case "EventName":
			match = func(e ctEvent) bool { return e.EventName == v }
		default:
			return nil, newError(http.StatusBadRequest, "InvalidLookupAttributesException", "The simulator supports the lookup attributes AccessKeyId and EventName, not %q.", attr.AttributeKey)
		}
	}
	now := s.now()
	end, start := now, now.Add(-cloudTrailRetention)
	if in.EndTime != nil {
		end = time.UnixMilli(int64(*in.EndTime * 1000))
	}
	if in.StartTime != nil {
		start = time.UnixMilli(int64(*in.StartTime * 1000))
	}
	if start.After(end) {
		return nil, newError(http.StatusBadRequest, "InvalidTimeRangeException", "Start time must be earlier than end time.")
	}
	size := 50
	if in.MaxResults != nil {
		if size = *in.MaxResults; size < 1 || size > 50 {
			return nil, newError(http.StatusBadRequest, "InvalidMaxResultsException", "MaxResults must be between 1 and 50.")
		}
	}

	var found []ctEvent
	for i := range r.account.Events {
		e := r.account.Events[i]
		if e.Region != r.region {
			continue
		}
		ev := s.cloudTrailEvent(r.account, i)
		if ev.at.Before(start) || ev.at.After(end) || now.Sub(ev.at) > cloudTrailRetention || !match(ev) {
			continue
		}
		found = append(found, ev)
	}
	// Newest first, as CloudTrail answers.
	slices.SortFunc(found, func(a, b ctEvent) int {
		return cmp.Or(b.at.Compare(a.at), strings.Compare(a.EventID, b.EventID))
	})
	page, next, ok := paginate(found, in.NextToken, size)
	if !ok {
		return nil, newError(http.StatusBadRequest, "InvalidNextTokenException", "Invalid NextToken.")
	}
	return lookupEventsOutput{Events: append([]ctEvent{}, page...), NextToken: next}, nil
}

// ctRecord is the event as CloudTrail records it: the JSON document that
// LookupEvents returns, as a string, in CloudTrailEvent.
type ctRecord struct {
	EventVersion       string     `json:"eventVersion"`
	UserIdentity       ctIdentity `json:"userIdentity"`
	EventTime          string     `json:"eventTime"`
	EventSource        string     `json:"eventSource"`
	EventName          string     `json:"eventName"`
	AWSRegion          string     `json:"awsRegion"`
	SourceIPAddress    string     `json:"sourceIPAddress"`
	UserAgent          string     `json:"userAgent"`
	RequestParameters  any        `json:"requestParameters"`
	ResponseElements   any        `json:"responseElements"`
	RequestID          string     `json:"requestID"`
	EventID            string     `json:"eventID"`
	ReadOnly           bool       `json:"readOnly"`
	EventType          string     `json:"eventType"`
	ManagementEvent    bool       `json:"managementEvent"`
	RecipientAccountID string     `json:"recipientAccountId"`
	EventCategory      string     `json:"eventCategory"`
}

type ctIdentity struct {
	Type        string `json:"type"`
	PrincipalID string `json:"principalId"`
	Arn         string `json:"arn,omitempty"` // absent for a call from another account
	AccountID   string `json:"accountId"`
	AccessKeyID string `json:"accessKeyId,omitempty"`
	UserName    string `json:"userName,omitempty"`
}

type ctCredentials struct {
	AccessKeyID  string `json:"accessKeyId"`
	SessionToken string `json:"sessionToken"`
	Expiration   string `json:"expiration"`
}

// cloudTrailEvent renders the account's i-th event.
func (s *Server) cloudTrailEvent(a *account, i int) ctEvent {
	e := a.Events[i]
	at := s.at(e.DaysAgo)
	id := ctIdentity{AccountID: a.ID}
	var keys []Key
	username := e.User
	switch {
	case e.CallerAccount != "":
		// Cross-account: the caller's ARN is logged in its own account only.
		id = ctIdentity{Type: "AWSAccount", PrincipalID: KeyID("AIDA", e.CallerAccount, 1), AccountID: e.CallerAccount}
		username = ""
	case e.User == RootName:
		id.Type, id.PrincipalID, id.Arn = "Root", a.ID, "arn:aws:iam::"+a.ID+":root"
		username, keys = "root", a.Root.Keys
	default:
		u := slices.IndexFunc(a.Users, func(u User) bool { return u.Name == e.User })
		id.Type, id.PrincipalID, id.Arn, id.UserName = "IAMUser", KeyID("AIDA", a.ID, u+1), userARN(a.ID, &a.Users[u]), e.User
		keys = a.Users[u].Keys
	}
	if e.Key > 0 && e.Key <= len(keys) {
		id.AccessKeyID = keys[e.Key-1].ID
	}
	readOnly := slices.ContainsFunc([]string{"Get", "List", "Describe", "Lookup", "Head"}, func(p string) bool {
		return strings.HasPrefix(e.Name, p)
	})
	rec := ctRecord{
		EventVersion: "1.09", UserIdentity: id, EventTime: isoTime(at), EventSource: e.Source, EventName: e.Name,
		AWSRegion: e.Region, SourceIPAddress: e.SourceIP, UserAgent: e.UserAgent,
		RequestID: uuid(fmt.Sprintf("event-request/%s/%d", a.ID, i)), EventID: e.ID, ReadOnly: readOnly,
		EventType: "AwsApiCall", ManagementEvent: true, RecipientAccountID: a.ID, EventCategory: "Management",
	}
	switch e.Name {
	case "AssumeRole", "AssumeRoleWithSAML", "AssumeRoleWithWebIdentity", "AssumeRoot", "GetSessionToken", "GetFederationToken":
		// Temporary keys are traced back to the key that asked for them
		// through the issuing event's response.
		issued := KeyID("ASIA", a.ID, 1<<38+i)
		rec.ResponseElements = map[string]any{"credentials": ctCredentials{
			AccessKeyID:  issued,
			SessionToken: fakeToken(issued),
			Expiration:   at.Add(time.Hour).Format("Jan 2, 2006, 3:04:05 PM"),
		}}
	}
	doc, _ := json.Marshal(rec) // plain strings and bools: cannot fail
	ev := ctEvent{
		EventID: e.ID, EventName: e.Name, ReadOnly: strconv.FormatBool(readOnly), AccessKeyID: id.AccessKeyID,
		EventTime: epochSeconds(at), EventSource: e.Source, Username: username, CloudTrailEvent: string(doc), at: at,
	}
	for _, res := range e.Resources {
		ev.Resources = append(ev.Resources, ctResource{ResourceType: res.Type, ResourceName: res.Name})
	}
	return ev
}
