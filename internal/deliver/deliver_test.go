package deliver_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyaudit/keyaudit/audit/inventory"
	"github.com/keyaudit/keyaudit/internal/deliver"
	"github.com/keyaudit/keyaudit/internal/slackcapture"
	"github.com/keyaudit/keyaudit/report"
	"github.com/keyaudit/keyaudit/report/reporttest"
	"github.com/keyaudit/keyaudit/rules"
)

// putObject stores body under the sink's prefix.
func putObject(t *testing.T, sink *deliver.S3Sink, name, body string) {
	t.Helper()
	_, err := sink.Client.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(sink.Bucket), Key: aws.String("keyaudit/" + name), Body: strings.NewReader(body)})
	require.NoError(t, err, "store %s", name)
}

// archived are the ids a hub received as archived.
func archived(h *recordingHub) []string {
	var ids []string
	for _, f := range h.imported {
		if f.RecordState == types.RecordStateArchived {
			ids = append(ids, aws.ToString(f.Id))
		}
	}
	return ids
}

// TestDeliverCorruptBaselinesAreWarnings: a corrupt announced.json or
// securityhub.json is a warning and a fresh baseline, and the night's
// delivery rewrites it, where an error would repeat every night (issue 25
// obs 3).
func TestDeliverCorruptBaselinesAreWarnings(t *testing.T) {
	ctx := context.Background()
	sink := localSink(t)
	srv := slackcapture.Start()
	defer srv.Stop()
	hub := &recordingHub{}
	d := deliver.Delivery{Writer: sink, History: sink,
		Slack:       &deliver.Slack{Token: token, Channel: "#security", APIURL: srv.GetAPIURL(), Attempts: 1},
		SecurityHub: &deliver.SecurityHub{Client: hub, Partition: "aws", Region: "us-east-1", Account: "123456789012"}}
	putObject(t, sink, "announced.json", "{not json")
	putObject(t, sink, "securityhub.json", "{not json")

	out := d.Deliver(ctx, reporttest.WithActions(fixture()))
	require.NoError(t, out.Written, "write")
	assert.NoError(t, out.Announced, "a corrupt announced.json does not stop Slack")
	assert.NoError(t, out.Imported, "a corrupt baseline does not stop the import")
	assert.True(t, out.Sent, "posted")
	require.Len(t, out.Warnings, 2, "one warning per unreadable baseline: %v", out.Warnings)
	assert.Contains(t, out.Warnings[0], "Security Hub baseline unreadable", "the Security Hub warning")
	assert.Contains(t, out.Warnings[1], "last announced run unreadable", "the Slack warning")
	assert.Len(t, hub.imported, 3, "everything imported")

	next := d.Deliver(ctx, reporttest.WithActions(fixture()))
	assert.NoError(t, next.Announced, "the next night")
	assert.Empty(t, next.Warnings, "the next night reads both baselines")
	assert.True(t, next.Changes.Compared, "the next night compares with the rewritten announced.json")
	assert.Equal(t, deliver.ImportResult{Unchanged: 3}, next.Import, "the next night sends nothing unchanged")
}

// TestDeliverArchivesAfterAFailedImport: resolved findings are archived
// against what Security Hub holds, not against latest.json: a night whose
// import failed, or a run of one account, loses no archival (issue 25 obs 3).
func TestDeliverArchivesAfterAFailedImport(t *testing.T) {
	ctx := context.Background()
	sink := localSink(t)
	hub := &recordingHub{}
	d := deliver.Delivery{Writer: sink, History: sink, SecurityHub: &deliver.SecurityHub{Client: hub, Partition: "aws", Region: "us-east-1", Account: "123456789012"}}
	first := reporttest.WithActions(fixture())
	require.NoError(t, d.Deliver(ctx, first).Imported, "night 1")

	// Night 2: the suppressed finding is gone, and Security Hub is down.
	second := reporttest.WithActions(fixture())
	second.Findings = second.Findings[:2]
	d.SecurityHub.Client = downHub{}
	assert.Error(t, d.Deliver(ctx, second).Imported, "night 2: the import fails")

	// A run of another account only: nothing of the first is archived.
	d.SecurityHub.Client = hub
	other := empty()
	other.Accounts = []report.Account{{ID: "999999999999", Status: inventory.StatusOK}}
	hub.imported = nil
	require.NoError(t, d.Deliver(ctx, other).Imported, "a run of one other account")
	assert.Empty(t, archived(hub), "a run of another account archives nothing of the first")

	// Night 3: Security Hub is back, and the finding resolved on night 2 is archived.
	hub.imported = nil
	out := d.Deliver(ctx, second)
	require.NoError(t, out.Imported, "night 3")
	assert.Equal(t, []string{fixtureID(2)}, archived(hub), "the finding resolved while the import failed is archived")
	assert.Equal(t, 1, out.Import.Imported, "only the resolved finding is sent: the others are unchanged")
}

// downHub fails every call, as a Security Hub not reachable does.
type downHub struct{}

func (downHub) BatchImportFindings(context.Context, *securityhub.BatchImportFindingsInput, ...func(*securityhub.Options)) (*securityhub.BatchImportFindingsOutput, error) {
	return nil, errors.New("connection refused")
}

func (downHub) BatchUpdateFindings(context.Context, *securityhub.BatchUpdateFindingsInput, ...func(*securityhub.Options)) (*securityhub.BatchUpdateFindingsOutput, error) {
	return nil, errors.New("connection refused")
}

// throttledHub answers only when ctx ends, as a Security Hub that throttles
// every call does under the SDK's retries.
type throttledHub struct{ downHub }

func (throttledHub) BatchImportFindings(ctx context.Context, _ *securityhub.BatchImportFindingsInput, _ ...func(*securityhub.Options)) (*securityhub.BatchImportFindingsOutput, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// TestSecurityHubCarriesWhatTimeDoesNotAllow: out of time, an import is not
// a failure: what was not sent is counted, and the baseline keeps what was.
func TestSecurityHubCarriesWhatTimeDoesNotAllow(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	sink := &deliver.SecurityHub{Client: throttledHub{}, Partition: "aws", Region: "us-east-1", Account: "123456789012"}
	r := manyFindings(150)
	next, res, err := sink.Import(ctx, r, nil, "")
	require.NoError(t, err, "out of time is not a failure")
	assert.Equal(t, deliver.ImportResult{Carried: 150}, res, "everything carried")
	assert.Empty(t, next.Accounts, "nothing recorded as imported")

	sink.Client = &recordingHub{}
	r.Findings[0].Severity = rules.High
	_, res, err = sink.Import(context.Background(), r, next, "")
	require.NoError(t, err, "the next run")
	assert.Equal(t, deliver.ImportResult{Imported: 150}, res, "the next run sends what was carried")
}

// TestDeliverCarriesFirstSeen: with no Security Hub, the night still reads
// the latest run, so that each finding keeps when it was first seen and
// the report written (latest.json, OCSF) says so (issue 19 obs 10).
func TestDeliverCarriesFirstSeen(t *testing.T) {
	ctx := context.Background()
	sink := localSink(t)
	d := deliver.Delivery{Writer: sink, History: sink}
	first := reporttest.WithActions(fixture())
	first.AsOf = first.AsOf.AddDate(0, 0, -7)
	require.NoError(t, d.Deliver(ctx, first).Written, "the first night")

	out := d.Deliver(ctx, reporttest.WithActions(fixture()))
	require.NoError(t, out.Written, "the next night")
	assert.Empty(t, out.Warnings, "the latest run is read")
	latest, err := sink.Latest(ctx)
	require.NoError(t, err, "read latest.json")
	require.NotEmpty(t, latest.Findings)
	for _, f := range latest.Findings {
		assert.Equal(t, first.AsOf, f.FirstSeen.UTC(), "finding %s is first seen on the first night", f.Fingerprint)
	}
}
