package awssim

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// lookupAll follows LookupEvents' paginator to the end.
func lookupAll(t *testing.T, client *cloudtrail.Client, in *cloudtrail.LookupEventsInput) ([]cttypes.Event, int) {
	t.Helper()
	var events []cttypes.Event
	pages := 0
	p := cloudtrail.NewLookupEventsPaginator(client, in)
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		require.NoError(t, err)
		pages++
		events = append(events, page.Events...)
	}
	return events, pages
}

func TestLookupEvents(t *testing.T) {
	srv, w := startSmall(t)
	ciKey1 := w.Account(normalID).Users[0].Keys[0].ID
	ciKey2 := w.Account(normalID).Users[0].Keys[1].ID
	attr := func(key cttypes.LookupAttributeKey, value string) []cttypes.LookupAttribute {
		return []cttypes.LookupAttribute{{AttributeKey: key, AttributeValue: aws.String(value)}}
	}
	tests := []struct {
		name      string
		region    string
		in        cloudtrail.LookupEventsInput
		wantNames string // newest first
		wantPages int
	}{
		// The event 100 days ago is past CloudTrail's 90 days.
		{"by key, paged", "us-east-1", cloudtrail.LookupEventsInput{LookupAttributes: attr(cttypes.LookupAttributeKeyAccessKeyId, ciKey1), MaxResults: aws.Int32(3)},
			"PutObject,ListBuckets,AssumeRole,DescribeInstances", 2},
		{"by key, other region", "eu-west-1", cloudtrail.LookupEventsInput{LookupAttributes: attr(cttypes.LookupAttributeKeyAccessKeyId, ciKey2)},
			"RunInstances", 1},
		{"by key, region without its events", "us-east-1", cloudtrail.LookupEventsInput{LookupAttributes: attr(cttypes.LookupAttributeKeyAccessKeyId, ciKey2)},
			"", 1},
		{"by event name", "us-east-1", cloudtrail.LookupEventsInput{LookupAttributes: attr(cttypes.LookupAttributeKeyEventName, "ListBuckets")},
			"ListBuckets", 1},
		{"time window", "us-east-1", cloudtrail.LookupEventsInput{
			StartTime: aws.Time(fixedNow().Add(-60 * time.Hour)), EndTime: aws.Time(fixedNow().Add(-13 * time.Hour))},
			"ListBuckets,AssumeRole,ConsoleLogin", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := cloudtrail.NewFromConfig(sdkConfig(t, srv, normalID, tt.region))
			events, pages := lookupAll(t, client, &tt.in)
			var names []string
			for _, e := range events {
				names = append(names, aws.ToString(e.EventName))
			}
			assert.Equal(t, tt.wantNames, strings.Join(names, ","), "events, newest first")
			assert.Equal(t, tt.wantPages, pages, "pages")
		})
	}
}

func TestLookupEventsRecord(t *testing.T) {
	srv, w := startSmall(t)
	key := w.Account(normalID).Users[0].Keys[0].ID
	client := cloudtrail.NewFromConfig(sdkConfig(t, srv, normalID, "us-east-1"))
	events, _ := lookupAll(t, client, &cloudtrail.LookupEventsInput{LookupAttributes: []cttypes.LookupAttribute{
		{AttributeKey: cttypes.LookupAttributeKeyEventName, AttributeValue: aws.String("AssumeRole")}}})
	require.Len(t, events, 1, "AssumeRole events")
	e := events[0]
	assert.Equal(t, key, aws.ToString(e.AccessKeyId))
	assert.Equal(t, "ci-deploy", aws.ToString(e.Username))
	assert.Equal(t, "sts.amazonaws.com", aws.ToString(e.EventSource))
	assert.Equal(t, fixedNow().AddDate(0, 0, -2), aws.ToTime(e.EventTime))
	assert.Len(t, e.Resources, 1)
	var rec struct {
		EventTime       string `json:"eventTime"`
		AWSRegion       string `json:"awsRegion"`
		SourceIPAddress string `json:"sourceIPAddress"`
		UserAgent       string `json:"userAgent"`
		UserIdentity    struct {
			Type        string `json:"type"`
			Arn         string `json:"arn"`
			AccountID   string `json:"accountId"`
			AccessKeyID string `json:"accessKeyId"`
			UserName    string `json:"userName"`
		} `json:"userIdentity"`
		ResponseElements struct {
			Credentials struct {
				AccessKeyID string `json:"accessKeyId"`
			} `json:"credentials"`
		} `json:"responseElements"`
	}
	require.NoError(t, json.Unmarshal([]byte(aws.ToString(e.CloudTrailEvent)), &rec))
	id := rec.UserIdentity
	assert.Equal(t, "IAMUser", id.Type)
	assert.Equal(t, "arn:aws:iam::222222222222:user/automation/ci-deploy", id.Arn)
	assert.Equal(t, normalID, id.AccountID)
	assert.Equal(t, key, id.AccessKeyID)
	assert.Equal(t, "ci-deploy", id.UserName)
	assert.Equal(t, "2024-05-30T12:00:00Z", rec.EventTime)
	assert.Equal(t, "us-east-1", rec.AWSRegion)
	assert.Equal(t, "198.51.100.23", rec.SourceIPAddress)
	assert.True(t, strings.HasPrefix(rec.UserAgent, "Boto3/1.34.0"), "user agent %s", rec.UserAgent)
	issued := rec.ResponseElements.Credentials.AccessKeyID
	owner, err := AccountFromKeyID(issued)
	require.NoError(t, err)
	assert.Equal(t, normalID, owner, "issued key %s", issued)
	assert.True(t, strings.HasPrefix(issued, "ASIA"), "issued key %s", issued)
}

func TestLookupEventsInvalid(t *testing.T) {
	srv, _ := startSmall(t)
	client := cloudtrail.NewFromConfig(sdkConfig(t, srv, normalID, "us-east-1"))
	tests := []struct {
		name     string
		in       cloudtrail.LookupEventsInput
		wantCode string
	}{
		{"two attributes", cloudtrail.LookupEventsInput{LookupAttributes: []cttypes.LookupAttribute{
			{AttributeKey: cttypes.LookupAttributeKeyEventName, AttributeValue: aws.String("a")},
			{AttributeKey: cttypes.LookupAttributeKeyEventName, AttributeValue: aws.String("b")}}}, "InvalidLookupAttributesException"},
		{"start after end", cloudtrail.LookupEventsInput{StartTime: aws.Time(fixedNow()), EndTime: aws.Time(fixedNow().Add(-time.Hour))}, "InvalidTimeRangeException"},
		{"too many results", cloudtrail.LookupEventsInput{MaxResults: aws.Int32(51)}, "InvalidMaxResultsException"},
		{"bad token", cloudtrail.LookupEventsInput{NextToken: aws.String("nope")}, "InvalidNextTokenException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := client.LookupEvents(context.Background(), &tt.in)
			wantAPIError(t, err, tt.wantCode, "")
		})
	}
}

// A call from another account is logged in this account without the
// caller's ARN: its account and principal ID only.
func TestLookupEventsCrossAccountCaller(t *testing.T) {
	srv, _ := startChanged(t, func(w *World) {
		w.Account(normalID).Events = append(w.Account(normalID).Events,
			Event{DaysAgo: 1, CallerAccount: mgmtID, Name: "AssumeRole", Source: "sts.amazonaws.com", Region: "eu-west-1", SourceIP: "192.0.2.1"})
	})
	client := cloudtrail.NewFromConfig(sdkConfig(t, srv, normalID, "eu-west-1"))
	events, _ := lookupAll(t, client, &cloudtrail.LookupEventsInput{LookupAttributes: []cttypes.LookupAttribute{
		{AttributeKey: cttypes.LookupAttributeKeyEventName, AttributeValue: aws.String("AssumeRole")}}})
	require.Len(t, events, 1, "AssumeRole events in eu-west-1")
	var rec struct {
		UserIdentity map[string]string `json:"userIdentity"`
	}
	require.NoError(t, json.Unmarshal([]byte(aws.ToString(events[0].CloudTrailEvent)), &rec))
	assert.Equal(t, map[string]string{"type": "AWSAccount", "principalId": KeyID("AIDA", mgmtID, 1), "accountId": mgmtID}, rec.UserIdentity)
	assert.Empty(t, aws.ToString(events[0].AccessKeyId), "no key of this account made the call")
}
