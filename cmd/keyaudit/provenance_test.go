package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyaudit/keyaudit/audit/inventory"
	"github.com/keyaudit/keyaudit/internal/awssim"
	"github.com/keyaudit/keyaudit/internal/golden"
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

func TestWhois(t *testing.T) {
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	terraform := "AKIA2YFQQ5J5CGOMJAGK" // acme-prod's terraform user in the demo organization
	foreign := awssim.KeyID("AKIA", "123456789012", 5)
	issued := awssim.KeyID("ASIA", "739104582266", 1<<38+6) // issued to terraform by AssumeRole
	code, stdout, stderr := keyaudit(t, "", "whois", "--demo", "--format", "json", terraform, foreign, issued, "AKIA123")
	if code != exitOK {
		t.Fatalf("exit %d; stderr: %s", code, stderr)
	}
	keys := keysByID(t, stdout)

	tf := keys[terraform]
	if tf.OwnerAccount != "739104582266" || !tf.Audited || tf.Principal != "terraform" || tf.Key == nil || !tf.Key.Active || tf.Key.CreatedAt.IsZero() {
		t.Errorf("terraform's key = %+v", tf)
	}
	if tf.Key == nil || tf.Key.Usage == nil || tf.Key.Usage.Events == 0 || len(tf.Key.Usage.UserAgents) == 0 {
		t.Errorf("no CloudTrail usage for terraform's key: %+v", tf.Key)
	}
	if f := keys[foreign]; f.OwnerAccount != "123456789012" || f.Audited {
		t.Errorf("foreign key = %+v", f)
	}
	if is := keys[issued].Issuer; is == nil || is.EventName != "AssumeRole" || !strings.HasSuffix(is.Principal, "/terraform") {
		t.Errorf("issuer of the temporary key = %+v", is)
	}
	if bad := keys["AKIA123"]; bad.Error == "" || !strings.Contains(bad.Error, "20 characters") {
		t.Errorf("malformed ID = %+v, want a clear per-key error", bad)
	}
	r := decode(t, stdout)
	rules := map[string]string{}
	for _, f := range r.Findings {
		rules[f.AccessKeyID+" "+f.Rule] = string(f.Severity)
	}
	if _, ok := rules[foreign+" key-foreign-account"]; !ok {
		t.Errorf("no key-foreign-account for the foreign key: %v", rules)
	}
	if _, ok := rules[terraform+" key-foreign-account"]; ok {
		t.Errorf("an audited account's key was called foreign")
	}
}

func TestWhoisReadsStandardInput(t *testing.T) {
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	code, stdout, stderr := keyaudit(t, "AKIA2YFQQ5J5CGOMJAGK\n# a comment\n\nnot-a-key\n", "whois", "--demo", "--trail=false", "--format", "json")
	if code != exitOK {
		t.Fatalf("exit %d; stderr: %s", code, stderr)
	}
	keys := keysByID(t, stdout)
	if len(keys) != 2 || keys["AKIA2YFQQ5J5CGOMJAGK"].Principal != "terraform" || keys["not-a-key"].Error == "" {
		t.Errorf("keys = %+v", keys)
	}
	if !strings.Contains(keys["not-a-key"].Source, "line 4") {
		t.Errorf("source = %q, want the input line", keys["not-a-key"].Source)
	}
}

func TestLocalNeverShowsSecrets(t *testing.T) {
	w, err := awssim.DemoWorld()
	if err != nil {
		t.Fatal(err)
	}
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
	var all strings.Builder
	for _, format := range []string{"json", "table", "csv", "html", "markdown"} {
		code, stdout, stderr := keyaudit(t, "", "local", "--format", format, "--verbose")
		if code != exitOK {
			t.Fatalf("%s: exit %d; stderr: %s", format, code, stderr)
		}
		all.WriteString(stdout + stderr)
		if format != "json" {
			continue
		}
		keys := keysByID(t, stdout)
		alice := keys["AKIAXA4A6GUKAXPOYXNF"]
		if alice.Profile != "default" || alice.Principal != "alice" || alice.OwnerAccount != "482917365012" || alice.Key == nil || alice.Key.CreatedAt.IsZero() || !alice.Key.LastUsed.Known {
			t.Errorf("the default profile's key = %+v (key %+v)", alice, alice.Key)
		}
		if env := keys["AKIAUY6VMB43AXPOYXNF"]; !strings.Contains(env.Source, "AWS_ACCESS_KEY_ID") || env.Principal != "carol" {
			t.Errorf("the environment's key = %+v", env)
		}
		r := decode(t, stdout)
		longTerm := 0
		for _, f := range r.Findings {
			if f.Rule == "key-long-term" {
				longTerm++
			}
		}
		if longTerm != 3 {
			t.Errorf("%d key-long-term findings, want 3 (two files' AKIA keys and the environment's)", longTerm)
		}
		if len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], `profile "admin"`) {
			t.Errorf("warnings = %q, want the admin profile that assumes a role without MFA", r.Warnings)
		}
	}
	for _, s := range secrets {
		if strings.Contains(all.String(), s) {
			t.Errorf("a secret appears in keyaudit's output: %s", s)
		}
	}
}
