package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyaudit/keyaudit/internal/awssim"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// localFiles writes an AWS credentials and config file and points the
// environment at them and at endpoint.
func localFiles(t *testing.T, endpoint, credentials, config string) {
	t.Helper()
	dir := t.TempDir()
	creds, conf := filepath.Join(dir, "credentials"), filepath.Join(dir, "config")
	require.NoError(t, os.WriteFile(creds, []byte(credentials), 0o600))
	require.NoError(t, os.WriteFile(conf, []byte(config), 0o600))
	for k, v := range map[string]string{
		"AWS_SHARED_CREDENTIALS_FILE": creds,
		"AWS_CONFIG_FILE":             conf,
		"AWS_ENDPOINT_URL":            endpoint,
		"AWS_REGION":                  "us-east-1",
		"AWS_EC2_METADATA_DISABLED":   "true",
		"AWS_ACCESS_KEY_ID":           "",
		"AWS_PROFILE":                 "",
	} {
		t.Setenv(k, v)
	}
}

func demoServer(t *testing.T) *awssim.Server {
	t.Helper()
	w, err := awssim.DemoWorld()
	require.NoError(t, err, "demo world")
	srv := awssim.NewServer(w, awssim.WithClock(func() time.Time { return time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC) }))
	t.Cleanup(srv.Close)
	return srv
}

// A value in aws_access_key_id that is not a key ID (a pasted secret, a
// typo) is bad input, as it is for whois: exit 2 and one line naming where
// it stands, never the value.
func TestLocalValueNotAKeyIDExitsTwo(t *testing.T) {
	const pasted = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzzPASTEDzz"
	localFiles(t, "http://127.0.0.1:9", "[pasted]\naws_access_key_id = "+pasted+"\n", "")
	for _, format := range []string{"json", "table"} {
		code, stdout, stderr := keyaudit(t, "", "local", "--check=false", "--format", format)
		assert.Equal(t, exitUsage, code, "exit code with --format %s; stderr: %s", format, stderr)
		lines := strings.Split(strings.TrimSpace(stderr), "\n")
		if assert.Len(t, lines, 1, "one line on standard error with --format %s: %q", format, stderr) {
			assert.Contains(t, lines[0], "[pasted] line 2", "the line names where the value stands")
			assert.Contains(t, lines[0], "not an access key ID")
		}
		assert.NotContains(t, stdout+stderr, pasted, "the value is never echoed")
	}
}

// A key in the config file's [default] is shadowed by the credentials
// file's [default], which the SDK reads instead: it is not answered for
// the other key's owner but reported unanswered (exit 3, said on stderr).
func TestLocalShadowedKeyIsUnanswered(t *testing.T) {
	srv := demoServer(t)
	localFiles(t, srv.URL,
		"[default]\naws_access_key_id = AKIAXA4A6GUKAXPOYXNF\naws_secret_access_key = SECRETvalueONEdoNotLeak\n",
		"[default]\naws_access_key_id = AKIA2YFQQ5J5CGOMJAGK\naws_secret_access_key = SECRETvalueTWOdoNotLeak\n")
	code, stdout, stderr := keyaudit(t, "", "local", "--format", "json")
	assert.Equal(t, exitIncomplete, code, "exit code; stderr: %s", stderr)
	assert.Equal(t, 1, strings.Count(strings.TrimSpace(stderr), "\n")+1, "one line on standard error: %q", stderr)
	assert.Contains(t, stderr, "1 of the keys was not answered")
	keys := keysByID(t, stdout)
	assert.Equal(t, "alice", keys["AKIAXA4A6GUKAXPOYXNF"].Principal, "the credentials file's key is answered")
	shadowed := keys["AKIA2YFQQ5J5CGOMJAGK"]
	assert.Empty(t, shadowed.Principal, "the shadowed key is not answered for alice")
	assert.Contains(t, shadowed.Error, "given again", "the shadowed key says why")
	assert.NotContains(t, stdout+stderr, "doNotLeak", "no secret in the output")
}

// The keys are asked at once: the endpoint answers only when all three
// questions are in flight, which asking one after another never achieves
// (the run would end unanswered at --timeout).
func TestLocalAsksKeysAtOnce(t *testing.T) {
	srv := demoServer(t)
	target, err := url.Parse(srv.URL)
	require.NoError(t, err)
	proxy := httputil.NewSingleHostReverseProxy(target)
	const keys = 3
	var (
		mu      sync.Mutex
		waiting int
		all     = make(chan struct{})
	)
	barrier := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Read first: the server notices a client that gave up only once
		// the request's body is read.
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		if strings.Contains(r.Header.Get("Authorization"), "/sts/") {
			mu.Lock()
			waiting++
			if waiting == keys {
				close(all)
			}
			mu.Unlock()
			select {
			case <-all:
			case <-r.Context().Done():
				return
			}
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(barrier.Close)
	localFiles(t, barrier.URL,
		"[a]\naws_access_key_id = AKIAXA4A6GUKAXPOYXNF\naws_secret_access_key = x\n"+
			"[b]\naws_access_key_id = AKIA2YFQQ5J5CGOMJAGK\naws_secret_access_key = x\n"+
			"[c]\naws_access_key_id = AKIAUY6VMB43AXPOYXNF\naws_secret_access_key = x\n", "")
	code, stdout, stderr := keyaudit(t, "", "local", "--format", "json", "--timeout", "20s")
	assert.Equal(t, exitOK, code, "exit code; stderr: %s", stderr)
	for id, who := range map[string]string{"AKIAXA4A6GUKAXPOYXNF": "alice", "AKIA2YFQQ5J5CGOMJAGK": "terraform", "AKIAUY6VMB43AXPOYXNF": "carol"} {
		assert.Equal(t, who, keysByID(t, stdout)[id].Principal, "owner of %s", id)
	}
}
