package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyaudit/keyaudit/internal/golden"
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

// Issue 23: whois reads a scanner's report as it is written, from --from
// or standard input, takes its AWS key IDs as leaked and says where each
// was found.
func TestWhoisReadsScannerReports(t *testing.T) {
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	tests := []struct {
		file string
		want map[string]string // key ID: where it was found
	}{
		{"gitleaks.json", map[string]string{
			terraform:              "deploy/terraform.tfvars line 12, commit 9f86d081884c",
			"AKIATCH6YDSYQEXAMPLE": "https://github.com/acme/infra/blob/2c26b46b68ffc68ff99b453c1d30413413422d70/docs/vendor-setup.md#L41",
		}},
		{"trufflehog.jsonl", map[string]string{
			"AKIAY6QOH6ZQSGOMJAGK": "https://github.com/acme/monitoring.git integrations/datadog/.env line 4, commit fcde2b2edba5",
			"AKIA2YFQQ5J5C553C5WJ": "/srv/backup/restore.sh line 19",
		}},
		{"github-alerts.json", map[string]string{
			"AKIA2YFQQ5J5C553C5WJ": "https://github.com/acme/backup-scripts/security/secret-scanning/7",
		}},
	}
	for _, tt := range tests {
		path := golden.Path(filepath.Join("leaks", tt.file))
		data, err := os.ReadFile(path)
		require.NoError(t, err, "read %s", tt.file)
		for how, run := range map[string]func() (int, string, string){
			"--from FILE": func() (int, string, string) {
				return keyaudit(t, "", "whois", "--demo", "--quiet", "--format", "json", "--from", path)
			},
			"standard input": func() (int, string, string) {
				return keyaudit(t, string(data), "whois", "--demo", "--quiet", "--format", "json")
			},
		} {
			code, stdout, stderr := run()
			require.Equal(t, exitOK, code, "case %s by %s: exit code; stderr: %s", tt.file, how, stderr)
			keys := keysByID(t, stdout)
			assert.Len(t, keys, len(tt.want), "case %s by %s: the AWS key IDs of the report, and nothing else", tt.file, how)
			for id, source := range tt.want {
				assert.Equal(t, source, keys[id].Source, "case %s by %s: where %s was found", tt.file, how, id)
				assert.True(t, keys[id].Leaked, "case %s by %s: %s is leaked without --leaked", tt.file, how, id)
			}
			leaked := map[string]bool{}
			for _, f := range decode(t, stdout).Findings {
				if f.Rule == "key-leaked" {
					leaked[f.AccessKeyID] = true
				}
			}
			assert.Len(t, leaked, len(tt.want), "case %s by %s: a key-leaked finding for each key", tt.file, how)
		}
	}
}

// TestWhoisReportsShowNoSecret: the reports hold fake secrets beside the
// key IDs; none reaches standard output, standard error or a file written,
// in any format, nor an error about a malformed report, which names the
// file, the format and the entry.
func TestWhoisReportsShowNoSecret(t *testing.T) {
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	const secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	secrets := []string{ // parts of the fakes in testdata/leaks
		secret[:16], "SECRETsecretSECRET", "EXAMPLEWEBHOOK",
		"AKIAY6QOH6ZQSGOMJAGKwJalr", "AKIA2YFQQ5J5C553C5WJSECRET", // RawV2: the key ID and its secret
	}
	noSecret := func(what, text string) {
		t.Helper()
		for _, s := range secrets {
			assert.NotContains(t, text, s, "%s: a secret is shown", what)
		}
	}
	for _, file := range []string{"gitleaks.json", "trufflehog.jsonl", "github-alerts.json"} {
		path := golden.Path(filepath.Join("leaks", file))
		for _, format := range []string{"json", "table", "csv", "markdown", "html", "ocsf"} {
			code, stdout, stderr := keyaudit(t, "", "whois", "--demo", "--format", format, "--log-format", "json", "--from", path)
			assert.Equal(t, exitOK, code, "%s as %s: exit code; stderr: %s", file, format, stderr)
			assert.NotEmpty(t, stdout, "%s as %s: a report", file, format)
			noSecret(file+" as "+format, stdout+stderr)
		}
		dir := t.TempDir()
		code, stdout, stderr := keyaudit(t, "", "whois", "--demo", "--out", dir, "--from", path)
		assert.Equal(t, exitOK, code, "%s --out: exit code; stderr: %s", file, stderr)
		noSecret(file+" --out", stdout+stderr)
		written, err := os.ReadDir(dir)
		require.NoError(t, err, "%s --out: read the directory", file)
		assert.NotEmpty(t, written, "%s --out: files written", file)
		for _, f := range written {
			b, err := os.ReadFile(filepath.Join(dir, f.Name()))
			require.NoError(t, err, "%s --out: read %s", file, f.Name())
			noSecret(file+" --out "+f.Name(), string(b))
		}
	}

	dir := t.TempDir()
	for name, tt := range map[string]struct{ data, want string }{
		"gitleaks": {`[{"RuleID":"aws-access-token","Secret":"AKIA2YFQQ5J5CGOMJAGK"},{"RuleID":"generic-api-key","Secret":` + secret + `}]`,
			": gitleaks report: entry 2: not valid JSON at byte "},
		"trufflehog": {`{"DetectorName":"AWS","Raw":"AKIA2YFQQ5J5CGOMJAGK","RawV2":"AKIA2YFQQ5J5CGOMJAGK` + secret + `"` + "\n" + `{"RawV2":"` + secret + `"}`,
			": trufflehog report: line 1 is not a trufflehog result: not valid JSON at byte "},
		"GitHub": {`[{"secret_type":"aws_secret_access_key","secret":"` + secret + `"},{"secret":"` + secret + `"}]`,
			": GitHub secret-scanning alerts: entry 2 is not a GitHub secret-scanning alert: no secret_type"},
	} {
		path := filepath.Join(dir, name+".json")
		require.NoError(t, os.WriteFile(path, []byte(tt.data), 0o600), "write %s", name)
		for _, format := range []string{"json", "table"} {
			code, stdout, stderr := keyaudit(t, "", "whois", "--demo", "--format", format, "--from", path)
			assert.Equal(t, exitUsage, code, "malformed %s as %s: exit code; stderr: %s", name, format, stderr)
			assert.Empty(t, stdout, "malformed %s as %s: no report", name, format)
			assert.Equal(t, 1, strings.Count(stderr, "\n"), "malformed %s as %s: one line: %q", name, format, stderr)
			assert.Contains(t, stderr, path+tt.want, "malformed %s as %s: the file, format and entry", name, format)
			noSecret("malformed "+name+" as "+format, stdout+stderr)
		}
	}
}

func TestWhoisFrom(t *testing.T) {
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	dir := t.TempDir()
	lines := filepath.Join(dir, "keys.txt")
	require.NoError(t, os.WriteFile(lines, []byte("# found in the build log\n"+terraform+"\n"), 0o600), "write the key list")
	code, stdout, stderr := keyaudit(t, "", "whois", "--demo", "--quiet", "--format", "json", "--from", lines)
	require.Equal(t, exitOK, code, "plain lines from a file; stderr: %s", stderr)
	k := keysByID(t, stdout)[terraform]
	assert.Equal(t, lines+" line 2", k.Source, "the file and line of the key")
	assert.False(t, k.Leaked, "a plain list is leaked only with --leaked")

	code, _, stderr = keyaudit(t, terraform+"\n", "whois", "--demo", "--quiet", "--format", "json", "--from", "-")
	assert.Equal(t, exitOK, code, "--from - reads standard input; stderr: %s", stderr)

	for name, tt := range map[string]struct {
		args []string
		want string
	}{
		"with arguments": {[]string{"--from", lines, terraform}, "give key IDs as arguments or with --from, not both"},
		"no such file":   {[]string{"--from", filepath.Join(dir, "none.json")}, "--from: open " + filepath.Join(dir, "none.json")},
		"too large":      {[]string{"--from", bigFile(t, dir)}, "big.json is larger than 4 MiB, the most whois reads"},
	} {
		code, stdout, stderr := keyaudit(t, "", append([]string{"whois", "--demo", "--format", "json"}, tt.args...)...)
		assert.Equal(t, exitUsage, code, "case %s: exit code; stderr: %s", name, stderr)
		assert.Empty(t, stdout, "case %s: no report", name)
		assert.Equal(t, 1, strings.Count(stderr, "\n"), "case %s: one line: %q", name, stderr)
		assert.Contains(t, stderr, tt.want, "case %s: stderr", name)
	}
}

func bigFile(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "big.json")
	entry := `{"RuleID":"aws-access-token","Secret":"` + terraform + `"},`
	data := "[" + strings.Repeat(entry, pipeline.MaxWhoisInput/len(entry)+1) + "]"
	require.NoError(t, os.WriteFile(path, []byte(data), 0o600), "write the large report")
	return path
}
