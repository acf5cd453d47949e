package remediate

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/keyaudit/keyaudit/rules"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// journalCheckingIAM reads the S3 journal at the moment of each change and
// logs its last record, so that a test sees what was in S3 before the call.
type journalCheckingIAM struct {
	*fakeIAM
	journal S3
}

func (c journalCheckingIAM) seen(ctx context.Context) {
	recs, err := c.journal.Records(ctx)
	last := "nothing"
	if err != nil {
		last = "unreadable: " + err.Error()
	} else if len(recs) > 0 {
		r := recs[len(recs)-1]
		last = fmt.Sprintf("%d %s %s %s", r.Seq, r.Status, r.Op, r.AccessKeyID)
	}
	c.fakeIAM.mu.Lock()
	defer c.fakeIAM.mu.Unlock()
	*c.log = append(*c.log, "in S3: "+last)
}

func (c journalCheckingIAM) UpdateAccessKey(ctx context.Context, in *iam.UpdateAccessKeyInput, o ...func(*iam.Options)) (*iam.UpdateAccessKeyOutput, error) {
	c.seen(ctx)
	return c.fakeIAM.UpdateAccessKey(ctx, in, o...)
}

func (c journalCheckingIAM) AttachUserPolicy(ctx context.Context, in *iam.AttachUserPolicyInput, o ...func(*iam.Options)) (*iam.AttachUserPolicyOutput, error) {
	c.seen(ctx)
	return c.fakeIAM.AttachUserPolicy(ctx, in, o...)
}

// localS3 is an S3 of its own on loopback, with the bucket created.
func localS3(t *testing.T, bucket string) *s3.Client {
	t.Helper()
	srv := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
	t.Cleanup(srv.Close)
	c := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("AKIAS3TEST", "s3secret", "")})
	_, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(bucket)})
	require.NoError(t, err, "create the bucket")
	return c
}

// The S3 journal (the Lambda's, and apply --journal s3://…): each change's
// started record is in S3 before the call, its outcome after; a journal
// that cannot be written stops the change; undo reads it back.
func TestS3JournalWrittenBeforeEachChange(t *testing.T) {
	ctx := context.Background()
	client := localS3(t, "reports")
	log := &[]string{}
	f := newFakeIAM(log)
	now := time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC)
	f.addKey("leaky", "AKIALEAKED", "Active", now.Add(-time.Hour))
	j := S3{Client: client, Bucket: "reports", Prefix: "keyaudit"}
	tick := now
	r := &Remediator{Journal: j, JournalID: "J1", Actor: "tester", UnusedDays: 45, Yes: true,
		Clock:   func() time.Time { tick = tick.Add(time.Second); return tick },
		Connect: func(context.Context, string) (IAM, error) { return journalCheckingIAM{f, j}, nil }}
	changes, _ := Select([]rules.Action{leakedAction("111111111111", "leaky", "AKIALEAKED")}, Selection{})

	for _, res := range r.Apply(ctx, changes) {
		assert.Equal(t, Changed, res.Outcome, "%s: %s", res.Change.Op, res.Reason)
	}
	assert.Equal(t, []string{
		"in S3: 1 started deactivate AKIALEAKED", "call update AKIALEAKED Inactive",
		"in S3: 2 started quarantine AKIALEAKED", "call attach leaky",
	}, *log, "each change's started record is in S3 before its call")
	out, err := client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("reports")})
	require.NoError(t, err, "list the bucket")
	var keys []string
	for _, o := range out.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	assert.Equal(t, []string{"keyaudit/journal/J1/000001-complete.json", "keyaudit/journal/J1/000001-started.json",
		"keyaudit/journal/J1/000002-complete.json", "keyaudit/journal/J1/000002-started.json"}, keys, "one object per record, none rewritten")

	r.JournalID = "J2"
	undone, err := r.Undo(ctx, func(rec Record) bool { return rec.JournalID == "J1" })
	require.NoError(t, err, "undo from the S3 journal")
	require.Len(t, undone, 2, "both changes undone")
	for _, res := range undone {
		assert.Equal(t, Changed, res.Outcome, "%s undone: %s", res.Change.Op, res.Reason)
	}
	assert.Equal(t, "Active", f.status("leaky", "AKIALEAKED"), "the key is active again")
	assert.Empty(t, f.attached["leaky"], "the quarantine policy is detached")

	*log = nil
	f.addKey("old", "AKIAUNUSED", "Active", time.Time{})
	r.Journal, r.JournalID = S3{Client: client, Bucket: "no-such-bucket", Prefix: "keyaudit"}, "J3"
	res := r.Apply(ctx, []Change{{Op: Deactivate, AccountID: "111111111111", User: "old", AccessKeyID: "AKIAUNUSED"}})
	require.Len(t, res, 1, "one result")
	assert.Equal(t, Failure, res[0].Outcome, "an unwritable S3 journal fails the change")
	assert.Contains(t, res[0].Reason, "not changed, the journal could not be written: write the journal record s3://no-such-bucket/keyaudit/journal/J3/", "and says where")
	assert.Equal(t, "Active", f.status("old", "AKIAUNUSED"), "the key is untouched")
	assert.Empty(t, *log, "no call")
}
