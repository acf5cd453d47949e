package main

import (
	"context"
	"encoding/json"
	"io"
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
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// asOf is the instant both modes judge at: the simulator's clock and the
// event's as_of, so that ages and "days ago" agree to the second.
var asOf = time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC)

// resolve builds a state's effective input as Step Functions does from
// its Parameters or ItemSelector: keys ending in ".$" take the value at a
// path of the state's input ($) or of the Map's context ($$.Map.Item.Value).
func resolve(t *testing.T, tmpl, input, item any) any {
	t.Helper()
	switch v := tmpl.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, x := range v {
			if name, ok := strings.CutSuffix(k, ".$"); ok {
				p, _ := x.(string)
				switch {
				case p == "$$.Map.Item.Value":
					out[name] = item
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
			out[k] = resolve(t, x, input, item)
		}
		return out
	}
	return tmpl
}

// distributedRun is what happened in one execution of the state machine.
type distributedRun struct {
	discovered map[string]any
	items      []any
	failures   map[string]string // account ID → the failed invocation's error
	summary    Summary
	failure    string // the merge's error
	logs       string
}

// runDistributed plays the template's state machine for one execution:
// discover, one account invocation per item of the S3 list (with extra
// environment for some, and none at all for those in skip: they crashed
// before storing anything), the Map's ResultWriter FAILED file, merge. The
// events are built from the definition, so this also proves the template
// and the handler speak the same shapes.
func runDistributed(t *testing.T, st stack, c *s3.Client, mgmt, execInput string, env map[string][]string, skip ...string) distributedRun {
	t.Helper()
	states := field(definition(t, template(t)), "States")
	mapState := field(states, "AuditAccounts")
	task := func(s any) any {
		return field(s, "Parameters", "Payload")
	}

	var input any
	require.NoError(t, json.Unmarshal([]byte(execInput), &input), "the execution's input")
	event, err := json.Marshal(resolve(t, task(field(states, "Discover")), input, nil))
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

	var failed []map[string]any
	processor := field(mapState, "ItemProcessor", "States", "AuditAccount")
	for _, it := range run.items {
		id, _ := field(it, "account_id").(string)
		if slices.Contains(skip, id) {
			continue
		}
		ev := resolve(t, field(mapState, "ItemSelector"), run.discovered, it)
		// The child execution's task passes its input on as the payload.
		payload, err := json.Marshal(resolve(t, field(processor, "Parameters"), ev, nil).(map[string]any)["Payload"])
		require.NoError(t, err, "the account event")
		resp, failure, logs := invoke(t, st, mgmt, string(payload), time.Minute, env[id]...)
		if failure != "" {
			run.failures[id] = failure
			var le struct {
				ErrorType string `json:"errorType"`
			}
			_ = json.Unmarshal([]byte(failure), &le)
			failed = append(failed, map[string]any{"Input": string(payload), "Status": "FAILED", "Error": le.ErrorType, "Cause": failure})
			continue
		}
		var a audited
		require.NoError(t, json.Unmarshal([]byte(resp), &a), "account %s: response %s; logs:\n%s", id, resp, logs)
		assert.Equal(t, id, a.AccountID, "account step's response names its account")
	}
	if len(failed) > 0 {
		// As the ResultWriter does: PREFIX/MAP-RUN-ID/FAILED_0.json.
		w := resolve(t, field(mapState, "ResultWriter", "Parameters"), run.discovered, nil)
		prefix, _ := field(w, "Prefix").(string)
		data, err := json.Marshal(failed)
		require.NoError(t, err, "the FAILED file")
		_, err = c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket),
			Key: aws.String(path.Join(prefix, "ad9b5f27-090b-3ac6-9beb-243cd77144a7", "FAILED_0.json")), Body: strings.NewReader(string(data))})
		require.NoError(t, err, "write the FAILED file")
	}

	event, err = json.Marshal(resolve(t, task(field(states, "Merge")), run.discovered, nil))
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

	run := runDistributed(t, st, c, w.Management().ID, execInput, nil)
	require.Empty(t, run.failure, "merge failed; logs:\n%s", run.logs)
	assert.Len(t, run.items, 5, "discover lists the organization's active accounts")
	assert.Equal(t, asOf.Format(time.RFC3339), field(run.discovered, "run", "as_of"), "discover carries the run's clock")
	assert.Empty(t, run.failures, "no account invocation failed")
	assert.NotEqual(t, single.Report, run.summary.Report, "the merged report has a folder of its own")
	assert.Equal(t, single.Accounts, run.summary.Accounts, "accounts by status in both summaries")
	assert.Equal(t, single.Findings, run.summary.Findings, "findings in both summaries")
	assert.True(t, strings.HasPrefix(run.summary.Slack, "sent") || run.summary.Slack == "nothing new", "merge tells Slack: %q", run.summary.Slack)

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

// TestDistributedAccountFailures: an account whose invocation failed
// (S3 refused its result) is an error with the cause the Map recorded; one
// whose invocation never stored anything and left no trace is an error
// saying so; the others are reported as usual.
func TestDistributedAccountFailures(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the Lambda binary")
	}
	w := newWorld(t, nil)
	st := startStack(t, w)
	c := reportBucket(t, st)
	// S3 refuses one invocation's write (a refusal is not retried, so the
	// test stays fast).
	refusing := failingPuts(t, http.StatusForbidden, "AccessDenied", "Access Denied")

	const crashed, vanished = "222222222222", "111111111111"
	run := runDistributed(t, st, c, w.Management().ID, `{}`, map[string][]string{crashed: {"AWS_ENDPOINT_URL_S3=" + refusing.URL}}, vanished)
	require.Empty(t, run.failure, "merge failed; logs:\n%s", run.logs)
	require.Contains(t, run.failures, crashed, "the invocation that could not store its result failed")
	assert.Contains(t, run.failures[crashed], "write s3://", "the failed invocation says what it could not do")

	var r struct {
		Accounts []struct {
			ID     string `json:"account_id"`
			Status string `json:"status"`
			Error  string `json:"error"`
		} `json:"accounts"`
	}
	require.NoError(t, json.Unmarshal(reportAt(t, c, run.summary.Report), &r), "the merged report")
	byID := map[string]string{}
	for _, a := range r.Accounts {
		byID[a.ID] = a.Status
		switch a.ID {
		case crashed:
			assert.Equal(t, string(inventory.StatusError), a.Status, "account %s whose invocation failed", a.ID)
			assert.Contains(t, a.Error, "its invocation in the Distributed Map failed", "account %s: why", a.ID)
			assert.Contains(t, a.Error, "write s3://", "account %s: the cause the Map recorded", a.ID)
		case vanished:
			assert.Equal(t, string(inventory.StatusError), a.Status, "account %s that stored nothing", a.ID)
			assert.Contains(t, a.Error, "no result was stored", "account %s: why", a.ID)
		}
	}
	assert.Len(t, r.Accounts, 5, "every account of the list is in the report")
	assert.Equal(t, string(inventory.StatusOK), byID["555555555555"], "an account whose invocation worked")
	assert.Equal(t, string(inventory.StatusError), byID["333333333333"], "an account the audit could not read (denied)")
	assert.Equal(t, 1, run.summary.Accounts[string(inventory.StatusOK)], "accounts ok in the summary: %+v", run.summary)
	assert.Equal(t, 4, run.summary.Accounts[string(inventory.StatusError)], "accounts in error in the summary: %+v", run.summary)
}

// TestEventShapes: a step's event that cannot be right fails with one line
// naming what is wrong, before any AWS call.
func TestEventShapes(t *testing.T) {
	h := &handler{settings: settings{Bucket: bucket}}
	run := `"run":{"run_id":"20261124T030000Z-8476a536","as_of":"2026-11-24T03:00:00Z","started":"2026-11-24T03:00:00Z"}`
	for name, tc := range map[string]struct{ event, want string }{
		"unknown step":     {`{"step":"audit"}`, `unknown step "audit"`},
		"account, no run":  {`{"step":"account","target":{"account_id":"111111111111"}}`, "the account step needs the run discover returned"},
		"merge, no run":    {`{"step":"merge"}`, "the merge step needs the run discover returned"},
		"run ID as a path": {`{"step":"merge","run":{"run_id":"../../latest","as_of":"2026-11-24T03:00:00Z","started":"2026-11-24T03:00:00Z"}}`, "is not a run ID discover returns"},
		"run, no clock":    {`{"step":"merge","run":{"run_id":"20261124T030000Z"}}`, "lacks its clock"},
		"no target":        {`{"step":"account",` + run + `}`, "needs its target account"},
		"bad target":       {`{"step":"account",` + run + `,"target":{"account_id":"12"}}`, "event target"},
		"bad as_of":        {`{"as_of":"last night"}`, "read the event"},
	} {
		_, err := h.handle(context.Background(), json.RawMessage(tc.event))
		if assert.Error(t, err, "case %s", name) {
			assert.Contains(t, err.Error(), tc.want, "case %s", name)
		}
	}
}
