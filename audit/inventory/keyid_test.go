package inventory

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestClassifyKeyID(t *testing.T) {
	tests := []struct {
		name    string
		id      string
		want    KeyKind
		wantErr string
	}{
		{"long-term key", "AKIAIOSFODNN7EXAMPLE", KindLongTerm, ""},
		{"temporary key", "ASIAY34FZKBOKMUTVV7A", KindTemporary, ""},
		{"role ID, 21 characters as AWS issues them", "AROAJ3UQRY75GDAKWTAA2", KindRole, ""},
		{"user ID, 21 characters as AWS documents them", "AIDAJQABLZS4A3QDU576Q", KindUser, ""},
		{"user ID in the key-ID shape", "AIDAY34FZKBOKMUTVV7A", KindUser, ""},
		{"group ID", "AGPAJQABLZS4A3QDU576Q", KindGroup, ""},
		{"instance profile ID", "AIPAJQABLZS4A3QDU576Q", KindInstanceProfile, ""},
		{"managed policy ID", "ANPAJQABLZS4A3QDU576Q", KindManagedPolicy, ""},
		{"policy version ID", "ANVAJQABLZS4A3QDU576Q", KindPolicyVersion, ""},
		{"public key ID", "APKAJQABLZS4A3QDU576Q", KindPublicKey, ""},
		{"bearer token ID", "ABIAJQABLZS4A3QDU576Q", KindBearerToken, ""},
		{"context-specific credential ID", "ACCAJQABLZS4A3QDU576Q", KindContextCredential, ""},
		{"certificate ID", "ASCAJQABLZS4A3QDU576Q", KindCertificate, ""},
		{"access key of 21 characters", "AKIAIOSFODNN7EXAMPLEA", KindUnknown, "21 characters"},
		{"too short", "AKIA123", KindUnknown, "7 characters"},
		{"lower case", "akiaiosfodnn7example", KindUnknown, "character 1 of 20"},
		{"a digit base32 lacks", "AKIAIOSFODNN7EXAMP1E", KindUnknown, "character 19 of 20"},
		{"unknown prefix", "AXYZIOSFODNN7EXAMPLE", KindUnknown, "no AWS ID prefix"},
	}
	for _, tt := range tests {
		got, err := ClassifyKeyID(tt.id)
		assert.Equal(t, tt.want, got, "case %s", tt.name)
		if tt.wantErr == "" {
			assert.NoError(t, err, "case %s", tt.name)
			continue
		}
		if assert.Error(t, err, "case %s", tt.name) {
			assert.Contains(t, err.Error(), tt.wantErr, "case %s", tt.name)
			assert.NotContains(t, err.Error(), tt.id, "case %s: the value is echoed", tt.name)
		}
	}
}

// A secret key given where a key ID belongs (swapped values in a
// credentials file, or pasted into whois) must never reach the output
// through the validation error, whole or in part.
func TestClassifyKeyIDNeverEchoesTheValue(t *testing.T) {
	for name, secret := range map[string]string{
		"secret key":               "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
		"secret key of base32 set": "AKIAQWERTYUIOPASDFGHJKLZXCVBNMQWERTYUIOP",
		"20 characters, bad set":   "wJalrXUtnFEMI/K7MDEN",
		"21 characters, bad set":   "AKIAwJalrXUtnFEMI/K7M",
	} {
		_, err := ClassifyKeyID(secret)
		if !assert.Error(t, err, "case %s", name) {
			continue
		}
		assert.Contains(t, err.Error(), fmt.Sprint(len(secret)), "case %s: the error names the length", name)
		for i := 0; i+6 <= len(secret); i++ {
			assert.NotContains(t, err.Error(), secret[i:i+6], "case %s: part of the value is echoed", name)
		}
	}
}

func TestKeyAccount(t *testing.T) {
	tests := []struct {
		name    string
		id      string
		want    string
		encoded bool
	}{
		// Published with its account in the research on the encoding.
		{"new-format temporary key", "ASIAY34FZKBOKMUTVV7A", "609629065308", true},
		{"new-format key from the decoding note", "ASIAQNZGKIQY56JQ7WML", "029608264753", true},
		// Old-format IDs: the 5th character before 'Q' means no account is encoded.
		{"old-format AKIAI key", "AKIAIOSFODNN7EXAMPLE", "", false},
		{"old-format AKIAJ key", "AKIAJQABLZS4A3QDU576", "", false},
		{"old-format role ID", "AROAJ3UQRY75GDAKWTAA2", "", false},
		{"malformed", "AKIA123", "", false},
	}
	for _, tt := range tests {
		got, ok := KeyAccount(tt.id)
		assert.Equal(t, tt.encoded, ok, "case %s", tt.name)
		assert.Equal(t, tt.want, got, "case %s", tt.name)
	}
}

func TestMaskKeyID(t *testing.T) {
	assert.Equal(t, "AKIA…MPLE", MaskKeyID("AKIAIOSFODNN7EXAMPLE"))
}
