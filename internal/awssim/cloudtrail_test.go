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
)

// lookupAll follows LookupEvents' paginator to the end.
func lookupAll(t *testing.T, client *cloudtrail.Client, in *cloudtrail.LookupEventsInput) ([]cttypes.Event, int) {
	t.Helper()
	var events []cttypes.Event
	pages := 0
	p := cloudtrail.NewLookupEventsPaginator(client, in)
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
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
			if got := strings.Join(names, ","); got != tt.wantNames || pages != tt.wantPages {
				t.Errorf("%d pages of %q, want %d pages of %q", pages, got, tt.wantPages, tt.wantNames)
			}
		})
	}
}

func TestLookupEventsRecord(t *testing.T) {
	srv, w := startSmall(t)
	key := w.Account(normalID).Users[0].Keys[0].ID
	client := cloudtrail.NewFromConfig(sdkConfig(t, srv, normalID, "us-east-1"))
	events, _ := lookupAll(t, client, &cloudtrail.LookupEventsInput{LookupAttributes: []cttypes.LookupAttribute{
		{AttributeKey: cttypes.LookupAttributeKeyEventName, AttributeValue: aws.String("AssumeRole")}}})
	if len(events) != 1 {
		t.Fatalf("%d AssumeRole events, want 1", len(events))
	}
	e := events[0]
	if aws.ToString(e.AccessKeyId) != key || aws.ToString(e.Username) != "ci-deploy" || aws.ToString(e.EventSource) != "sts.amazonaws.com" ||
		!aws.ToTime(e.EventTime).Equal(fixedNow().AddDate(0, 0, -2)) || len(e.Resources) != 1 {
		t.Errorf("event = %s %s %s %s %d resources", aws.ToString(e.AccessKeyId), aws.ToString(e.Username), aws.ToString(e.EventSource), aws.ToTime(e.EventTime), len(e.Resources))
	}
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
	if err := json.Unmarshal([]byte(aws.ToString(e.CloudTrailEvent)), &rec); err != nil {
		t.Fatal(err)
	}
	id := rec.UserIdentity
	if id.Type != "IAMUser" || id.Arn != "arn:aws:iam::222222222222:user/automation/ci-deploy" || id.AccountID != normalID ||
		id.AccessKeyID != key || id.UserName != "ci-deploy" {
		t.Errorf("userIdentity = %+v", id)
	}
	if rec.EventTime != "2024-05-30T12:00:00Z" || rec.AWSRegion != "us-east-1" || rec.SourceIPAddress != "198.51.100.23" || !strings.HasPrefix(rec.UserAgent, "Boto3/1.34.0") {
		t.Errorf("record = %+v", rec)
	}
	issued := rec.ResponseElements.Credentials.AccessKeyID
	if owner, err := AccountFromKeyID(issued); err != nil || owner != normalID || !strings.HasPrefix(issued, "ASIA") {
		t.Errorf("issued key %s (owner %s, %v), want an ASIA key of %s", issued, owner, err, normalID)
	}
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
