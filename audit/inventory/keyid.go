package inventory

import (
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"regexp"
)

// The other unique-ID prefixes AWS documents ("IAM identifiers", Understanding
// unique ID prefixes), which turn up where an access key ID was expected.
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

// validLength: access key IDs (AKIA, ASIA) are 20 characters; the other
// unique IDs are 21 in AWS's documentation and in the wild
// (AIDAJQABLZS4A3QDU576Q), and 20 where tools mint them in the key-ID shape,
// so both are accepted for them.
func validLength(kind KeyKind, n int) bool {
	if kind == KindLongTerm || kind == KindTemporary {
		return n == 20
	}
	return n == 20 || n == 21
}

// ClassifyKeyID checks the shape of an access key (or other unique) ID and
// says what kind of ID it is by its prefix. Its errors never quote the
// value: a value that is not a key ID may be a secret key pasted by mistake.
func ClassifyKeyID(id string) (KeyKind, error) {
	if len(id) < 20 || len(id) > 21 {
		return KindUnknown, fmt.Errorf("value is not an access key ID (%d characters; access key IDs are 20 characters)", len(id))
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		upper := c >= 'A' && c <= 'Z'
		if !(upper || (i >= 4 && c >= '2' && c <= '7')) {
			return KindUnknown, fmt.Errorf("value is not an access key ID: character %d of %d cannot appear in one (A-Z, then A-Z and 2-7)", i+1, len(id))
		}
	}
	kind, ok := prefixes[id[:4]]
	if !ok {
		return KindUnknown, fmt.Errorf("value is not an access key ID: its first 4 characters are no AWS ID prefix (access keys start with AKIA, long-term, or ASIA, temporary)")
	}
	if !validLength(kind, len(id)) {
		return KindUnknown, fmt.Errorf("value is not an access key ID (%d characters; access key IDs are 20 characters)", len(id))
	}
	return kind, nil
}

// KeyAccount decodes the owning account from a key ID. AWS does not
// document the encoding; researchers do: the 16 characters after the prefix
// are base32, the first bit of them (bit 20 of the ID, the 5th character at
// or after 'Q') marks the new generation of IDs, and only those carry the
// account, in the next 40 bits: (first 48 bits & 0x7fffffffff80) >> 7.
// Old-generation IDs (AKIAI…, AKIAJ…, issued before about 2019) carry no
// account and answer false. Sources: WithSecure Labs, "A bitwise analysis
// of AWS access key identifiers" (Sivakumaran, 2023); Tal Be'ery, "A short
// note on AWS KEY ID" (2023); Aidan Steele, "AWS Access Key ID formats"
// (2020). Treat the result as a hint and confirm it with STS GetAccessKeyInfo.
func KeyAccount(id string) (string, bool) {
	if _, err := ClassifyKeyID(id); err != nil {
		return "", false
	}
	raw, err := base32.StdEncoding.DecodeString(id[4:20])
	if err != nil || len(raw) < 6 {
		return "", false
	}
	var b [8]byte
	copy(b[2:], raw[:6])
	z := binary.BigEndian.Uint64(b[:])
	if z&(1<<47) == 0 {
		return "", false // old generation: the account is not encoded
	}
	account := (z & 0x7fffffffff80) >> 7
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
