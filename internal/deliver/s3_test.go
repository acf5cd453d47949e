package deliver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyaudit/keyaudit/audit/inventory"
	"github.com/keyaudit/keyaudit/internal/deliver"
	"github.com/keyaudit/keyaudit/internal/golden"
	"github.com/keyaudit/keyaudit/internal/slackcapture"
	"github.com/keyaudit/keyaudit/report"
	"github.com/keyaudit/keyaudit/report/reporttest"
	"github.com/keyaudit/keyaudit/rules"
)

// localSink is an S3Sink on a local S3 (gofakes3) through the real SDK client.
func localSink(t *testing.T) *deliver.S3Sink {
	t.Helper()
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	srv := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
	t.Cleanup(srv.Close)
	c := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("AKIAS3TEST", "s3secret", "")})
	_, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String("reports")})
	require.NoError(t, err, "create the local bucket")
	return &deliver.S3Sink{Client: c, Bucket: "reports", Prefix: "keyaudit"}
}

func TestS3Announced(t *testing.T) {
	ctx := context.Background()
	sink := localSink(t)
	got, err := sink.ReadAnnounced(ctx)
	require.NoError(t, err, "read announced.json before there is one")
	assert.Nil(t, got, "nothing announced yet")

	r := fixture()
	sink.Formats = []report.Format{report.FormatJSON}
	_, err = sink.Write(ctx, r)
	require.NoError(t, err, "write the report")
	got, err = sink.ReadAnnounced(ctx)
	require.NoError(t, err, "read announced.json after a write")
	assert.Nil(t, got, "writing a report announces nothing")

	require.NoError(t, sink.WriteAnnounced(ctx, report.Baseline(nil, r)), "write announced.json")
	got, err = sink.ReadAnnounced(ctx)
	require.NoError(t, err, "read announced.json")
	require.NotNil(t, got, "announced.json")
	assert.Equal(t, []string{"111111111111"}, accountIDs(got), "announced accounts: only those audited ok")
	assert.Equal(t, reporttest.Fingerprints(r.Findings), reporttest.Fingerprints(got.Findings), "announced findings")
	latest, err := sink.Latest(ctx)
	require.NoError(t, err, "read latest.json")
	assert.Len(t, latest.Accounts, 3, "latest.json is the full report")
}

// TestMissedNewsIsPostedNextNight: Slack is down on the second night; the
// third night compares with the first, so the second night's news is posted.
func TestMissedNewsIsPostedNextNight(t *testing.T) {
	ctx := context.Background()
	sink := localSink(t)
	srv := slackcapture.Start()
	defer srv.Stop()
	s := &deliver.Slack{Token: token, Channel: "#security", APIURL: srv.GetAPIURL(), Attempts: 1}

	a1, a2 := reporttest.FindingIn(acctA, "a1", rules.High), reporttest.FindingIn(acctA, "a2", rules.Critical)
	ok := map[string]inventory.Status{acctA: "ok"}

	ch, sent, err := s.Announce(ctx, sink, reporttest.RunOf(ok, a1), "")
	require.NoError(t, err, "night 1")
	assert.True(t, sent, "night 1 posted")
	assert.False(t, ch.Compared, "night 1 has nothing to compare with")

	srv.Outage = 1
	_, sent, err = s.Announce(ctx, sink, reporttest.RunOf(ok, a1, a2), "")
	require.Error(t, err, "night 2: Slack is down")
	assert.False(t, sent, "night 2 posted nothing")

	ch, sent, err = s.Announce(ctx, sink, reporttest.RunOf(ok, a1, a2), "")
	require.NoError(t, err, "night 3")
	assert.True(t, sent, "night 3 posted")
	assert.Equal(t, []string{"a2"}, reporttest.Fingerprints(ch.Added), "night 3 announces what night 2 could not")
	posts := srv.Posts()
	require.Len(t, posts, 2, "posts")
	assert.Contains(t, posts[1].Text, "1 new", "night 3 notification")

	ch, _, err = s.Announce(ctx, sink, reporttest.RunOf(ok, a1, a2), "")
	require.NoError(t, err, "night 4")
	assert.Empty(t, ch.Added, "night 4: nothing new once announced")
}

// TestAnnounceOverNewerRecord: after a rollback, announced.json was written
// by a newer keyaudit. The message warns and lists everything open, and the
// record is replaced, so that the next night compares again.
func TestAnnounceOverNewerRecord(t *testing.T) {
	ctx := context.Background()
	sink := localSink(t)
	newer, err := os.ReadFile(golden.Path("slack/previous-v10.json"))
	require.NoError(t, err, "read the newer record")
	_, err = sink.Client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("reports"), Key: aws.String("keyaudit/announced.json"), Body: bytes.NewReader(newer)})
	require.NoError(t, err, "store the newer record")
	srv := slackcapture.Start()
	defer srv.Stop()
	s := &deliver.Slack{Token: token, Channel: "#security", APIURL: srv.GetAPIURL()}

	ch, sent, err := s.Announce(ctx, sink, fixture(), "")
	require.NoError(t, err, "announce over a newer record")
	assert.True(t, sent, "posted")
	assert.ErrorIs(t, ch.Refused, report.ErrNewerSchema, "not compared with the newer record")
	ch, _, err = s.Announce(ctx, sink, fixture(), "")
	require.NoError(t, err, "the next night")
	assert.True(t, ch.Compared, "the next night compares again")
	assert.Empty(t, ch.Added, "the next night has nothing new")
}

// TestS3ImportedRoundTrip: securityhub.json, written an account at a time,
// is what json.Encoder gives for the whole baseline, and reads back whole.
func TestS3ImportedRoundTrip(t *testing.T) {
	ctx := context.Background()
	sink := localSink(t)
	r := fixture()
	b := &deliver.Imported{Accounts: map[string]map[string]deliver.ImportedFinding{}}
	for _, f := range r.Findings {
		if b.Accounts[f.AccountID] == nil {
			b.Accounts[f.AccountID] = map[string]deliver.ImportedFinding{}
		}
		b.Accounts[f.AccountID][f.Fingerprint] = deliver.ImportedFinding{Finding: f, Digest: "d-" + f.Fingerprint, FirstSeen: r.GeneratedAt, Imported: r.GeneratedAt}
	}
	b.Accounts["999999999999"] = map[string]deliver.ImportedFinding{}
	require.NoError(t, sink.WriteImported(ctx, b), "write securityhub.json")

	out, err := sink.Client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("reports"), Key: aws.String("keyaudit/securityhub.json")})
	require.NoError(t, err, "read securityhub.json back")
	defer out.Body.Close()
	var got, want bytes.Buffer
	_, err = got.ReadFrom(out.Body)
	require.NoError(t, err, "read securityhub.json back")
	require.NoError(t, json.NewEncoder(&want).Encode(b))
	assert.Equal(t, want.String(), got.String(), "securityhub.json as json.Encoder writes it")

	back, err := sink.ReadImported(ctx)
	require.NoError(t, err, "read the baseline")
	assert.Equal(t, b, back, "the baseline reads back whole")
}
