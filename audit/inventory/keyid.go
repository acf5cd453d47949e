package inventory

import (
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"regexp"
)

// The other unique-ID prefixes AWS documents ("IAM identifiers"), which
// turn up where an access key ID was expected.
const (
	KindUser              KeyKind = "IAM user (AIDA)"
	KindRole              KeyKind = "role (AROA)"
	KindGroup             KeyKind = "group (AGPA)"
	KindInstanceProfile   KeyKind = "instance profile (AIPA)"
	KindManagedPolicy     KeyKind = "managed policy (ANPA)"
	KindPolicyVersion     KeyKind = "managed policy version (ANVA)"
	KindPublicKey         KeyKind = "public key (APKA)"
	KindBearerToken       KeyKind = "STS service bearer token (ABIA)"
	KindContextCredential KeyKind = "context-specific credential (ACCA)"
	KindCertificate       KeyKind = "certificate (ASCA)"
)

var prefixes = map[string]KeyKind{
	"AKIA": KindLongTerm, "ASIA": KindTemporary,
	"AIDA": KindUser, "AROA": KindRole, "AGPA": KindGroup, "AIPA": KindInstanceProfile,
	"ANPA": KindManagedPolicy, "ANVA": KindPolicyVersion, "APKA": KindPublicKey,
	"ABIA": KindBearerToken, "ACCA": KindContextCredential, "ASCA": KindCertificate,
}

// ClassifyKeyID checks the shape of an access key (or other unique) ID and
// says what kind of ID it is by its prefix.
func ClassifyKeyID(id string) (KeyKind, error) {
	if len(id) != 20 {
		return KindUnknown, fmt.Errorf("%q: an access key ID is 20 characters, got %d", id, len(id))
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		upper := c >= 'A' && c <= 'Z'
		if !(upper || (i >= 4 && c >= '2' && c <= '7')) {
			return KindUnknown, fmt.Errorf("%q: character %d (%q) cannot appear in an access key ID (A-Z, then A-Z and 2-7)", id, i+1, c)
		}
	}
	kind, ok := prefixes[id[:4]]
	if !ok {
		return KindUnknown, fmt.Errorf("%q: unknown prefix %q: access keys start with AKIA (long-term) or ASIA (temporary)", id, id[:4])
	}
	return kind, nil
}

// KeyAccount decodes the owning account from a key ID. The encoding is
// documented by researchers, not by AWS, and keys created before about
// 2019 do not carry it: treat the result as a hint and confirm it with STS
// GetAccessKeyInfo.
func KeyAccount(id string) (string, bool) {
	if _, err := ClassifyKeyID(id); err != nil {
		return "", false
	}
	raw, err := base32.StdEncoding.DecodeString(id[4:])
	if err != nil || len(raw) < 6 {
		return "", false
	}
	var b [8]byte
	copy(b[2:], raw[:6])
	account := (binary.BigEndian.Uint64(b[:]) & 0x7fffffffff80) >> 7
	if account == 0 || account > 999999999999 {
		return "", false
	}
	return fmt.Sprintf("%012d", account), true
}

// MaskKeyID shortens a key ID for people and logs: AKIA…WXYZ. Reports
// for auditors carry the full ID.
func MaskKeyID(id string) string {
	if len(id) < 12 {
		return id
	}
	return id[:4] + "…" + id[len(id)-4:]
}

var accountIDPattern = regexp.MustCompile(`^[0-9]{12}$`)

// ValidAccountID reports whether id has the shape of an AWS account ID.
func ValidAccountID(id string) bool { return accountIDPattern.MatchString(id) }
