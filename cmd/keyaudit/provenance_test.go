package main

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/keyaudit/keyaudit/audit/inventory"
	"github.com/keyaudit/keyaudit/internal/awssim"
	"github.com/keyaudit/keyaudit/internal/golden"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func keysByID(t *testing.T, stdout string) map[string]inventory.Sighting {
	t.Helper()
	r := decode(t, stdout)
	golden.ValidReport(t, []byte(stdout))
	out := map[string]inventory.Sighting{}
	for _, s := range r.Keys {
		out[s.AccessKeyID] = s
	}
	return out
}

const terraform = "AKIA2YFQQ5J5CGOMJAGK" // acme-prod's terraform user in the demo organization

// norole is a key of acme-sandbox, the demo's account without the audit
// role: whose it is is known, its user and state are not.
var norole = awssim.KeyID("AKIA", "904172638451", 3)

func TestWhois(t *testing.T) {
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	foreign := awssim.KeyID("AKIA", "123456789012", 5)
	issued := awssim.KeyID("ASIA", "739104582266", 1<<38+6) // issued to terraform by AssumeRole
	// Flags after the arguments, as GNU tools allow.
	code, stdout, stderr := keyaudit(t, "", "whois", "--demo", terraform, foreign, issued, "--trail", "--format", "json")
	require.Equal(t, exitOK, code, "exit code; stderr: %s", stderr)
	keys := keysByID(t, stdout)

	tf := keys[terraform]
	assert.Equal(t, "739104582266", tf.OwnerAccount, "owner of terraform's key")
	assert.True(t, tf.Audited, "terraform's account is audited")
	assert.Equal(t, "terraform", tf.Principal, "principal of terraform's key")
	if assert.NotNil(t, tf.Key, "terraform's key state") {
		assert.True(t, tf.Key.Active, "terraform's key is active")
		assert.False(t, tf.Key.CreatedAt.IsZero(), "terraform's key has a creation time")
		if assert.NotNil(t, tf.Key.Usage, "CloudTrail usage of terraform's key") {
			assert.Positive(t, tf.Key.Usage.Events, "CloudTrail events of terraform's key")
			assert.NotEmpty(t, tf.Key.Usage.UserAgents, "user agents of terraform's key")
		}
	}
	assert.Equal(t, "123456789012", keys[foreign].OwnerAccount, "owner of the foreign key")
	assert.False(t, keys[foreign].Audited, "the foreign key's account is not audited")
	if is := keys[issued].Issuer; assert.NotNil(t, is, "issuer of the temporary key") {
		assert.Equal(t, "AssumeRole", is.EventName, "issuing call")
		assert.Contains(t, is.Principal, "/terraform", "issuing principal")
	}
	r := decode(t, stdout)
	found := map[string]bool{}
	for _, f := range r.Findings {
		found[f.AccessKeyID+" "+f.Rule] = true
	}
	assert.True(t, found[foreign+" key-foreign-account"], "key-foreign-account for the foreign key: %v", found)
	assert.False(t, found[terraform+" key-foreign-account"], "an audited account's key called foreign")
}

func TestWhoisExitCodes(t *testing.T) {
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	tests := []struct {
		name string
		args []string
		want int
	}{
		{"all answered", []string{terraform}, exitOK},
		{"an answer missing", []string{terraform, norole}, exitIncomplete},
		{"not a key ID", []string{terraform, "AKIA123"}, exitUsage},
		{"not a key ID beats a missing answer", []string{norole, "AKIA123"}, exitUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := keyaudit(t, "", append([]string{"whois", "--demo", "--quiet", "--format", "json"}, tt.args...)...)
			assert.Equal(t, tt.want, code, "exit code of %s; stderr: %s", tt.name, stderr)
			keys := keysByID(t, stdout)
			assert.Len(t, keys, len(tt.args), "every key answered or explained in the report of %s", tt.name)
			// A value that is not a key ID is never echoed: it may be a secret.
			if bad, ok := keys[""]; ok {
				assert.Contains(t, bad.Error, "20 characters", "error of the malformed ID")
				assert.Contains(t, stderr, "1 of the values given is not an access key ID", "stderr of %s", tt.name)
			}
		})
	}
}

func TestWhoisReadsStandardInput(t *testing.T) {
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	code, stdout, stderr := keyaudit(t, terraform+"\n# a comment\n\nnot-a-key\n", "whois", "--demo", "--format", "json")
	assert.Equal(t, exitUsage, code, "exit code with a line that is not a key ID; stderr: %s", stderr)
	keys := keysByID(t, stdout)
	assert.Len(t, keys, 2, "keys read from standard input")
	assert.Equal(t, "terraform", keys[terraform].Principal, "principal of the first key")
	assert.NotEmpty(t, keys[""].Error, "error of the line that is not a key ID")
	assert.Contains(t, keys[""].Source, "line 4", "source of the line that is not a key ID")
}

// TestWhoisNeverEchoesWhatIsNotAKey: a secret access key pasted by mistake
// appears nowhere, in no format; the report names its position and length.
func TestWhoisNeverEchoesWhatIsNotAKey(t *testing.T) {
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	const secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	for _, format := range []string{"json", "table", "csv", "markdown", "html", "ocsf"} {
		code, stdout, stderr := keyaudit(t, "", "whois", "--demo", "--format", format, terraform, secret)
		assert.Equal(t, exitUsage, code, "exit code with a secret as a key ID, as %s; stderr: %s", format, stderr)
		assert.NotContains(t, stdout, secret, "the secret in the %s report", format)
		assert.NotContains(t, stdout, secret[:20], "the secret's start in the %s report", format)
		assert.NotContains(t, stderr, secret[:20], "the secret on standard error with %s", format)
		if format == "json" {
			bad := keysByID(t, stdout)[""]
			assert.Equal(t, "argument 2", bad.Source, "position of the value that is not a key ID")
			assert.Contains(t, bad.Error, "40 characters", "length of the value that is not a key ID")
		}
	}
}

func TestWhoisLeakedAndDuplicates(t *testing.T) {
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	code, stdout, stderr := keyaudit(t, "", "whois", "--demo", "--quiet", "--format", "json", "--leaked", terraform, terraform)
	require.Equal(t, exitOK, code, "exit code of whois --leaked; stderr: %s", stderr)
	r := decode(t, stdout)
	require.Len(t, r.Keys, 1, "a key ID given twice is looked up once")
	assert.True(t, r.Keys[0].Leaked, "--leaked marks the key")
	assert.Equal(t, "argument 1 (and 1 more times)", r.Keys[0].Source, "source of the key given twice")
	leaked := 0
	for _, f := range r.Findings {
		if f.Rule == "key-leaked" && f.AccessKeyID == terraform {
			leaked++
		}
	}
	assert.Equal(t, 1, leaked, "one key-leaked finding for the leaked key: %+v", r.Findings)
}

func TestLocalNeverShowsSecrets(t *testing.T) {
	w, err := awssim.DemoWorld()
	require.NoError(t, err, "demo world")
	srv := awssim.NewServer(w, awssim.WithClock(func() time.Time { return time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC) }))
	defer srv.Close()
	dir := golden.Path("local")
	secrets := []string{"wJalrXUtnFEMI/K7MDENG/bPxRfiCYzzSECRETzz", "SECRETvalueTWOdoNotLeak", "SECRETvalueTHREEdoNotLeak", "FwoGZXIvYXdzSESSIONTOKENdoNotLeak", "envSECRETdoNotLeak"}
	for k, v := range map[string]string{
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
		"AWS_CONFIG_FILE":             filepath.Join(dir, "config"),
		"AWS_ENDPOINT_URL":            srv.URL,
		"AWS_REGION":                  "us-east-1",
		"AWS_EC2_METADATA_DISABLED":   "true",
		"AWS_ACCESS_KEY_ID":           "AKIAUY6VMB43AXPOYXNF",
		"AWS_SECRET_ACCESS_KEY":       secrets[4],
		"AWS_PROFILE":                 "",
	} {
		t.Setenv(k, v)
	}
	var all string
	for _, format := range []string{"json", "table", "csv", "html", "markdown"} {
		code, stdout, stderr := keyaudit(t, "", "local", "--format", format)
		require.Equal(t, exitOK, code, "exit code for %s; stderr: %s", format, stderr)
		all += stdout + stderr
		if format != "json" {
			continue
		}
		keys := keysByID(t, stdout)
		alice := keys["AKIAXA4A6GUKAXPOYXNF"]
		assert.Equal(t, "default", alice.Profile, "profile of the default key")
		assert.Equal(t, "alice", alice.Principal, "principal of the default key")
		assert.Equal(t, "482917365012", alice.OwnerAccount, "owner of the default key")
		if assert.NotNil(t, alice.Key, "state of the default key") {
			assert.False(t, alice.Key.CreatedAt.IsZero(), "creation time of the default key")
			assert.True(t, alice.Key.LastUsed.Known, "last use of the default key")
		}
		env := keys["AKIAUY6VMB43AXPOYXNF"]
		assert.Contains(t, env.Source, "AWS_ACCESS_KEY_ID", "source of the environment's key")
		assert.Equal(t, "carol", env.Principal, "principal of the environment's key")
		r := decode(t, stdout)
		longTerm := 0
		for _, f := range r.Findings {
			if f.Rule == "key-long-term" {
				longTerm++
			}
		}
		assert.Equal(t, 3, longTerm, "key-long-term findings (two files' AKIA keys and the environment's)")
		if assert.Len(t, r.Warnings, 1, "warnings") {
			assert.Contains(t, r.Warnings[0], `profile "admin"`, "the admin profile assumes a role without MFA")
		}
	}
	for _, s := range secrets {
		assert.NotContains(t, all, s, "a secret in keyaudit's output")
	}
}

func TestLocalUnansweredIsIncomplete(t *testing.T) {
	dir := golden.Path("local")
	for k, v := range map[string]string{
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
		"AWS_CONFIG_FILE":             filepath.Join(dir, "config"),
		"AWS_ENDPOINT_URL":            "http://127.0.0.1:9", // nothing listens: every question fails
		"AWS_REGION":                  "us-east-1",
		"AWS_EC2_METADATA_DISABLED":   "true",
		"AWS_ACCESS_KEY_ID":           "",
		"AWS_PROFILE":                 "",
	} {
		t.Setenv(k, v)
	}
	// --timeout ends the retries of refused connections early.
	code, stdout, stderr := keyaudit(t, "", "local", "--format", "json", "--timeout", "2s")
	assert.Equal(t, exitIncomplete, code, "exit code when no key could be asked; stderr: %s", stderr)
	keys := keysByID(t, stdout)
	assert.NotEmpty(t, keys, "keys found locally")
	code, _, stderr = keyaudit(t, "", "local", "--format", "json", "--check=false")
	assert.Equal(t, exitOK, code, "exit code without --check; stderr: %s", stderr)
}
