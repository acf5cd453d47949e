package main

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
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

// On a terminal the choice is a line above the progress bar.
func TestProgressNote(t *testing.T) {
	var buf bytes.Buffer
	p := &progress{w: &buf, on: true, total: 40, start: time.Now()}
	p.note("10 at once: why")
	assert.Contains(t, buf.String(), "\r\033[K10 at once: why\n", "the note on its own line")
	assert.Contains(t, buf.String(), "0/40 accounts", "the bar drawn again below it")
	buf.Reset()
	(&progress{w: &buf, on: false}).note("10 at once: why")
	assert.Empty(t, buf.String(), "nothing when the bar is off (not a terminal, --quiet)")
}
