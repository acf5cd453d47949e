package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// Left out, --concurrency is derived and the scan says what it chose and
// why; set, it is used as given and nothing is said.
func TestScanConcurrency(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string // on stderr; empty: no line about concurrency
	}{
		{"derived", nil, "auditing 5 accounts, 5 at once: 5 accounts × 20s each to fit in a quarter of 15m0s (no deadline set); at least 10; one per account (--concurrency sets it)\n"},
		{"derived within --timeout", []string{"--timeout", "10m"}, "to fit in a quarter of 10m0s left"},
		{"set", []string{"--concurrency", "2"}, ""},
		{"quiet", []string{"--quiet"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			simEnv(t)
			_, _, stderr := keyaudit(t, "", append([]string{"scan", "--org", "--format", "json"}, tt.args...)...)
			if tt.want == "" {
				assert.NotContains(t, stderr, "at once", "case %s: stderr", tt.name)
				return
			}
			assert.Contains(t, stderr, tt.want, "case %s: stderr", tt.name)
		})
	}
}
