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
	keys, err := keyIDs(nil, "", strings.NewReader(strings.Repeat(terraform+"\n", 2*pipeline.MaxWhoisKeys)))
	require.NoError(t, err, "one ID repeated past the limit of distinct IDs")
	assert.Len(t, keys, 2*pipeline.MaxWhoisKeys, "every sighting kept, for whois to count")
	args := make([]string, pipeline.MaxWhoisKeys+1)
	for i := range args {
		args[i] = fmt.Sprintf("AKIA%016d", i)
	}
	_, err = keyIDs(args, "", nil)
	assert.ErrorContains(t, err, "(at argument 10001)", "arguments count too")
}

// Issue 22 item 7: whois with no working credentials printed nothing, not
// even what an ID tells by itself. It reports the kind and the account the
// ID encodes, says each is unconfirmed, and exits 3 (an unanswered
// question), whether the credentials are missing or AWS cannot be reached.
func TestWhoisWithoutAWSReportsWhatTheIDTells(t *testing.T) {
	const key, owner = "AKIA2YFQQ5J5CGOMJAGK", "739104582266"
	dir := t.TempDir()
	for name, env := range map[string]map[string]string{
		"no credentials": {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""},
		"unreachable":    {"AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE", "AWS_SECRET_ACCESS_KEY": "not-a-real-secret", "AWS_ENDPOINT_URL": "http://127.0.0.1:9"},
	} {
		t.Run(name, func(t *testing.T) {
			for k, v := range map[string]string{"AWS_PROFILE": "", "AWS_SESSION_TOKEN": "", "AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
				"AWS_CONFIG_FILE": dir + "/none", "AWS_SHARED_CREDENTIALS_FILE": dir + "/none", "AWS_ENDPOINT_URL": ""} {
				t.Setenv(k, v)
			}
			for k, v := range env {
				t.Setenv(k, v)
			}
			code, _, stderr := keyaudit(t, "", "whois", "--format", "json", key, "AIDAJQABLZS4A3QDU576")
			assert.Equal(t, exitUsage, code, "case %s: a value that is not a key ID is still bad input; stderr: %s", name, stderr)
			code, stdout, stderr := keyaudit(t, "", "whois", "--format", "json", key)
			assert.Equal(t, exitIncomplete, code, "case %s: exit code; stderr: %s", name, stderr)
			assert.Equal(t, 1, strings.Count(stderr, "\n"), "case %s: one line: %q", name, stderr)
			assert.Contains(t, stderr, "only what the key IDs tell by themselves is reported, AWS was not asked: ", "case %s: stderr", name)
			r := decode(t, stdout)
			require.Len(t, r.Keys, 1, "case %s: the key is reported", name)
			assert.Equal(t, key, r.Keys[0].AccessKeyID, "case %s: its ID", name)
			assert.Equal(t, "long-term", string(r.Keys[0].Kind), "case %s: its kind", name)
			assert.Equal(t, owner, r.Keys[0].OwnerAccount, "case %s: the account its ID encodes", name)
			assert.Contains(t, r.Keys[0].Error, "not confirmed with AWS: account "+owner+" is read from the key ID alone", "case %s: what was not confirmed", name)
			assert.Contains(t, r.Incomplete, "AWS was not asked", "case %s: the report says why", name)
			assert.Empty(t, r.Findings, "case %s: no key judged foreign on a guess", name)
		})
	}
}
