package main

// The Distributed Map mode (template.yaml, Mode=distributed): a Step
// Functions state machine runs this same binary three ways. discover writes
// the run's accounts to S3; the Map cuts them into batches, each audited in
// an invocation of its own that stores every account's result; merge
// assembles the report from the results and delivers it as a single
// invocation does.
//
// S3, under KEYAUDIT_PREFIX/runs/RUN_ID/:
//
//	accounts.json        the account list the Map reads (an array of items)
//	accounts/ID.json     each account's pipeline.AccountResult
//	map/                 the Map's ResultWriter: FAILED_*.json name the
//	                     batches that failed, and why

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/keyaudit/keyaudit/audit"
	"github.com/keyaudit/keyaudit/internal/deliver"
	"github.com/keyaudit/keyaudit/internal/pipeline"
	"golang.org/x/sync/errgroup"
)

// The steps of the Distributed Map, as the state machine names them in the
// event's "step".
const (
	stepDiscover = "discover"
	stepBatch    = "accounts"
	stepMerge    = "merge"
)

// item is one account of the run's list: one item of the Map.
type item struct {
	AccountID string `json:"account_id"`
	Name      string `json:"name,omitempty"`
}

// discovered is what discover returns: the run every later step is given,
// and where the Map reads its items and writes its results.
type discovered struct {
	Run         run    `json:"run"`
	Accounts    int    `json:"accounts"`
	AccountsKey string `json:"accounts_key"`
	MapPrefix   string `json:"map_prefix"`
}

// batched is what a batch step returns: small, as the Map collects it.
type batched struct {
	Accounts map[string]int `json:"accounts"` // by status
	Findings int            `json:"findings"`
	Results  string         `json:"results"` // the folder of the run's results
}

// mapOutcome is how the Map ended, as the state machine passes it to
// merge: the ResultWriter's output (nothing of it is read), or the Map's
// error and cause when it failed.
type mapOutcome struct {
	Error string `json:"Error"`
	Cause string `json:"Cause"`
}

// runID is what discover's run IDs are made of (pipeline.NewID and a
// request ID): one S3 key segment, never a path.
var runID = regexp.MustCompile(`^[0-9A-Za-z-]{1,64}$`)

// run is the run an account or merge step belongs to: discover's.
func (in input) run() (run, error) {
	switch {
	case in.Run == nil:
		return run{}, fmt.Errorf("read the event: the %s step needs the run discover returned", in.Step)
	case !runID.MatchString(in.Run.ID):
		return run{}, fmt.Errorf("read the event: run_id %q is not a run ID discover returns", in.Run.ID)
	case in.Run.AsOf.IsZero() || in.Run.Started.IsZero():
		return run{}, fmt.Errorf("read the event: run %s lacks its clock (as_of and started, as discover returns them)", in.Run.ID)
	}
	return *in.Run, nil
}

// runKey is the S3 key of one of a run's objects.
func (s *settings) runKey(id string, elem ...string) string {
	return path.Join(append([]string{s.Prefix, "runs", id}, elem...)...)
}

// discover resolves the accounts to audit, as a single invocation would,
// and writes them to S3 for the Map.
func (h *handler) discover(ctx context.Context, in input) (discovered, error) {
	if in.Input != nil {
		in.Accounts, in.AsOf = in.Input.Accounts, in.Input.AsOf
	}
	inv, err := h.begin(ctx, newRun(ctx, in.AsOf), "event accounts", in.Accounts)
	if err != nil {
		return discovered{}, err
	}
	conn, err := inv.dial(ctx)
	if err != nil {
		return discovered{}, err
	}
	targets, err := conn.List(ctx)
	if err != nil {
		return discovered{}, err
	}
	items := make([]item, len(targets))
	for i, t := range targets {
		items[i] = item{AccountID: t.AccountID, Name: t.Name}
	}
	out := discovered{Run: inv.run, Accounts: len(items),
		AccountsKey: h.settings.runKey(inv.run.ID, "accounts.json"), MapPrefix: h.settings.runKey(inv.run.ID, "map")}
	if err := h.putJSON(ctx, inv, out.AccountsKey, items); err != nil {
		return discovered{}, err
	}
	inv.log.Info("accounts discovered", "accounts", out.Accounts, "list", out.AccountsKey)
	return out, nil
}

// batch audits a batch of the run's accounts, as a single invocation
// audits its accounts, and stores each account's result as it finishes. An
// account that cannot be audited is stored with status error (skipped,
// when the deadline leaves it no time): the invocation fails only when a
// result cannot be stored.
func (h *handler) batch(ctx context.Context, in input) (batched, error) {
	rn, err := in.run()
	if err != nil {
		return batched{}, err
	}
	if len(in.Targets) == 0 {
		return batched{}, errors.New("read the event: a batch step needs its target accounts (the state machine's ItemBatcher passes them as Items)")
	}
	targets := make([]audit.Target, len(in.Targets))
	ids := make([]string, len(in.Targets))
	for i, it := range in.Targets {
		targets[i] = audit.Target{AccountID: it.AccountID, Name: it.Name}
		ids[i] = it.AccountID
	}
	// Without AWS or the rules' config nothing can be stored: the Map
	// records the failure, and merge reports the accounts with its cause.
	inv, err := h.begin(ctx, rn, "event targets", ids)
	if err != nil {
		return batched{}, err
	}
	out := batched{Accounts: map[string]int{}, Results: "s3://" + h.settings.Bucket + "/" + h.settings.runKey(inv.run.ID, "accounts") + "/"}
	var mu sync.Mutex
	var unstored []error
	var g errgroup.Group
	g.SetLimit(8) // a few writes at once keep up with the audits
	store := func(res pipeline.AccountResult) {
		out.Accounts[string(res.Account.Status)]++ // one call at a time
		out.Findings += len(res.Result.Findings)
		g.Go(func() error {
			if err := h.putJSON(ctx, inv, h.settings.runKey(inv.run.ID, "accounts", res.Account.ID+".json"), res); err != nil {
				mu.Lock()
				unstored = append(unstored, err)
				mu.Unlock()
			}
			return nil
		})
	}
	conn, err := inv.connect(ctx, targets)
	if err != nil {
		for _, t := range targets {
			store(pipeline.Failed(t, err))
		}
	} else {
		auditCtx, cancel := h.auditContext(ctx)
		defer cancel()
		pipeline.Batch(auditCtx, inv.options(conn), targets, conn.IAM, store)
	}
	_ = g.Wait() // each failure is in unstored
	if err := errors.Join(unstored...); err != nil {
		return batched{}, err
	}
	inv.log.Info("batch audited", "accounts", out.Accounts, "findings", out.Findings, "results", out.Results)
	return out, nil
}

// merge assembles the run's report from the stored results and delivers
// it. Each account stands alone: one without a result, or whose result
// cannot be used, is reported as an error with the reason, and the others
// as they were audited. The report is written whatever the Map did; a
// failed Map or an unusable result makes it incomplete.
func (h *handler) merge(ctx context.Context, in input) (Summary, error) {
	rn, err := in.run()
	if err != nil {
		return Summary{}, err
	}
	inv, err := h.begin(ctx, rn, "", nil)
	if err != nil {
		return Summary{}, err
	}
	var items []item
	listKey := h.settings.runKey(inv.run.ID, "accounts.json")
	if found, err := h.getJSON(ctx, inv, listKey, &items); err != nil || !found {
		return Summary{}, errors.Join(fmt.Errorf("read the run's account list s3://%s/%s: is the run ID right, and did discover succeed?", h.settings.Bucket, listKey), err)
	}
	failures, warnings := h.mapFailures(ctx, inv)
	var targets []audit.Target
	seen := map[string]bool{}
	for _, it := range items {
		if !seen[it.AccountID] {
			seen[it.AccountID] = true
			targets = append(targets, audit.Target{AccountID: it.AccountID, Name: it.Name})
		}
	}
	conn, err := inv.connect(ctx, targets)
	if err != nil {
		return Summary{}, err
	}
	// Each result goes to the Merger as it is read, which keeps of it what
	// the report needs: the run's inventories are never all in memory.
	merger := pipeline.NewMerger(inv.options(conn))
	var mu sync.Mutex
	var unusable []string
	var g errgroup.Group
	g.SetLimit(32)
	for _, t := range targets {
		g.Go(func() error {
			r, err := h.result(ctx, inv, t, failures[t.AccountID])
			if err != nil {
				inv.log.Warn("stored result not used", "account", t.AccountID, "error", err)
				r = pipeline.Failed(t, err)
				mu.Lock()
				unusable = append(unusable, t.AccountID)
				mu.Unlock()
			}
			merger.Add(r)
			return nil
		})
	}
	_ = g.Wait() // every error is an account's
	auditCtx, cancel := h.auditContext(ctx)
	defer cancel()
	r := merger.Report(auditCtx)
	var why []string
	if in.Map != nil && in.Map.Error != "" {
		why = append(why, fmt.Sprintf("the Distributed Map failed (%s): the accounts it did not audit are errors", shortened(strings.TrimSuffix(in.Map.Error+": "+in.Map.Cause, ": "))))
	}
	if len(unusable) > 0 {
		slices.Sort(unusable)
		why = append(why, fmt.Sprintf("the stored results of %d accounts could not be used, so they are errors: %s", len(unusable), strings.Join(unusable, ", ")))
	}
	if len(why) > 0 {
		r.SetIncomplete(strings.Join(why, "; "))
	}
	r.Warnings = append(r.Warnings, warnings...)
	return h.finish(ctx, inv, conn, r)
}

// result reads the stored result of account t: one that is not stored is
// the account's error with the Map's recorded failure, when there is one;
// an error means a stored result that cannot be used, and why.
func (h *handler) result(ctx context.Context, inv *invocation, t audit.Target, failure string) (pipeline.AccountResult, error) {
	var r pipeline.AccountResult
	found, err := h.getJSON(ctx, inv, h.settings.runKey(inv.run.ID, "accounts", t.AccountID+".json"), &r)
	switch {
	case err != nil:
		return r, fmt.Errorf("result unreadable: %w", err)
	case !found:
		return pipeline.Failed(t, missing(failure)), nil
	}
	return r, r.Check(t.AccountID)
}

// missing says why an account has no result.
func missing(failure string) error {
	if failure == "" {
		return errors.New("no result was stored: its batch in the Distributed Map crashed, timed out or never ran (see the Map Run of the state machine's execution)")
	}
	return fmt.Errorf("its invocation in the Distributed Map failed: %s", failure)
}

// mapFailures reads the Map's ResultWriter files of failed child
// executions: the error and cause of each account's failure, by account.
// What cannot be read is a warning: the accounts concerned are still
// reported, without the cause.
func (h *handler) mapFailures(ctx context.Context, inv *invocation) (map[string]string, []string) {
	prefix := h.settings.runKey(inv.run.ID, "map") + "/"
	out := map[string]string{}
	var warnings []string
	warn := func(w string) {
		inv.log.Warn("Map failures not read", "error", w)
		warnings = append(warnings, w)
	}
	pages := s3.NewListObjectsV2Paginator(inv.s3, &s3.ListObjectsV2Input{Bucket: aws.String(h.settings.Bucket), Prefix: aws.String(prefix)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			warn(fmt.Sprintf("the Map's failed batches not read: list s3://%s/%s (the role needs s3:ListBucket): %v", h.settings.Bucket, prefix, err))
			break
		}
		for _, o := range page.Contents {
			key := aws.ToString(o.Key)
			if name := path.Base(key); !strings.HasPrefix(name, "FAILED_") || !strings.HasSuffix(name, ".json") {
				continue
			}
			var execs []childExecution
			if _, err := h.getJSON(ctx, inv, key, &execs); err != nil {
				warn(fmt.Sprintf("the Map's failed batches not read, their accounts are reported without the cause: %v", err))
				continue
			}
			for _, e := range execs {
				// A batch's input, as the ItemBatcher builds it.
				var batch struct {
					Items []item `json:"Items"`
				}
				_ = json.Unmarshal([]byte(e.Input), &batch) // an entry naming no account is no account's cause
				for _, it := range batch.Items {
					out[it.AccountID] = e.reason()
				}
			}
		}
	}
	return out, warnings
}

// childExecution is one entry of a ResultWriter file: a child execution
// of the Map, its input (the batch: {"BatchInput": …, "Items": […]}) and
// how it ended.
type childExecution struct {
	Input  string `json:"Input"`
	Status string `json:"Status"`
	Error  string `json:"Error"`
	Cause  string `json:"Cause"`
}

// reason is the error and cause, the cause reduced to the function's error
// message when it is Lambda's JSON error, and kept short.
func (e childExecution) reason() string {
	cause := e.Cause
	var lambdaErr struct {
		ErrorMessage string `json:"errorMessage"`
	}
	if json.Unmarshal([]byte(cause), &lambdaErr) == nil && lambdaErr.ErrorMessage != "" {
		cause = lambdaErr.ErrorMessage
	}
	return strings.TrimSuffix(fmt.Sprintf("%s (%s): %s", cmp.Or(e.Error, "error"), cmp.Or(e.Status, "FAILED"), shortened(cause)), ": ")
}

// shortened keeps a cause from AWS short enough for a report's line.
func shortened(s string) string {
	const most = 500
	if len(s) > most {
		return strings.ToValidUTF8(s[:most], "") + "…" // not half a character
	}
	return s
}

// putJSON stores v as JSON in the reports bucket.
func (h *handler) putJSON(ctx context.Context, inv *invocation, key string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode s3://%s/%s: %w", h.settings.Bucket, key, err)
	}
	put := &s3.PutObjectInput{Bucket: aws.String(h.settings.Bucket), Key: aws.String(key),
		Body: bytes.NewReader(data), ContentType: aws.String("application/json")}
	deliver.Encrypt(put, h.settings.KMSKeyARN)
	if _, err := inv.s3.PutObject(ctx, put); err != nil {
		return fmt.Errorf("write s3://%s/%s (the role needs s3:PutObject on the bucket): %w", h.settings.Bucket, key, err)
	}
	return nil
}

// getJSON reads the JSON object key into v; found is false when there is none.
func (h *handler) getJSON(ctx context.Context, inv *invocation, key string, v any) (found bool, err error) {
	out, err := inv.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(h.settings.Bucket), Key: aws.String(key)})
	var nsk *types.NoSuchKey
	var ae smithy.APIError
	if errors.As(err, &nsk) || (errors.As(err, &ae) && ae.ErrorCode() == "NoSuchKey") {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read s3://%s/%s (the role needs s3:GetObject on the bucket): %w", h.settings.Bucket, key, err)
	}
	defer out.Body.Close()
	if err := json.NewDecoder(out.Body).Decode(v); err != nil {
		return false, fmt.Errorf("read s3://%s/%s: %w", h.settings.Bucket, key, err)
	}
	return true, nil
}
