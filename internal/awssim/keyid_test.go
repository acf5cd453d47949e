package awssim

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// decodeAccount is an independent decoder, written from the published
// method rather than shared with the package: base32-decode ID[4:], read
// the first 6 bytes big-endian, mask and shift.
func decodeAccount(t *testing.T, id string) string {
	t.Helper()
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	// 48 bits: nine characters of 5 bits, then the top 3 bits of the tenth.
	var z uint64
	for i, c := range id[4:14] {
		v := strings.IndexRune(alphabet, c)
		require.GreaterOrEqual(t, v, 0, "%s: %q is not base32", id, c)
		if i == 9 {
			z = z<<3 | uint64(v)>>2
			break
		}
		z = z<<5 | uint64(v)
	}
	return fmt.Sprintf("%012d", (z&0x7fffffffff80)>>7)
}

func TestKeyIDRoundTrip(t *testing.T) {
	tests := []struct {
		prefix  string
		account string
		n       int
	}{
		{"AKIA", "123456789012", 1},
		{"AKIA", "000000000001", 0},
		{"ASIA", "999999999999", 1<<39 - 1},
		{"AIDA", "609629065308", 42},
		{"AROA", "111111111111", 1 << 38},
	}
	for _, tt := range tests {
		name := fmt.Sprintf("%s/%s/%d", tt.prefix, tt.account, tt.n)
		id := KeyID(tt.prefix, tt.account, tt.n)
		wantLen := 21 // unique IDs of users, roles, …
		if tt.prefix == "AKIA" || tt.prefix == "ASIA" {
			wantLen = 20 // access key IDs
		}
		require.Len(t, id, wantLen, "case %s", name)
		assert.True(t, strings.HasPrefix(id, tt.prefix), "case %s: prefix of %s", name, id)
		assert.Empty(t, strings.Trim(id[4:], "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"), "case %s: %s is base32 after the prefix", name, id)
		assert.Equal(t, tt.account, decodeAccount(t, id), "case %s: independent decode", name)
		got, err := AccountFromKeyID(id)
		assert.NoError(t, err, "case %s", name)
		assert.Equal(t, tt.account, got, "case %s", name)
		assert.Equal(t, id, KeyID(tt.prefix, tt.account, tt.n), "case %s: deterministic", name)
	}
}

func TestKeyIDUnique(t *testing.T) {
	seen := map[string]int{}
	for n := range 20000 {
		id := KeyID("AKIA", "123456789012", n)
		m, dup := seen[id]
		require.False(t, dup, "KeyID(n=%d) = KeyID(n=%d) = %s", n, m, id)
		seen[id] = n
	}
}

func TestAccountFromKeyID(t *testing.T) {
	tests := []struct {
		name       string
		id         string
		want       string
		wantErr    bool
		notEncoded bool
	}{
		// A real key from public research on AWS key IDs.
		{"new-format key", "ASIAY34FZKBOKMUTVV7A", "609629065308", false, false},
		{"old-format key: no account encoded", "AKIAIOSFODNN7EXAMPLE", "", true, true},
		{"too short", "AKIA", "", true, false},
		{"not base32", "AKIA0000000000000000", "", true, false},
	}
	for _, tt := range tests {
		got, err := AccountFromKeyID(tt.id)
		assert.Equal(t, tt.want, got, "case %s", tt.name)
		assert.Equal(t, tt.wantErr, err != nil, "case %s: error %v", tt.name, err)
		assert.Equal(t, tt.notEncoded, errors.Is(err, ErrNotEncoded), "case %s: ErrNotEncoded", tt.name)
	}
}
