package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Issue 22 item 7: a profile with role_arn sent its AssumeRole to AWS's
// own STS although AWS_ENDPOINT_URL named another (the SDK reads only
// AWS_ENDPOINT_URL_STS there), and the network error that followed exited
// 2 (configuration) where an unanswered question exits 3. The proxy
// variables keep a broken build from reaching the internet: a request to
// loopback never goes through a proxy, any other fails at once.
func TestRoleProfileHonoursEndpointURL(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	config := filepath.Join(dir, "config")
	require.NoError(t, os.WriteFile(config, []byte("[profile ops]\nrole_arn = arn:aws:iam::111111111111:role/Auditor\nsource_profile = base\nregion = us-east-1\n"), 0o600), "write the config")
	creds := filepath.Join(dir, "credentials")
	require.NoError(t, os.WriteFile(creds, []byte("[base]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = not-a-real-secret\n"), 0o600), "write the credentials")
	start := time.Now()
	code, stdout, stderr := exe(t, []string{"AWS_CONFIG_FILE=" + config, "AWS_SHARED_CREDENTIALS_FILE=" + creds, "AWS_PROFILE=ops",
		"AWS_ENDPOINT_URL=http://127.0.0.1:9", "HTTPS_PROXY=http://127.0.0.1:9", "HTTP_PROXY=http://127.0.0.1:9"}, "scan", "--format", "json")
	assert.Less(t, time.Since(start), 30*time.Second, "time to fail")
	assert.Equal(t, exitIncomplete, code, "a network error is an unanswered question; stderr: %s", stderr)
	assert.Empty(t, stdout, "no report")
	assert.Contains(t, stderr, "127.0.0.1:9/", "the AssumeRole went to AWS_ENDPOINT_URL")
	assert.NotContains(t, stderr, "amazonaws.com", "not to AWS's own STS")
	assert.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %q", stderr)
}
