package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOutS3ProfileAndRegion: --out s3:// is written with the run's
// --profile and from its --region, with no AWS_REGION in the environment;
// an offline scan takes both for the destination only, and refuses them
// without one. The local S3 sees which key signed and for which region.
func TestOutS3ProfileAndRegion(t *testing.T) {
	srv, _ := localS3(t)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "config"), []byte("[profile dest]\nregion = eu-west-1\n"), 0o600), "write the AWS config")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "credentials"), []byte("[dest]\naws_access_key_id = AKIADESTPROFILE00000\naws_secret_access_key = dest-secret\n"), 0o600), "write the AWS credentials")
	isolatedAWS(t, map[string]string{
		"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SESSION_TOKEN": "", "AWS_REGION": "", "AWS_DEFAULT_REGION": "", "AWS_PROFILE": "",
		"AWS_ENDPOINT_URL_S3": srv.URL,
		"AWS_CONFIG_FILE":     filepath.Join(dir, "config"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
	})

	tests := []struct {
		name       string
		args       []string
		credential string // the signature's key ID and region
	}{
		{"the profile's region", []string{"--profile", "dest"}, "AKIADESTPROFILE00000/*/eu-west-1/s3/aws4_request"},
		{"--region over the profile's", []string{"--profile", "dest", "--region", "ap-southeast-2"}, "AKIADESTPROFILE00000/*/ap-southeast-2/s3/aws4_request"},
	}
	for i, tt := range tests {
		before := len(srv.Writes())
		args := append([]string{"scan", "--credential-report", realistic(), "--as-of", asOf, "--out", fmt.Sprintf("s3://audits/run%d", i)}, tt.args...)
		code, _, stderr := keyaudit(t, "", args...)
		require.Equal(t, exitOK, code, "%s: exit code; stderr: %s", tt.name, stderr)
		writes := srv.Writes()[before:]
		require.NotEmpty(t, writes, "%s: objects written", tt.name)
		for _, w := range writes {
			ok, err := filepath.Match(tt.credential, w.Credential)
			require.NoError(t, err, "%s: pattern", tt.name)
			assert.True(t, ok, "%s: %s %s signed as %s, want %s", tt.name, w.Call, w.Path, w.Credential, tt.credential)
		}
	}

	code, _, stderr := keyaudit(t, "", "scan", "--credential-report", realistic(), "--region", "eu-west-1")
	assert.Equal(t, exitUsage, code, "--region of an offline scan without --out s3://; stderr: %s", stderr)
	assert.Contains(t, stderr, "name the credentials of --out s3://, and there is none", "the error says why")
}
