package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Left out, --concurrency is derived and the scan logs what it chose and
// why; set, it is used as given and nothing is said.
func TestScanConcurrency(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string // in the log; empty: no line about concurrency
	}{
		{"derived", nil, `concurrency=5 why="5 accounts × 20s each to fit in a quarter of 15m0s (no deadline set); at least 10; one per account"`},
		{"derived within --timeout", []string{"--timeout", "10m"}, "to fit in a quarter of 10m0s left"},
		{"set", []string{"--concurrency", "2"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			simEnv(t)
			_, _, stderr := keyaudit(t, "", append([]string{"scan", "--org", "--format", "json", "--verbose"}, tt.args...)...)
			if tt.want == "" {
				assert.NotContains(t, stderr, "at once", "case %s: stderr", tt.name)
				return
			}
			assert.Contains(t, stderr, `msg="accounts audited at once"`, "case %s: stderr", tt.name)
			assert.Contains(t, stderr, tt.want, "case %s: stderr", tt.name)
		})
	}
}

// On a terminal with --verbose the choice is a line above the progress
// bar, in plain words: the first, then, while the organization is listed,
// only the last once it is. Without --verbose, nothing (issue 22.3).
func TestProgressPlan(t *testing.T) {
	var buf bytes.Buffer
	p := &progress{w: &buf, on: true, verbose: true, more: true, start: time.Now()}
	p.draw()
	assert.Contains(t, buf.String(), "listing the accounts", "before the first page")
	p.listed(20, true)
	p.plan(10, "20 accounts × 20s each to fit in a quarter of 15m0s (no deadline set); at least 10")
	assert.Contains(t, buf.String(), "\r\033[KAuditing up to 10 accounts at a time (--concurrency sets how many).\n", "the first plan on its own line")
	assert.NotContains(t, buf.String(), "×", "the scheduler's terms stay in the log")
	assert.Contains(t, buf.String(), "0/20+ accounts", "the bar drawn again below it, more accounts to come")
	buf.Reset()
	p.plan(30, "more listed")
	p.plan(50, "more still")
	assert.NotContains(t, buf.String(), "at a time", "plans held back while the accounts are listed")
	p.listed(1000, false)
	assert.NotContains(t, buf.String(), "up to 30 ", "a plan superseded is never shown")
	assert.Contains(t, buf.String(), "\r\033[KAuditing up to 50 accounts at a time", "the latest plan, once every account is listed")
	assert.Contains(t, buf.String(), "0/1000 accounts", "the bar with every account")
	buf.Reset()
	p.plan(80, "slower than planned")
	assert.Contains(t, buf.String(), "up to 80 accounts", "a plan after the listing is shown at once")
	buf.Reset()
	p.plan(1, "one account")
	assert.Empty(t, buf.String(), "nothing for one account")
	(&progress{w: &buf, on: false, verbose: true}).plan(10, "why")
	assert.Empty(t, buf.String(), "nothing when the bar is off (not a terminal, --quiet)")
	(&progress{w: &buf, on: true, more: true}).plan(10, "why")
	assert.Empty(t, buf.String(), "nothing without --verbose")
}

// Without --all-key-ids, keys nothing is said about stay slots; with it,
// every IAM user's key is named.
func TestScanAllKeyIDs(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "keyaudit.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte("risk:\n  trail_keys: 0\n"), 0o600), "write the config")
	for _, all := range []bool{false, true} {
		args := []string{"scan", "--demo", "--config", cfg, "--format", "json", "--quiet"}
		if all {
			args = append(args, "--all-key-ids")
		}
		_, stdout, stderr := keyaudit(t, "", args...)
		var r struct {
			Risk []struct {
				Principal   string `json:"principal"`
				AccessKeyID string `json:"access_key_id"`
			} `json:"risk"`
		}
		require.NoError(t, json.Unmarshal([]byte(stdout), &r), "all=%v: the JSON report (stderr %s)", all, stderr)
		unnamed := 0
		for _, k := range r.Risk {
			if k.AccessKeyID == "" && k.Principal != "<root_account>" {
				unnamed++
			}
		}
		if all {
			assert.Zero(t, unnamed, "--all-key-ids: every IAM user's key named")
		} else {
			assert.Positive(t, unnamed, "by default: keys without findings stay slots")
		}
	}
}
