package audit

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyaudit/keyaudit/audit/inventory"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var localSecrets = []string{"wJalrXUtnFEMI/K7MDENG/bPxRfiCYzzSECRETzz", "SECRETvalueTWOdoNotLeak", "SECRETvalueTHREEdoNotLeak", "FwoGZXIvYXdzSESSIONTOKENdoNotLeak"}

func local(name string) string { return filepath.Join("..", "testdata", "local", name) }

func TestScanLocal(t *testing.T) {
	env := map[string]string{"AWS_ACCESS_KEY_ID": "AKIAUY6VMB43AXPOYXNF", "AWS_SECRET_ACCESS_KEY": localSecrets[0]}
	l, err := ScanLocal(local("credentials"), local("config"), func(k string) string { return env[k] })
	require.NoError(t, err)
	want := []struct {
		id, profile string
		kind        inventory.KeyKind
	}{
		{"AKIAXA4A6GUKAXPOYXNF", "default", inventory.KindLongTerm},
		{"AKIA2YFQQ5J5CGOMJAGK", "legacy", inventory.KindLongTerm},
		{"ASIAY34FZKBOKMUTVV7A", "temporary", inventory.KindTemporary},
		{"AKIAUY6VMB43AXPOYXNF", "", inventory.KindLongTerm},
	}
	require.Len(t, l.Sightings, len(want))
	for i, w := range want {
		s := l.Sightings[i]
		assert.Equal(t, w.id, s.AccessKeyID, "sighting %d", i)
		assert.Equal(t, w.profile, s.Profile, "sighting %d", i)
		assert.Equal(t, w.kind, s.Kind, "sighting %d", i)
		assert.NotEmpty(t, s.Source, "sighting %d", i)
	}
	assert.Contains(t, l.Sightings[0].Source, "credentials [default] line 3")
	if assert.Len(t, l.RoleWithoutMFA, 1, "role profiles without MFA") {
		assert.Equal(t, "admin", l.RoleWithoutMFA[0].Profile)
		assert.Equal(t, "default", l.RoleWithoutMFA[0].SourceProfile)
	}
	assert.Equal(t, []string{"admin-mfa", "sso"}, l.ShortTerm)
	assertNoSecret(t, fmt.Sprintf("%+v %#v", l, l), "scan of credentials")
}

// An old-format key ID carries no account: no owner is made up for it. A
// secret stored where the key ID belongs is neither kept nor quoted.
func TestScanLocalOldFormatAndSwappedValues(t *testing.T) {
	env := map[string]string{"AWS_ACCESS_KEY_ID": localSecrets[0]}
	l, err := ScanLocal(local("old-format-credentials"), "", func(k string) string { return env[k] })
	require.NoError(t, err)
	require.Len(t, l.Sightings, 3)

	old := l.Sightings[0]
	assert.Equal(t, "AKIAIOSFODNN7EXAMPLE", old.AccessKeyID, "old-format key")
	assert.Equal(t, inventory.KindLongTerm, old.Kind, "old-format key")
	assert.Empty(t, old.OwnerAccount, "old-format key: an owner was decoded from an ID that does not encode one")

	for i, name := range []string{"swapped profile", "environment"} {
		s := l.Sightings[i+1]
		assert.Empty(t, s.AccessKeyID, "case %s", name)
		assert.Equal(t, inventory.KindUnknown, s.Kind, "case %s", name)
		assert.Contains(t, s.Error, "not an access key ID (40 characters", "case %s", name)
		assertNoSecret(t, fmt.Sprintf("%+v", s), name)
	}
}

func TestScanLocalErrorsQuoteNoSecret(t *testing.T) {
	_, err := ScanLocal(local("malformed-credentials"), "", func(string) string { return "" })
	require.Error(t, err)
	assert.Contains(t, err.Error(), "malformed-credentials:3", "the error names the file and line")
	assertNoSecret(t, err.Error(), "malformed file")
}

func TestScanLocalMissingFiles(t *testing.T) {
	l, err := ScanLocal(local("nope"), local("nope-either"), func(string) string { return "" })
	require.NoError(t, err)
	assert.Empty(t, l.Sightings)
}

func assertNoSecret(t *testing.T, text, name string) {
	t.Helper()
	for _, secret := range localSecrets {
		assert.NotContains(t, text, secret[:12], "case %s: a secret was kept or quoted", name)
	}
}

// Duplicate sections merge in AWS tools, the later key winning: the
// earlier key is reported, marked, and never checked through the profile
// (which would answer for the later key).
func TestScanLocalDuplicateSections(t *testing.T) {
	l, err := ScanLocal(local("duplicate-default"), "", func(string) string { return "" })
	require.NoError(t, err)
	require.Len(t, l.Sightings, 2, "both keys are reported")
	assert.Equal(t, "AKIAXA4A6GUKAXPOYXNF", l.Sightings[0].AccessKeyID, "the earlier key")
	assert.Contains(t, l.Sightings[0].Error, "given again", "the earlier key is marked shadowed")
	assert.Contains(t, l.Sightings[0].Error, "line 7", "the error names the later section's line")
	assert.Empty(t, l.Sightings[1].Error, "the later key is the profile's key")
	assertNoSecret(t, fmt.Sprintf("%+v", l), "scan of duplicate sections")
}

// The SDK reads a profile's config-file section, then its credentials-file
// section, later values winning: a key in the config file's [default] is
// shadowed by one in the credentials file's, and is counted as not
// checkable rather than answered for the other key.
func TestScanLocalShadowedAcrossFiles(t *testing.T) {
	dir := t.TempDir()
	creds, conf := filepath.Join(dir, "credentials"), filepath.Join(dir, "config")
	require.NoError(t, os.WriteFile(creds, []byte("[default]\naws_access_key_id = AKIAXA4A6GUKAXPOYXNF\naws_secret_access_key = "+localSecrets[1]+"\n"), 0o600))
	require.NoError(t, os.WriteFile(conf, []byte("[default]\nregion = us-east-1\naws_access_key_id = AKIA2YFQQ5J5CGOMJAGK\n\n[profile other]\naws_access_key_id = "+localSecrets[2]+"\n"), 0o600))
	env := map[string]string{"AWS_ACCESS_KEY_ID": "not-a-key"}
	l, err := ScanLocal(creds, conf, func(k string) string { return env[k] })
	require.NoError(t, err)
	require.Len(t, l.Sightings, 4, "every sighting is reported")
	byID := map[string]inventory.Sighting{}
	for _, s := range l.Sightings {
		byID[s.AccessKeyID] = s
	}
	assert.Empty(t, byID["AKIAXA4A6GUKAXPOYXNF"].Error, "the credentials file's key is the profile's key")
	shadowed := byID["AKIA2YFQQ5J5CGOMJAGK"]
	assert.Contains(t, shadowed.Error, "given again in "+creds+" (line 2)", "the config file's key names the section AWS uses")
	assert.Equal(t, 1, l.Shadowed, "shadowed keys")
	assert.Equal(t, 2, l.Invalid, "values that are not key IDs (the config's other profile and the environment)")
	assertNoSecret(t, fmt.Sprintf("%+v", l), "scan across files")
	assert.NotContains(t, fmt.Sprintf("%+v", l), "not-a-key", "a value that is not a key ID is not echoed")
}

func TestScanLocalSizeLimit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "credentials")
	big := strings.Repeat("# padding line of a file far larger than any real credentials file\n", MaxSharedFileBytes/60)
	require.NoError(t, os.WriteFile(path, []byte("[default]\n"+big), 0o600))
	_, err := ScanLocal(path, "", func(string) string { return "" })
	require.Error(t, err, "a file over the limit")
	assert.Contains(t, err.Error(), "larger than 4 MiB", "the error says why")
}
