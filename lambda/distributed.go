package main

// The Distributed Map mode (template.yaml, Mode=distributed): a Step
// Functions state machine runs this same binary three ways. discover writes
// the run's accounts to S3; the Map audits each one in an invocation of its
// own and stores its result; merge assembles the report from the results
// and delivers it as a single invocation does.
//
// S3, under KEYAUDIT_PREFIX/runs/RUN_ID/:
//
//	accounts.json        the account list the Map reads (an array of items)
//	accounts/ID.json     each account's pipeline.AccountResult
//	map/                 the Map's ResultWriter: FAILED_*.json name the
//	                     invocations that failed, and why

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"regexp"
	"strings"

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
	stepAccount  = "account"
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

// audited is what an account step returns: small, as the Map collects it.
type audited struct {
	AccountID string `json:"account_id"`
	Status    string `json:"status"`
	Findings  int    `json:"findings"`
	Result    string `json:"result"`
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

// account audits one account of the run and stores its result. An account
// that cannot be audited is stored with status error: the invocation fails
// only when the result cannot be stored.
func (h *handler) account(ctx context.Context, in input) (audited, error) {
	rn, err := in.run()
	if err != nil {
		return audited{}, err
	}
	if in.Target == nil {
		return audited{}, errors.New("read the event: an account step needs its target account (the state machine's ItemSelector passes it)")
	}
	t := audit.Target{AccountID: in.Target.AccountID, Name: in.Target.Name}
	// Without AWS or the rules' config nothing can be stored: the Map
	// records the failure, and merge reports the account with its cause.
	inv, err := h.begin(ctx, rn, "event target", []string{t.AccountID})
	if err != nil {
		return audited{}, err
	}
	var res pipeline.AccountResult
	conn, err := inv.connect(ctx, []audit.Target{t})
	if err != nil {
		res = pipeline.Failed(t, err)
	} else {
		auditCtx, cancel := h.auditContext(ctx)
		defer cancel()
		res = pipeline.NewAuditor(inv.options(conn), conn.IAM).Audit(auditCtx, t)
	}
	key := h.settings.runKey(inv.run.ID, "accounts", t.AccountID+".json")
	if err := h.putJSON(ctx, inv, key, res); err != nil {
		return audited{}, err
	}
	return audited{AccountID: t.AccountID, Status: string(res.Account.Status), Findings: len(res.Result.Findings),
		Result: "s3://" + h.settings.Bucket + "/" + key}, nil
}

// merge assembles the run's report from the stored results and delivers
// it. An account without a result is reported as an error, with the cause
// the Map recorded when there is one.
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
	failures, err := h.mapFailures(ctx, inv)
	if err != nil {
		return Summary{}, err
	}
	targets := make([]audit.Target, len(items))
	for i, it := range items {
		targets[i] = audit.Target{AccountID: it.AccountID, Name: it.Name}
	}
	conn, err := inv.connect(ctx, targets)
	if err != nil {
		return Summary{}, err
	}
	// Each result goes to the Merger as it is read, which keeps of it what
	// the report needs: the run's inventories are never all in memory.
	merger := pipeline.NewMerger(inv.options(conn))
	var g errgroup.Group
	g.SetLimit(32)
	for _, t := range targets {
		g.Go(func() error {
			var r pipeline.AccountResult
			found, err := h.getJSON(ctx, inv, h.settings.runKey(inv.run.ID, "accounts", t.AccountID+".json"), &r)
			if err != nil {
				return err
			}
			if !found {
				r = pipeline.Failed(t, missing(failures[t.AccountID]))
			}
			merger.Add(r)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return Summary{}, err
	}
	auditCtx, cancel := h.auditContext(ctx)
	defer cancel()
	return h.finish(ctx, inv, conn, merger.Report(auditCtx))
}

// missing says why an account has no result.
func missing(failure string) error {
	if failure == "" {
		return errors.New("no result was stored: its invocation in the Distributed Map crashed, timed out or never ran (see the Map Run of the state machine's execution)")
	}
	return fmt.Errorf("its invocation in the Distributed Map failed: %s", failure)
}

// mapFailures reads the Map's ResultWriter files of failed child
// executions: the error and cause of each account's failure.
func (h *handler) mapFailures(ctx context.Context, inv *invocation) (map[string]string, error) {
	prefix := h.settings.runKey(inv.run.ID, "map") + "/"
	out := map[string]string{}
	pages := s3.NewListObjectsV2Paginator(inv.s3, &s3.ListObjectsV2Input{Bucket: aws.String(h.settings.Bucket), Prefix: aws.String(prefix)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list the Map's results under s3://%s/%s (the role needs s3:ListBucket): %w", h.settings.Bucket, prefix, err)
		}
		for _, o := range page.Contents {
			key := aws.ToString(o.Key)
			if name := path.Base(key); !strings.HasPrefix(name, "FAILED_") || !strings.HasSuffix(name, ".json") {
				continue
			}
			var execs []childExecution
			if _, err := h.getJSON(ctx, inv, key, &execs); err != nil {
				return nil, err
			}
			for _, e := range execs {
				var ev input
				if json.Unmarshal([]byte(e.Input), &ev) == nil && ev.Target != nil {
					out[ev.Target.AccountID] = e.reason()
				}
			}
		}
	}
	return out, nil
}

// childExecution is one entry of a ResultWriter file: a child execution
// of the Map, its input (the account step's event) and how it ended.
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
	const most = 500
	if len(cause) > most {
		cause = cause[:most] + "…"
	}
	return strings.TrimSuffix(fmt.Sprintf("%s (%s): %s", cmp.Or(e.Error, "error"), cmp.Or(e.Status, "FAILED"), cause), ": ")
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
