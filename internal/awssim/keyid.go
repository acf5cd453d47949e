package awssim

import (
	"encoding/base32"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
)

// maxKeyN bounds KeyID's n: the 39 bits of an ID that do not carry the account.
const maxKeyN = 1 << 39

// KeyID returns a unique ID in AWS's shape: the 4-character prefix ("AKIA",
// "ASIA", "AIDA", "AROA") and 16 base32 characters that encode account the
// way AWS does, so the owner can be decoded from the ID alone. Access key
// IDs (AKIA, ASIA) have 20 characters; the other unique IDs, as AWS issues
// them, one more (21). The same
// (prefix, account, n) always gives the same ID; distinct n give distinct
// IDs. It panics if account is not 12 digits or n is outside [0, 2^39):
// IDs are made from fixtures, where either is a bug.
func KeyID(prefix, account string, n int) string {
	acct, err := parseAccount(account)
	if err != nil {
		panic(fmt.Sprintf("awssim.KeyID: %v", err))
	}
	if n < 0 || n >= maxKeyN {
		panic(fmt.Sprintf("awssim.KeyID: n %d out of range", n))
	}
	// Scramble n (a bijection on 39 bits) so that IDs look random, as real
	// ones do, rather than counting up in the last characters.
	m := (uint64(n)*0x5DEECE66D + 0xB) & (maxKeyN - 1)
	m ^= m >> 19
	// The top bit is set in keys AWS issues today; it is not part of the
	// account, so decoders mask it out.
	z := 1<<47 | acct<<7 | m>>32
	var b [10]byte
	binary.BigEndian.PutUint16(b[0:2], uint16(z>>32))
	binary.BigEndian.PutUint32(b[2:6], uint32(z))
	binary.BigEndian.PutUint32(b[6:10], uint32(m))
	id := prefix + base32.StdEncoding.EncodeToString(b[:])
	if prefix != "AKIA" && prefix != "ASIA" {
		id += string(base32Alphabet[n%32])
	}
	return id
}

const base32Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

// ErrNotEncoded: an old-format ID (before about 2019, e.g. AKIAI…) does not
// carry its account; only AWS's records know it.
var ErrNotEncoded = errors.New("old-format ID: the account is not encoded in it")

// AccountFromKeyID decodes the owning account from an AWS unique ID, as
// STS GetAccessKeyInfo does for keys it does not otherwise know.
func AccountFromKeyID(id string) (string, error) {
	if len(id) != 20 && len(id) != 21 {
		return "", fmt.Errorf("decode account from key ID %q: want 20 or 21 characters, got %d", id, len(id))
	}
	b, err := base32.StdEncoding.DecodeString(id[4:20])
	if err != nil {
		return "", fmt.Errorf("decode account from key ID %q: %w", id, err)
	}
	z := uint64(binary.BigEndian.Uint16(b[0:2]))<<32 | uint64(binary.BigEndian.Uint32(b[2:6]))
	if z&(1<<47) == 0 {
		return "", fmt.Errorf("decode account from key ID %q: %w", id, ErrNotEncoded)
	}
	return fmt.Sprintf("%012d", (z&0x7fffffffff80)>>7), nil
}

func parseAccount(account string) (uint64, error) {
	if !validAccountID(account) {
		return 0, fmt.Errorf("account ID %q is not 12 digits", account)
	}
	return strconv.ParseUint(account, 10, 64)
}

func validAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
