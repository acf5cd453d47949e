package deliver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyaudit/keyaudit/internal/deliver"
	"github.com/keyaudit/keyaudit/internal/event"
	"github.com/keyaudit/keyaudit/internal/s3capture"
	"github.com/keyaudit/keyaudit/internal/slackcapture"
	"github.com/keyaudit/keyaudit/report"
	"github.com/keyaudit/keyaudit/report/reporttest"
	"github.com/keyaudit/keyaudit/rules"
)

// The fixture's rotated key, of the user with a hostile name.
const (
	eventKey  = "AKIAAAAAAAAAAAAAAAA7"
	eventUser = "=cmd|calc"
)

// createdKey is a CreateAccessKey event for the fixture's rotated key.
var createdKey = event.Event{ID: "6f0f6a2e-0c1a-4e1b-9f7a-0d2b1c3e4f5a", Kind: event.KeyCreated, Name: "CreateAccessKey",
	Time: time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC), Account: "111111111111", Region: "us-east-1", User: eventUser,
	KeyID: eventKey, Actor: "arn:aws:iam::111111111111:user/admin", SourceIP: "203.0.113.7"}

// judged is what judging createdKey finds: the fixture narrowed to the
// one principal, its key now scored above every key of the night.
func judged() *report.Report {
	r := reporttest.WithActions(fixture())
	keep := func(p string) bool { return p == eventUser }
	r.Findings = slices.DeleteFunc(r.Findings, func(f rules.Finding) bool { return !keep(f.Principal) })
	r.Actions = slices.DeleteFunc(r.Actions, func(a rules.Action) bool { return !keep(a.Principal) })
	r.Risk = slices.DeleteFunc(r.Risk, func(k rules.Risk) bool { return !keep(k.Principal) })
	r.Risk[0].Score, r.Risk[0].Rank = 90, 1
	r.AsOf, r.GeneratedAt = createdKey.Time, createdKey.Time
	r.Accounts = r.Accounts[:1]
	return r
}

// eventStack is a local S3 with the report bucket, a local Slack and a
// recording Security Hub.
type eventStack struct {
	s3    *s3capture.Server
	c     *s3.Client
	slack *slackcapture.Server
	hub   *recordingHub
	d     *deliver.EventDelivery
}

func startEventStack(t *testing.T) *eventStack {
	t.Helper()
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	st := &eventStack{s3: s3capture.Start(), slack: slackcapture.Start(), hub: &recordingHub{}}
	t.Cleanup(st.s3.Close)
	t.Cleanup(st.slack.Stop)
	st.c = s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(st.s3.URL), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("AKIAS3TEST", "s3secret", "")})
	_, err := st.c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String("reports")})
	require.NoError(t, err, "create the local bucket")
	st.d = &deliver.EventDelivery{
		Store:       &deliver.S3Sink{Client: st.c, Bucket: "reports", Prefix: "keyaudit"},
		SecurityHub: &deliver.SecurityHub{Client: st.hub, Partition: "aws", Region: "us-east-1", Account: "123456789012"},
		Slack:       &deliver.Slack{Token: "xoxb-test", Channel: "#security", APIURL: st.slack.GetAPIURL(), Attempts: 1},
	}
	return st
}

func (st *eventStack) object(t *testing.T, key string) []byte {
	t.Helper()
	out, err := st.c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("reports"), Key: aws.String(key)})
	require.NoError(t, err, "read %s", key)
	defer out.Body.Close()
	data, err := io.ReadAll(out.Body)
	require.NoError(t, err, "read %s", key)
	return data
}

const recordKey = "keyaudit/events/2026/11/24/6f0f6a2e-0c1a-4e1b-9f7a-0d2b1c3e4f5a.json"

// One event: its record is created only if new, Slack hears of the key
// (who, what, by whom from where, its findings and first steps, its rank
// in the last night's ranking), Security Hub receives the key's findings
// under the nightly IDs, first seen when the night first saw them; the
// nightly files are not written. The same event again posts nothing.
func TestEventDelivery(t *testing.T) {
	ctx := context.Background()
	st := startEventStack(t)
	night := reporttest.WithActions(fixture())
	var latest bytes.Buffer
	require.NoError(t, report.JSONWriter{}.Write(&latest, night))
	_, err := st.c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("reports"), Key: aws.String("keyaudit/latest.json"), Body: bytes.NewReader(latest.Bytes())})
	require.NoError(t, err, "the last night's latest.json")
	writesBefore := len(st.s3.Writes())

	out, err := st.d.Deliver(ctx, createdKey, judged(), createdKey.Time.Add(time.Minute))
	require.NoError(t, err, "deliver")
	assert.False(t, out.Duplicate, "the first delivery")
	assert.Equal(t, "s3://reports/"+recordKey, out.Record, "the record")
	assert.Equal(t, []string{deliver.ChannelSecurityHub, deliver.ChannelSlack}, out.Sent, "sent")
	assert.Equal(t, "#1 of 3 keys in the organization (score 90; the nightly ranking of 2026-11-24 00:00 UTC)", out.Rank, "rank among the night's keys, this key's entry replaced")

	writes := st.s3.Writes()[writesBefore:]
	require.Len(t, writes, 2, "the claim, then the record of what went")
	assert.Equal(t, "*", writes[0].IfNoneMatch, "the claim creates the record only if it does not exist")
	for _, w := range writes {
		assert.Equal(t, "/reports/"+recordKey, w.Path, "only the event's record is written")
	}
	var rec deliver.EventRecord
	require.NoError(t, json.Unmarshal(st.object(t, recordKey), &rec), "the record is JSON")
	assert.True(t, rec.Done, "the record says it is done")
	assert.Equal(t, createdKey.ID, rec.Event.ID, "the record names the event")
	assert.Equal(t, []string{deliver.ChannelSecurityHub, deliver.ChannelSlack}, rec.Sent, "the record says what went")
	assert.Equal(t, latest.Bytes(), st.object(t, "keyaudit/latest.json"), "latest.json untouched")

	posts := st.slack.Posts()
	require.Len(t, posts, 1, "one Slack message")
	msg, err := json.Marshal(posts[0].Blocks)
	require.NoError(t, err)
	text := string(msg)
	for _, want := range []string{"keyaudit, real time: medium · access key created", "AKIA…AAA7", "CreateAccessKey", "arn:aws:iam::111111111111:user/admin", "203.0.113.7",
		"key-rotation", "#1 of 3 keys", "1. ", "Event 6f0f6a2e"} {
		assert.Contains(t, text, want, "the Slack message")
	}
	assert.NotContains(t, text, eventKey, "the key ID is masked in Slack")
	assert.Contains(t, text, "record `s3://reports/"+recordKey+"`", "the footer shows the record's location whole, in a code span")
	assert.NotContains(t, text, "[.]json", "the record's name is not defanged as a host")

	require.Len(t, st.hub.imported, 1, "the key's one finding imported")
	f := st.hub.imported[0]
	assert.Equal(t, report.FindingUID(&night.Findings[1]), aws.ToString(f.Id), "the nightly import's finding ID")
	assert.Equal(t, night.AsOf.Format(time.RFC3339), aws.ToString(f.CreatedAt), "first seen as the night first saw it")

	again, err := st.d.Deliver(ctx, createdKey, judged(), createdKey.Time.Add(2*time.Minute))
	require.NoError(t, err, "deliver the duplicate")
	assert.True(t, again.Duplicate, "the same event again is a duplicate")
	assert.Len(t, st.slack.Posts(), 1, "a duplicate posts nothing")
	assert.Len(t, st.hub.imported, 1, "a duplicate imports nothing")
}

// An AWS Health event's record is named by the event and the exposed key:
// Slack shows where it is with the key ID masked, as everywhere in Slack.
func TestEventRecordLocationMasksKeyID(t *testing.T) {
	st := startEventStack(t)
	ev := createdKey
	ev.ID, ev.Kind, ev.Name = "7d4c1e2f-0a1b-4c2d-8e3f-4a5b6c7d8e9f-"+eventKey, event.KeyExposed, event.HealthExposed
	out, err := st.d.Deliver(context.Background(), ev, judged(), ev.Time)
	require.NoError(t, err, "deliver")
	assert.Equal(t, "s3://reports/keyaudit/events/2026/11/24/"+ev.ID+".json", out.Record, "the record names the key in full, for the auditors")

	posts := st.slack.Posts()
	require.Len(t, posts, 1, "one Slack message")
	msg, err := json.Marshal(posts[0].Blocks)
	require.NoError(t, err)
	assert.Contains(t, string(msg), "record `s3://reports/keyaudit/events/2026/11/24/7d4c1e2f-0a1b-4c2d-8e3f-4a5b6c7d8e9f-AKIA…AAA7.json`", "the record's location, its key ID masked")
	assert.NotContains(t, string(msg), eventKey, "the key ID is masked in Slack")
}

// Slack down: the delivery fails and says so in the record; the retry
// takes it over and sends only what did not go (Slack, not Security Hub
// again); then it is done, and a further copy is a duplicate.
func TestEventDeliveryRetriesWhatFailed(t *testing.T) {
	ctx := context.Background()
	st := startEventStack(t)
	st.slack.SetOutage(1)
	_, err := st.d.Deliver(ctx, createdKey, judged(), createdKey.Time)
	require.Error(t, err, "Slack is down")
	assert.Contains(t, err.Error(), "post to Slack", "the error names what failed")
	var rec deliver.EventRecord
	require.NoError(t, json.Unmarshal(st.object(t, recordKey), &rec))
	assert.False(t, rec.Done, "not done")
	assert.Equal(t, []string{deliver.ChannelSecurityHub}, rec.Sent, "Security Hub went")
	assert.Contains(t, rec.Failed, "post to Slack", "the record says why not done")
	assert.Empty(t, st.slack.Posts(), "nothing posted in the outage")

	out, err := st.d.Deliver(ctx, createdKey, judged(), createdKey.Time.Add(time.Second))
	require.NoError(t, err, "the retry")
	assert.False(t, out.Duplicate, "a failed delivery is taken over, not a duplicate")
	assert.Len(t, st.slack.Posts(), 1, "Slack told on the retry")
	assert.Len(t, st.hub.imported, 1, "Security Hub not sent again")
	assert.Equal(t, "not ranked yet: no nightly ranking to compare with", out.Rank, "no night yet")

	out, err = st.d.Deliver(ctx, createdKey, judged(), createdKey.Time.Add(2*time.Second))
	require.NoError(t, err)
	assert.True(t, out.Duplicate, "done: a duplicate")
}

// Copies of one event delivered at once (SQS delivers at least once):
// one claims the record, the others are duplicates; one post.
func TestEventDeliveryConcurrentCopies(t *testing.T) {
	st := startEventStack(t)
	var wg sync.WaitGroup
	dups := make([]bool, 4)
	errs := make([]error, 4)
	for i := range dups {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := st.d.Deliver(context.Background(), createdKey, judged(), createdKey.Time)
			dups[i], errs[i] = out.Duplicate, err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		assert.NoError(t, err, "copy %d", i)
	}
	n := 0
	for _, d := range dups {
		if d {
			n++
		}
	}
	assert.Equal(t, 3, n, "duplicates")
	assert.Len(t, st.slack.Posts(), 1, "one post")
}

// slowLatest is a local S3 whose latest.json does not arrive in time: a
// large organization's, read too slowly.
type slowLatest struct{ *s3.Client }

func (c slowLatest) GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	if strings.HasSuffix(aws.ToString(in.Key), "/latest.json") {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return c.Client.GetObject(ctx, in, optFns...)
}

// A nightly ranking that takes too long to read costs the message its
// rank, not the event its delivery.
func TestEventDeliveryRankTakesTooLong(t *testing.T) {
	st := startEventStack(t)
	st.d.Store.Client = slowLatest{st.c}
	st.d.RankTime = 100 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := st.d.Deliver(ctx, createdKey, judged(), createdKey.Time.Add(time.Minute))
	require.NoError(t, err, "delivered without the rank")
	assert.Equal(t, []string{deliver.ChannelSecurityHub, deliver.ChannelSlack}, out.Sent, "sent")
	assert.Contains(t, strings.Join(out.Warnings, "\n"), "the key is not ranked", "the warning says why")
	assert.Len(t, st.slack.Posts(), 1, "Slack told")
	assert.NoError(t, ctx.Err(), "well before the invocation's deadline")
}
