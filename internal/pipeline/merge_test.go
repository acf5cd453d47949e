package pipeline_test

import (
	"context"
	"sync"
	"testing"

	"github.com/keyaudit/keyaudit/audit"
	"github.com/keyaudit/keyaudit/audit/inventory"
	"github.com/keyaudit/keyaudit/internal/pipeline"
	"github.com/keyaudit/keyaudit/rules"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAccountResultCheck: a stored result stands as an account's only when
// it is that account's, whole (issue 25, observation 1).
func TestAccountResultCheck(t *testing.T) {
	const id = "222222222222"
	ok := pipeline.AccountResult{
		Account: inventory.Account{ID: id, Status: inventory.StatusOK},
		Result:  rules.Result{Findings: []rules.Finding{{AccountID: id}}, Actions: []rules.Action{{AccountID: id}}},
	}
	for name, tc := range map[string]struct {
		change func(*pipeline.AccountResult)
		want   string // "" when the result stands
	}{
		"the account's own": {func(*pipeline.AccountResult) {}, ""},
		"an error stored":   {func(r *pipeline.AccountResult) { *r = pipeline.Failed(audit.Target{AccountID: id}, assert.AnError) }, ""},
		"empty ({})":        {func(r *pipeline.AccountResult) { *r = pipeline.AccountResult{} }, "result unreadable: it names no account"},
		"another account's": {func(r *pipeline.AccountResult) { r.Account.ID = "111111111111" }, "result of account 111111111111 stored under " + id},
		"not an account ID": {func(r *pipeline.AccountResult) { r.Account.ID = "xoxb-secret" }, "result of account (not an account ID) stored under " + id},
		"no status":         {func(r *pipeline.AccountResult) { r.Account.Status = "" }, "result unreadable: its account has no status"},
		"another's finding": {func(r *pipeline.AccountResult) { r.Result.Findings = []rules.Finding{{AccountID: "111111111111"}} }, "holds findings of account 111111111111"},
		"another's action":  {func(r *pipeline.AccountResult) { r.Result.Actions = []rules.Action{{AccountID: "111111111111"}} }, "holds actions of account 111111111111"},
	} {
		r := ok
		tc.change(&r)
		err := r.Check(id)
		if tc.want == "" {
			assert.NoError(t, err, "case %s", name)
			continue
		}
		if assert.Error(t, err, "case %s", name) {
			assert.Contains(t, err.Error(), tc.want, "case %s", name)
			assert.NotContains(t, err.Error(), "xoxb", "case %s: what is not an account ID is not echoed", name)
		}
	}
}

// TestBatchMergesAsLive: the Distributed Map's batch step audits its
// accounts as Live does: each result handed over once, and merged they
// give Live's report.
func TestBatchMergesAsLive(t *testing.T) {
	w := world(t, nil)
	_, conn := dial(t, w, pipeline.Selection{Org: true})
	targets := list(t, conn)
	opts := options()
	opts.Concurrency = 2
	want := pipeline.Live(context.Background(), opts, fixed(targets...), conn.IAM)

	merger := pipeline.NewMerger(opts)
	var mu sync.Mutex
	seen := map[string]int{}
	pipeline.Batch(context.Background(), opts, targets, conn.IAM, func(r pipeline.AccountResult) {
		mu.Lock()
		seen[r.Account.ID]++
		mu.Unlock()
		merger.Add(r)
	})
	require.Len(t, seen, len(targets), "a result for every account of the batch")
	for id, n := range seen {
		assert.Equal(t, 1, n, "account %s handed over once", id)
	}
	assert.Equal(t, want, merger.Report(context.Background()), "the batch's results merge into Live's report")
}
