package awssim

import (
	"fmt"
	"strings"
	"testing"
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
		if v < 0 {
			t.Fatalf("%s: %q is not base32", id, c)
		}
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
		t.Run(fmt.Sprintf("%s/%s/%d", tt.prefix, tt.account, tt.n), func(t *testing.T) {
			id := KeyID(tt.prefix, tt.account, tt.n)
			if len(id) != 20 || !strings.HasPrefix(id, tt.prefix) || strings.Trim(id[4:], "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") != "" {
				t.Fatalf("KeyID = %s, want %s + 16 base32 characters", id, tt.prefix)
			}
			if got := decodeAccount(t, id); got != tt.account {
				t.Errorf("independent decode of %s = %s, want %s", id, got, tt.account)
			}
			if got, err := AccountFromKeyID(id); err != nil || got != tt.account {
				t.Errorf("AccountFromKeyID(%s) = %s, %v; want %s", id, got, err, tt.account)
			}
			if again := KeyID(tt.prefix, tt.account, tt.n); again != id {
				t.Errorf("KeyID is not deterministic: %s, then %s", id, again)
			}
		})
	}
}

func TestKeyIDUnique(t *testing.T) {
	seen := map[string]int{}
	for n := range 20000 {
		id := KeyID("AKIA", "123456789012", n)
		if m, dup := seen[id]; dup {
			t.Fatalf("KeyID(n=%d) = KeyID(n=%d) = %s", n, m, id)
		}
		seen[id] = n
	}
}

func TestAccountFromKeyID(t *testing.T) {
	tests := []struct {
		id      string
		want    string
		wantErr bool
	}{
		// A real key from public research on AWS key IDs.
		{"ASIAY34FZKBOKMUTVV7A", "609629065308", false},
		{"AKIA", "", true},
		{"AKIA0000000000000000", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			got, err := AccountFromKeyID(tt.id)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("AccountFromKeyID(%s) = %q, %v; want %q, error %t", tt.id, got, err, tt.want, tt.wantErr)
			}
		})
	}
}
