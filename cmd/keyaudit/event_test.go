package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyaudit/keyaudit/internal/golden"
	"github.com/keyaudit/keyaudit/rules"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func eventFile(name string) string { return golden.Path("events/" + name) }

// editedEvent writes the sample with old replaced by new to a file.
func editedEvent(t *testing.T, name, old, new string) string {
	t.Helper()
	data, err := os.ReadFile(eventFile(name))
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, []byte(strings.ReplaceAll(string(data), old, new)), 0o600))
	return path
}

func TestEventJudgesTheDemo(t *testing.T) {
	code, stdout, stderr := keyaudit(t, "", "event", "--demo", "--format", "json", eventFile("create-access-key.json"))
	require.Equal(t, exitOK, code, "stderr: %s", stderr)
	r := decode(t, stdout)
	require.Len(t, r.Accounts, 1, "the event's account")
	assert.Equal(t, "482917365012", r.Accounts[0].ID)
	require.Len(t, r.Findings, 1)
	assert.Equal(t, rules.KeyWithoutMFA, r.Findings[0].Rule)
	assert.Equal(t, "AKIAXA4A6GUKAXPOYXNF", r.Findings[0].AccessKeyID)
	require.Len(t, r.Actions, 1)
	assert.NotEmpty(t, r.Actions[0].Plan)
	assert.Contains(t, stderr, "judging key-created: CreateAccessKey of user alice in account 482917365012", "what changed")
	assert.Contains(t, stderr, "by arn:aws:iam::482917365012:user/ops-admin from 192.0.2.15", "who did it, from where")

	// From standard input, in a table; --fail-on as scan's.
	data, err := os.ReadFile(eventFile("health-credentials-exposed.json"))
	require.NoError(t, err)
	code, stdout, stderr = keyaudit(t, string(data), "event", "--demo", "--format", "table", "--fail-on", "critical", "-")
	assert.Equal(t, exitFindings, code, "an exposed key is critical; stderr: %s", stderr)
	assert.Contains(t, stdout, rules.KeyLeaked)
	assert.Contains(t, stdout, "ci-deploy")
}

func TestEventExitCodes(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		code       int
		stdout     bool // a report
		stderr     string
	}{
		{"malformed", eventFile("malformed.json"), exitUsage, false, "malformed.json: detail.eventTime is missing or not an RFC 3339 time"},
		{"secret instead of a key ID", editedEvent(t, "create-access-key.json", "AKIAXA4A6GUKAXPOYXNF", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
			exitUsage, false, "the key CreateAccessKey names is not an access key ID"},
		{"missing file", filepath.Join(t.TempDir(), "none.json"), exitUsage, false, "read the event: open"},
		{"ignored", editedEvent(t, "update-access-key-active.json", `"status": "Active"`, `"status": "Inactive"`), exitOK, false,
			"event not acted on: UpdateAccessKey set the key Inactive"},
		{"outside the organization", editedEvent(t, "create-access-key.json", "482917365012", "999999999999"), exitIncomplete, false,
			"account 999999999999 is not among the audited accounts: its events are not judged"},
		{"account without the audit role", editedEvent(t, "create-access-key.json", "482917365012", "904172638451"), exitIncomplete, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := keyaudit(t, "", "event", "--demo", "--format", "json", tc.file)
			assert.Equal(t, tc.code, code, "stderr: %s", stderr)
			assert.Equal(t, tc.stdout, stdout != "", "a report: %s", stdout)
			assert.Contains(t, stderr, tc.stderr)
			assert.NotContains(t, stderr, "wJalr", "a secret is never echoed")
			if tc.code == exitUsage {
				assert.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %q", stderr)
			}
		})
	}
}

func TestEventInputIsBounded(t *testing.T) {
	big := strings.Repeat(" ", 300<<10) + "{}"
	code, stdout, stderr := keyaudit(t, big, "event", "--demo", "-")
	assert.Equal(t, exitUsage, code, "stderr: %s", stderr)
	assert.Empty(t, stdout)
	assert.Contains(t, stderr, "more than the 256 KiB EventBridge delivers")
}
