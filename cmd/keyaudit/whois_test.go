package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/keyaudit/keyaudit/internal/pipeline"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Issue 25 item 7: 100,000 distinct IDs to whois took 35 s and 1.7 GB, and
// a long line failed with Go's own "bufio.Scanner: token too long". Past
// each bound whois says so in one line and exits 2, before asking AWS.
func TestWhoisInputIsBounded(t *testing.T) {
	var many strings.Builder
	for i := range pipeline.MaxWhoisKeys + 1 {
		fmt.Fprintf(&many, "AKIA%016d\n", i)
	}
	tests := []struct {
		name, stdin, want string
	}{
		{"too many IDs", many.String(), fmt.Sprintf("more than %d distinct key IDs (at standard input line %d): look them up in several runs", pipeline.MaxWhoisKeys, pipeline.MaxWhoisKeys+1)},
		{"too many bytes", strings.Repeat(terraform+"\n", pipeline.MaxWhoisInput/len(terraform)), "standard input is larger than 4 MiB, the most whois reads"},
		{"a long line", terraform + "\n" + strings.Repeat("x", 70_000) + "\n", "standard input line 2 is longer than 64 KiB: give one key ID per line"},
	}
	for _, tt := range tests {
		code, stdout, stderr := keyaudit(t, tt.stdin, "whois", "--demo", "--format", "json")
		assert.Equal(t, exitUsage, code, "case %s: exit code; stderr: %s", tt.name, stderr)
		assert.Empty(t, stdout, "case %s: no report", tt.name)
		assert.Equal(t, 1, strings.Count(stderr, "\n"), "case %s: one line: %q", tt.name, stderr)
		assert.Contains(t, stderr, tt.want, "case %s: stderr", tt.name)
		assert.NotContains(t, stderr, "bufio", "case %s: Go's own words", tt.name)
	}
}

// A log piped in may name one key many times: repeats cost only bytes.
func TestWhoisInputRepeatsAreNotDistinct(t *testing.T) {
	keys, err := keyIDs(nil, strings.NewReader(strings.Repeat(terraform+"\n", 2*pipeline.MaxWhoisKeys)))
	require.NoError(t, err, "one ID repeated past the limit of distinct IDs")
	assert.Len(t, keys, 2*pipeline.MaxWhoisKeys, "every sighting kept, for whois to count")
	args := make([]string, pipeline.MaxWhoisKeys+1)
	for i := range args {
		args[i] = fmt.Sprintf("AKIA%016d", i)
	}
	_, err = keyIDs(args, nil)
	assert.ErrorContains(t, err, "(at argument 10001)", "arguments count too")
}
