package main

import (
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"path"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/keyaudit/keyaudit/audit/inventory"
	"github.com/keyaudit/keyaudit/internal/awssim"
	"github.com/keyaudit/keyaudit/internal/golden"
	"github.com/keyaudit/keyaudit/report"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// asOf is the instant both modes judge at: the simulator's clock and the
// event's as_of, so that ages and "days ago" agree to the second.
var asOf = time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC)

// resolve builds a state's effective input as Step Functions does from
// its Parameters or BatchInput: keys ending in ".$" take the value at a
// path of the state's input ($) or of the context object ($$, given as
// the values of the paths this test plays).
func resolve(t *testing.T, tmpl, input any, context map[string]any) any {
	t.Helper()
	switch v := tmpl.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, x := range v {
			if name, ok := strings.CutSuffix(k, ".$"); ok {
				p, _ := x.(string)
				switch {
				case strings.HasPrefix(p, "$$."):
					got, ok := context[p]
					require.True(t, ok, "a context path this test does not play: %s: %s", k, p)
					out[name] = got
				case p == "$":
					out[name] = input
				case strings.HasPrefix(p, "$."):
					got := field(input, strings.Split(strings.TrimPrefix(p, "$."), ".")...)
					require.NotNil(t, got, "path %s of the state's input %v", p, input)
					out[name] = got
				default:
					require.FailNow(t, "a path this test does not evaluate", "%s: %s", k, p)
				}
				continue
			}
			out[k] = resolve(t, x, input, context)
		}
		return out
	}
	return tmpl
}

// play is how one execution of the state machine goes in runDistributed.
type play struct {
	// env is the extra environment of the batch holding an account.
	env map[string][]string
	// vanished names accounts whose batch never ran: it stored nothing and
	// the Map recorded nothing.
	vanished []string
	// batchSize, when set, replaces the template's MaxItemsPerBatch.
	batchSize int
	// beforeMerge runs between the Map and merge, given the run's ID and
	// the account list the Map read.
	beforeMerge func(runID string, items []any)
}

// distributedRun is what happened in one execution of the state machine.
type distributedRun struct {
	discovered map[string]any
	items      []any
	batches    [][]string        // the account IDs of each batch
	failures   map[string]string // account ID → its failed batch's error
	mapOutput  map[string]any    // what merge was told of the Map
	summary    Summary
	failure    string // the merge's error
	logs       string
}

// runDistributed plays the template's state machine for one execution:
// discover with the execution's input, the Map's ItemReader (the list in
// S3) and ItemBatcher, one batch invocation per child execution (its
// Payload from the child state ItemProcessor.StartAt names), the
// ResultWriter's FAILED file, the Map's failure past its tolerated
// percentage (caught, as the Map's Catch does, into "map"), and merge. The
// events are built from the definition, so this also proves the template
// and the handler speak the same shapes.
func runDistributed(t *testing.T, st stack, c *s3.Client, mgmt, execInput string, pl play) distributedRun {
	t.Helper()
	states := field(definition(t, template(t)), "States")
	mapState := field(states, "AuditAccounts")
	task := func(s any) any {
		return field(s, "Parameters", "Payload")
	}

	var input any
	require.NoError(t, json.Unmarshal([]byte(execInput), &input), "the execution's input")
	event, err := json.Marshal(resolve(t, task(field(states, "Discover")), input, map[string]any{"$$.Execution.Input": input}))
	require.NoError(t, err, "the discover event")
	resp, failure, logs := invoke(t, st, mgmt, string(event), time.Minute)
	require.Empty(t, failure, "discover failed; logs:\n%s", logs)
	run := distributedRun{failures: map[string]string{}}
	require.NoError(t, json.Unmarshal([]byte(resp), &run.discovered), "discover's output %s", resp)

	// The ItemReader: a JSON array in S3.
	reader := resolve(t, field(mapState, "ItemReader", "Parameters"), run.discovered, nil)
	key, _ := field(reader, "Key").(string)
	obj, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	require.NoError(t, err, "read the account list %s", key)
	defer obj.Body.Close()
	require.NoError(t, json.NewDecoder(obj.Body).Decode(&run.items), "the account list is a JSON array")

	// The ItemBatcher: each child execution's input is the batch.
	batcher := field(mapState, "ItemBatcher")
	size, _ := field(batcher, "MaxItemsPerBatch").(float64)
	if pl.batchSize > 0 {
		size = float64(pl.batchSize)
	}
	require.Positive(t, size, "the ItemBatcher's MaxItemsPerBatch")
	batchInput := resolve(t, field(batcher, "BatchInput"), run.discovered, nil)
	processor := field(mapState, "ItemProcessor")
	start, _ := field(processor, "StartAt").(string)
	child := field(processor, "States", start)
	require.NotNil(t, child, "the child state ItemProcessor.StartAt names")

	var failed []map[string]any
	ran := 0
	for items := range slices.Chunk(run.items, int(size)) {
		var ids, env []string
		for _, it := range items {
			id, _ := field(it, "account_id").(string)
			ids = append(ids, id)
			env = append(env, pl.env[id]...)
		}
		run.batches = append(run.batches, ids)
		if slices.ContainsFunc(ids, func(id string) bool { return slices.Contains(pl.vanished, id) }) {
			continue
		}
		ran++
		in := map[string]any{"BatchInput": batchInput, "Items": items}
		payload, err := json.Marshal(field(resolve(t, field(child, "Parameters"), in, nil), "Payload"))
		require.NoError(t, err, "the batch event")
		resp, failure, logs := invoke(t, st, mgmt, string(payload), time.Minute, env...)
		if failure != "" {
			for _, id := range ids {
				run.failures[id] = failure
			}
			var le struct {
				ErrorType string `json:"errorType"`
			}
			_ = json.Unmarshal([]byte(failure), &le)
			childInput, err := json.Marshal(in)
			require.NoError(t, err, "the child execution's input")
			failed = append(failed, map[string]any{"Input": string(childInput), "Status": "FAILED", "Error": le.ErrorType, "Cause": failure})
			continue
		}
		var b batched
		require.NoError(t, json.Unmarshal([]byte(resp), &b), "batch %v: response %s; logs:\n%s", ids, resp, logs)
		n := 0
		for _, count := range b.Accounts {
			n += count
		}
		assert.Equal(t, len(ids), n, "batch %v: its response counts its accounts: %+v", ids, b)
	}
	// As the ResultWriter does: PREFIX/MAP-RUN-ID/FAILED_0.json and the manifest.
	w := resolve(t, field(mapState, "ResultWriter", "Parameters"), run.discovered, nil)
	prefix, _ := field(w, "Prefix").(string)
	const mapRun = "ad9b5f27-090b-3ac6-9beb-243cd77144a7"
	if len(failed) > 0 {
		data, err := json.Marshal(failed)
		require.NoError(t, err, "the FAILED file")
		_, err = c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket),
			Key: aws.String(path.Join(prefix, mapRun, "FAILED_0.json")), Body: strings.NewReader(string(data))})
		require.NoError(t, err, "write the FAILED file")
	}
	run.mapOutput = map[string]any{"MapRunArn": "arn:aws:states:us-east-1:111111111111:mapRun:keyaudit/AuditAccounts:" + mapRun,
		"ResultWriterDetails": map[string]any{"Bucket": bucket, "Key": path.Join(prefix, mapRun, "manifest.json")}}
	tolerated, _ := field(mapState, "ToleratedFailurePercentage").(float64)
	if ran > 0 && float64(len(failed))*100/float64(ran) > tolerated {
		// The Map failed, and its Catch puts the error where its result goes.
		require.Equal(t, "$.map", field(mapState, "Catch").([]any)[0].(map[string]any)["ResultPath"], "the Map's Catch")
		run.mapOutput = map[string]any{"Error": "States.ExceedToleratedFailureThreshold", "Cause": "The specified tolerated failure threshold was exceeded"}
	}
	require.Equal(t, "$.map", field(mapState, "ResultPath"), "the Map's result goes to $.map")

	if pl.beforeMerge != nil {
		runID, _ := field(run.discovered, "run", "run_id").(string)
		pl.beforeMerge(runID, run.items)
	}
	mergeInput := maps.Clone(run.discovered)
	mergeInput["map"] = run.mapOutput
	event, err = json.Marshal(resolve(t, task(field(states, "Merge")), mergeInput, nil))
	require.NoError(t, err, "the merge event")
	resp, run.failure, run.logs = invoke(t, st, mgmt, string(event), time.Minute)
	if run.failure == "" {
		require.NoError(t, json.Unmarshal([]byte(resp), &run.summary), "merge's output %s", resp)
	}
	return run
}

// reportAt reads the report.json of a run's report folder (s3://…/).
func reportAt(t *testing.T, c *s3.Client, folder string) []byte {
	t.Helper()
	key := strings.TrimPrefix(folder, "s3://"+bucket+"/") + "report.json"
	obj, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	require.NoError(t, err, "read %s", key)
	defer obj.Body.Close()
	data, err := io.ReadAll(obj.Body)
	require.NoError(t, err, "read %s", key)
	golden.ValidReport(t, data)
	return data
}

// normalised is a report without what names the run: its ID (also in
// AWS's error messages, as the member-role session's name) and when it was
// generated.
func normalised(t *testing.T, data []byte) map[string]any {
	t.Helper()
	var r map[string]any
	require.NoError(t, json.Unmarshal(data, &r), "the report is JSON")
	id, _ := r["run_id"].(string)
	require.NotEmpty(t, id, "the report names its run")
	require.NoError(t, json.Unmarshal([]byte(strings.ReplaceAll(string(data), id, "RUN-ID")), &r), "the report is JSON")
	delete(r, "run_id")
	delete(r, "generated_at")
	// A second run of the series carries each finding's first sighting
	// from the first: the only field in which two runs of one instant differ.
	findings, _ := r["findings"].([]any)
	for _, f := range findings {
		delete(f.(map[string]any), "first_seen")
	}
	return r
}

// TestDistributedReportEqualsSingle: for the same organization, judged at
// the same instant, the Distributed Map's merged report is the
// single invocation's, to the byte but for the run's ID and time.
func TestDistributedReportEqualsSingle(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the Lambda binary")
	}
	w := newWorld(t, nil)
	st := startStack(t, w, awssim.WithClock(func() time.Time { return asOf }))
	c := reportBucket(t, st)
	execInput := `{"as_of":"` + asOf.Format(time.RFC3339) + `"}`

	resp, failure, logs := invoke(t, st, w.Management().ID, execInput, 2*time.Minute)
	single := decodeSummary(t, resp, failure, logs, "single")

	// Batches of two: the report is one however the accounts were cut.
	run := runDistributed(t, st, c, w.Management().ID, execInput, play{batchSize: 2})
	require.Empty(t, run.failure, "merge failed; logs:\n%s", run.logs)
	assert.Len(t, run.items, 5, "discover lists the organization's active accounts")
	assert.Len(t, run.batches, 3, "the accounts in batches of two")
	assert.Equal(t, asOf.Format(time.RFC3339), field(run.discovered, "run", "as_of"), "discover carries the run's clock")
	assert.Empty(t, run.failures, "no account invocation failed")
	assert.NotEqual(t, single.Report, run.summary.Report, "the merged report has a folder of its own")
	assert.Equal(t, single.Accounts, run.summary.Accounts, "accounts by status in both summaries")
	assert.Equal(t, single.Findings, run.summary.Findings, "findings in both summaries")
	assert.True(t, strings.HasPrefix(run.summary.Slack, "sent") || run.summary.Slack == "nothing new", "merge tells Slack: %q", run.summary.Slack)

	var merged report.Report
	require.NoError(t, json.Unmarshal(reportAt(t, c, run.summary.Report), &merged), "the merged report")
	for _, f := range merged.Findings {
		assert.Equal(t, asOf, f.FirstSeen.UTC(), "the merge carries %s's first sighting from the single run before it", f.Fingerprint)
	}
	want := normalised(t, reportAt(t, c, single.Report))
	got := normalised(t, reportAt(t, c, run.summary.Report))
	assert.Equal(t, want, got, "the merged report equals the single invocation's")
	assert.NotEmpty(t, got["findings"], "the compared reports have findings")
	assert.NotEmpty(t, got["risk"], "the compared reports rank keys")

	keys := objects(t, c)
	runID, _ := field(run.discovered, "run", "run_id").(string)
	for _, it := range run.items {
		id, _ := field(it, "account_id").(string)
		assert.Contains(t, keys, "keyaudit/runs/"+runID+"/accounts/"+id+".json", "the result of account %s is stored", id)
	}
}

// TestDistributedAccountFailures: the accounts of a batch whose invocation
// failed (S3 refused its results) are errors with the cause the Map
// recorded; those of a batch that never ran and left no trace are errors
// saying so; the others are reported as usual. One failed batch in three
// is past the Map's tolerated percentage: the Map failed, and the merged
// report says it is incomplete.
func TestDistributedAccountFailures(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the Lambda binary")
	}
	w := newWorld(t, nil)
	st := startStack(t, w)
	c := reportBucket(t, st)
	// S3 refuses one batch's writes (a refusal is not retried, so the
	// test stays fast).
	refusing := failingPuts(t, http.StatusForbidden, "AccessDenied", "Access Denied")

	const vanished = "555555555555"
	crashed := []string{"333333333333", "444444444444"}
	run := runDistributed(t, st, c, w.Management().ID, `{}`, play{batchSize: 2,
		env: map[string][]string{crashed[0]: {"AWS_ENDPOINT_URL_S3=" + refusing.URL}}, vanished: []string{vanished}})
	require.Empty(t, run.failure, "merge failed; logs:\n%s", run.logs)
	require.Contains(t, run.batches, crashed, "the refused accounts are one batch")
	for _, id := range crashed {
		require.Contains(t, run.failures, id, "the batch that could not store its results failed")
		assert.Contains(t, run.failures[id], "write s3://", "the failed invocation says what it could not do")
	}
	assert.Equal(t, "States.ExceedToleratedFailureThreshold", run.mapOutput["Error"], "one failed batch of three fails the Map")

	var r struct {
		Incomplete string `json:"incomplete"`
		Accounts   []struct {
			ID     string `json:"account_id"`
			Status string `json:"status"`
			Error  string `json:"error"`
		} `json:"accounts"`
	}
	require.NoError(t, json.Unmarshal(reportAt(t, c, run.summary.Report), &r), "the merged report")
	byID := map[string]string{}
	for _, a := range r.Accounts {
		byID[a.ID] = a.Status
		switch {
		case slices.Contains(crashed, a.ID):
			assert.Equal(t, string(inventory.StatusError), a.Status, "account %s whose batch failed", a.ID)
			assert.Contains(t, a.Error, "its invocation in the Distributed Map failed", "account %s: why", a.ID)
			assert.Contains(t, a.Error, "write s3://", "account %s: the cause the Map recorded", a.ID)
		case a.ID == vanished:
			assert.Equal(t, string(inventory.StatusError), a.Status, "account %s that stored nothing", a.ID)
			assert.Contains(t, a.Error, "no result was stored", "account %s: why", a.ID)
		}
	}
	assert.Len(t, r.Accounts, 5, "every account of the list is in the report")
	assert.Equal(t, string(inventory.StatusOK), byID["111111111111"], "an account whose batch worked")
	assert.Equal(t, string(inventory.StatusOK), byID["222222222222"], "an account whose batch worked")
	assert.Equal(t, 2, run.summary.Accounts[string(inventory.StatusOK)], "accounts ok in the summary: %+v", run.summary)
	assert.Equal(t, 3, run.summary.Accounts[string(inventory.StatusError)], "accounts in error in the summary: %+v", run.summary)
	assert.Contains(t, run.summary.Incomplete, "the Distributed Map failed (States.ExceedToleratedFailureThreshold", "the summary says the Map failed")
	assert.Equal(t, run.summary.Incomplete, r.Incomplete, "the report says what the summary says")
}

// TestDistributedBatchDeadline: a batch whose invocation runs short of
// time stores every account, those it had no time for as skipped, and
// still succeeds: merge reports them as a single run would.
func TestDistributedBatchDeadline(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the Lambda binary")
	}
	w := slowWorld(t)
	st := startStack(t, w)
	c := reportBucket(t, st)
	const runID = "20261124T030000Z-8476a536"
	ids := []string{"111111111111", "222222222222", "555555555555"}
	event := `{"step":"accounts","run":{"run_id":"` + runID + `","as_of":"2026-11-24T03:00:00Z","started":"2026-11-24T03:00:00Z"},` +
		`"targets":[{"account_id":"111111111111"},{"account_id":"222222222222"},{"account_id":"555555555555"}]}`
	resp, failure, logs := invoke(t, st, w.Management().ID, event, 5*time.Second, "KEYAUDIT_RESERVE_SECONDS=2", "KEYAUDIT_CONCURRENCY=1")
	require.Empty(t, failure, "the batch failed; logs:\n%s", logs)
	var b batched
	require.NoError(t, json.Unmarshal([]byte(resp), &b), "the batch's response %s", resp)
	assert.Positive(t, b.Accounts[string(inventory.StatusSkipped)], "accounts skipped at the deadline: %+v", b)
	assert.Equal(t, "s3://"+bucket+"/keyaudit/runs/"+runID+"/accounts/", b.Results, "where the results are")
	keys := objects(t, c)
	for _, id := range ids {
		assert.Contains(t, keys, "keyaudit/runs/"+runID+"/accounts/"+id+".json", "the result of account %s is stored", id)
	}
}

// TestEventShapes: a step's event that cannot be right fails with one line
// naming what is wrong, before any AWS call.
func TestEventShapes(t *testing.T) {
	h := &handler{settings: settings{Bucket: bucket}}
	run := `"run":{"run_id":"20261124T030000Z-8476a536","as_of":"2026-11-24T03:00:00Z","started":"2026-11-24T03:00:00Z"}`
	for name, tc := range map[string]struct{ event, want string }{
		"unknown step":     {`{"step":"audit"}`, `unknown step "audit"`},
		"batch, no run":    {`{"step":"accounts","targets":[{"account_id":"111111111111"}]}`, "the accounts step needs the run discover returned"},
		"merge, no run":    {`{"step":"merge"}`, "the merge step needs the run discover returned"},
		"run ID as a path": {`{"step":"merge","run":{"run_id":"../../latest","as_of":"2026-11-24T03:00:00Z","started":"2026-11-24T03:00:00Z"}}`, "is not a run ID discover returns"},
		"run, no clock":    {`{"step":"merge","run":{"run_id":"20261124T030000Z"}}`, "lacks its clock"},
		"no targets":       {`{"step":"accounts",` + run + `}`, "needs its target accounts"},
		"empty targets":    {`{"step":"accounts",` + run + `,"targets":[]}`, "needs its target accounts"},
		"bad target":       {`{"step":"accounts",` + run + `,"targets":[{"account_id":"111111111111"},{"account_id":"12"}]}`, "event targets"},
		"bad as_of":        {`{"as_of":"last night"}`, "read the event"},
	} {
		_, err := h.handle(context.Background(), json.RawMessage(tc.event))
		if assert.Error(t, err, "case %s", name) {
			assert.Contains(t, err.Error(), tc.want, "case %s", name)
		}
	}
}
