package pipeline_test

import (
	"bytes"
	"context"
	"log/slog"
	"testing"

	"github.com/keyaudit/keyaudit/audit/inventory"
	"github.com/keyaudit/keyaudit/internal/pipeline"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Live with Concurrency 0 derives it from the accounts and the time left,
// and logs what it chose and why.
func TestLiveDerivesConcurrency(t *testing.T) {
	_, conn := dial(t, world(t, nil), pipeline.Selection{Org: true})
	require.Len(t, list(t, conn), 5, "discovered active accounts")
	var log bytes.Buffer
	opts := options()
	opts.Concurrency = 0
	opts.Logger = slog.New(slog.NewTextHandler(&log, nil))
	r := pipeline.Live(context.Background(), opts, conn.Targets, conn.IAM)
	assert.Len(t, r.Accounts, 5, "every target is reported")
	assert.Equal(t, 3, r.Summary.Accounts[string(inventory.StatusOK)], "accounts audited ok, as with a set concurrency")
	assert.Contains(t, log.String(), `msg="accounts audited at once" concurrency=5 why="5 accounts × 20s each to fit in a quarter of 15m0s (no deadline set); at least 10; one per account"`,
		"the log says the concurrency chosen and why")
}
