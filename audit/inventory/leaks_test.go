package inventory

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The fake secrets in testdata/leaks: none may survive parsing.
var leakSecrets = []string{
	"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
	"SECRETsecretSECRETsecretEXAMPLEKEY0000",
	"XXXXXXXXEXAMPLEWEBHOOKXXX",
}

func leakFixture(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "leaks", name))
	require.NoError(t, err, "read fixture %s", name)
	return data
}

func TestParseLeaks(t *testing.T) {
	tests := []struct {
		file   string
		data   []byte
		want   []Sighting
		leaked bool
	}{
		{file: "gitleaks.json", leaked: true, want: []Sighting{
			{AccessKeyID: "AKIA2YFQQ5J5CGOMJAGK", Source: "deploy/terraform.tfvars line 12, commit 9f86d081884c"},
			{AccessKeyID: "AKIATCH6YDSYQEXAMPLE", Source: "https://github.com/acme/infra/blob/2c26b46b68ffc68ff99b453c1d30413413422d70/docs/vendor-setup.md#L41"},
		}},
		{file: "trufflehog.jsonl", leaked: true, want: []Sighting{
			{AccessKeyID: "AKIAY6QOH6ZQSGOMJAGK", Source: "https://github.com/acme/monitoring.git integrations/datadog/.env line 4, commit fcde2b2edba5"},
			{AccessKeyID: "AKIA2YFQQ5J5C553C5WJ", Source: "/srv/backup/restore.sh line 19"},
		}},
		{file: "github-alerts.json", leaked: true, want: []Sighting{
			{AccessKeyID: "AKIA2YFQQ5J5C553C5WJ", Source: "https://github.com/acme/backup-scripts/security/secret-scanning/7"},
		}},
		// `gh api --paginate` writes one array per page; an alert without
		// html_url is named by its place in the export.
		{file: "pages.json", data: []byte(`[{"number":2,"secret_type":"aws_access_key_id","secret":"ASIAY34FZKBOKMUTVV7A","html_url":"https://github.com/acme/a/security/secret-scanning/2"}]
[{"number":1,"secret_type":"aws_access_key_id","secret":"AKIAXA4A6GUKAEXAMPLE"}]`), leaked: true, want: []Sighting{
			{AccessKeyID: "ASIAY34FZKBOKMUTVV7A", Source: "https://github.com/acme/a/security/secret-scanning/2"},
			{AccessKeyID: "AKIAXA4A6GUKAEXAMPLE", Source: "pages.json entry 2"},
		}},
		// Plain lines are checked later, by whois: what is not a key ID is
		// reported there, never echoed.
		{file: "standard input", data: []byte("# from the build log\nAKIA2YFQQ5J5CGOMJAGK\n\n  not-a-key  \n"), want: []Sighting{
			{AccessKeyID: "AKIA2YFQQ5J5CGOMJAGK", Source: "standard input line 2"},
			{AccessKeyID: "not-a-key", Source: "standard input line 4"},
		}},
	}
	for _, tt := range tests {
		data := tt.data
		if data == nil {
			data = leakFixture(t, tt.file)
		}
		got, err := ParseLeaks(tt.file, data)
		require.NoError(t, err, "case %s", tt.file)
		for i := range tt.want {
			tt.want[i].Leaked = tt.leaked
		}
		assert.Equal(t, tt.want, got, "case %s", tt.file)
	}
}

// TestParseLeaksKeepsNoSecret: the reports hold secrets beside the key IDs
// (gitleaks Secret and Match, trufflehog RawV2, GitHub alerts of other
// types); nothing parsed holds one.
func TestParseLeaksKeepsNoSecret(t *testing.T) {
	for _, file := range []string{"gitleaks.json", "trufflehog.jsonl", "github-alerts.json"} {
		data := leakFixture(t, file)
		require.True(t, slices.ContainsFunc(leakSecrets, func(s string) bool { return strings.Contains(string(data), s) }),
			"%s holds a fake secret, or the test proves nothing", file)
		got, err := ParseLeaks(file, data)
		require.NoError(t, err, "case %s", file)
		out, err := json.Marshal(got)
		require.NoError(t, err, "case %s", file)
		for _, secret := range leakSecrets {
			assert.NotContains(t, string(out), secret[:12], "case %s: a secret is kept", file)
		}
	}
}

// TestParseLeaksMalformed: one line naming the input, the format and the
// entry, never a value: not even the character the JSON decoder stopped at.
func TestParseLeaksMalformed(t *testing.T) {
	const secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	tests := []struct {
		name, data, want string
	}{
		{"gitleaks: a secret unquoted", `[{"RuleID":"aws-access-token","Secret":"AKIA2YFQQ5J5CGOMJAGK"},{"RuleID":"generic-api-key","Secret":` + secret + `}]`,
			"leaks.json: gitleaks report: entry 2: not valid JSON at byte"},
		{"gitleaks: cut short", `[{"RuleID":"generic-api-key","Secret":"` + secret,
			"leaks.json: JSON array: entry 1: the JSON ends before an entry"},
		{"gitleaks: an entry of another shape", `[{"RuleID":"aws-access-token","Secret":"AKIA2YFQQ5J5CGOMJAGK"},{"secret":"` + secret + `"}]`,
			"leaks.json: gitleaks report: entry 2 is not a gitleaks finding: no RuleID"},
		{"gitleaks: a number for the line", `[{"RuleID":"aws-access-token","Secret":"AKIA2YFQQ5J5CGOMJAGK","StartLine":"12"}]`,
			"leaks.json: gitleaks report: entry 1 is not a gitleaks finding: field StartLine has the wrong type (JSON string)"},
		{"gitleaks: a fraction for the line", `[{"RuleID":"aws-access-token","Secret":"AKIA2YFQQ5J5CGOMJAGK","StartLine":9.87654321}]`,
			"leaks.json: gitleaks report: entry 1 is not a gitleaks finding: field StartLine has the wrong type (JSON number)"},
		{"GitHub: a secret of the wrong type", `[{"secret_type":"aws_secret_access_key","secret":1234567}]`,
			"leaks.json: GitHub secret-scanning alerts: entry 1 is not a GitHub secret-scanning alert: field secret has the wrong type (JSON number)"},
		{"GitHub: no secret_type", `[{"number":3,"secret":"` + secret + `"}]`,
			"leaks.json: JSON array: entry 1 is neither a gitleaks finding (RuleID) nor a GitHub secret-scanning alert (secret_type)"},
		{"GitHub: a second page of something else", `[{"secret_type":"aws_access_key_id","secret":"AKIA2YFQQ5J5CGOMJAGK"}] {"secret":"` + secret + `"}`,
			"leaks.json: GitHub secret-scanning alerts: after entry 1: not another JSON array"},
		{"GitHub: secrets hidden", `[{"secret_type":"aws_access_key_id"},{"secret_type":"aws_secret_access_key"}]`,
			"leaks.json: GitHub secret-scanning alerts: no AWS access key IDs among its 2 entries (the API's hide_secret=true hides them)"},
		{"gitleaks --redact", `[{"RuleID":"aws-access-token","Secret":"REDACTED"}]`,
			"leaks.json: gitleaks report: no AWS access key IDs among its 1 entries (gitleaks --redact hides them)"},
		{"trufflehog: stderr mixed in", `{"DetectorName":"AWS","Raw":"AKIA2YFQQ5J5CGOMJAGK","RawV2":"AKIA2YFQQ5J5CGOMJAGK` + secret + `"}` + "\n" + `🐷🔑🐷  TruffleHog. Unearth your secrets. 🐷🔑🐷`,
			"leaks.json: trufflehog report: line 2 is not a trufflehog result: not valid JSON at byte 1"},
		{"trufflehog: RawV2 cut short", "\n" + `{"DetectorName":"AWS","Raw":"AKIA2YFQQ5J5CGOMJAGK","RawV2":"AKIA2YFQQ5J5CGOMJAGK` + secret,
			"leaks.json: trufflehog report: line 2 is not a trufflehog result: not valid JSON at byte 120"},
		{"trufflehog: another tool's JSON lines", `{"rule":"aws","secret":"` + secret + `"}`,
			"leaks.json: trufflehog report: line 1 is not a trufflehog result: no DetectorName"},
		{"trufflehog: no AWS key", `{"DetectorName":"SlackWebhook","Raw":"https://hooks.slack.com/services/T0/B0/XXXXXXXXEXAMPLEWEBHOOKXXX"}`,
			"leaks.json: trufflehog report: no AWS access key IDs among its 1 results"},
		{"lines: nothing", "# no keys\n\n", "no access key IDs in leaks.json"},
	}
	for _, tt := range tests {
		_, err := ParseLeaks("leaks.json", []byte(tt.data))
		if !assert.Error(t, err, "case %s", tt.name) {
			continue
		}
		assert.True(t, strings.HasPrefix(err.Error(), tt.want), "case %s: want %q, got %q", tt.name, tt.want, err)
		assert.NotContains(t, err.Error(), "\n", "case %s: one line", tt.name)
		assert.NotContains(t, err.Error(), "invalid character", "case %s: the decoder's words quote the input", tt.name)
		for _, v := range append(leakSecrets, "AKIA2YFQQ5J5CGOMJAGK", "1234567", "87654321", "TruffleHog") {
			assert.NotContains(t, err.Error(), v[:7], "case %s: a value is echoed", tt.name)
		}
	}
}

// FuzzParseLeaks: whatever a report holds, what a scanner's report yields
// is an access key ID, marked leaked, and an error is one line.
func FuzzParseLeaks(f *testing.F) {
	for _, file := range []string{"gitleaks.json", "trufflehog.jsonl", "github-alerts.json"} {
		f.Add(leakFixture(f, file))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := ParseLeaks("fuzz", data)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error of more than one line: %q", err)
			}
			return
		}
		for _, s := range got {
			if !s.Leaked {
				continue // plain lines: whois checks each
			}
			if kind, err := ClassifyKeyID(s.AccessKeyID); err != nil || (kind != KindLongTerm && kind != KindTemporary) {
				t.Errorf("a report yielded %q, not an access key ID", s.AccessKeyID)
			}
		}
	})
}
