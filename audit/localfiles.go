package audit

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"

	"github.com/keyaudit/keyaudit/audit/inventory"
)

// ProfileIssue is a profile that assumes a role without MFA: whoever holds
// its source credentials holds the role.
type ProfileIssue struct {
	Profile       string `json:"profile"`
	Where         string `json:"where"`
	RoleARN       string `json:"role_arn"`
	SourceProfile string `json:"source_profile,omitempty"`
}

// Local is what the AWS files and environment of this machine hold.
type Local struct {
	Sightings      []inventory.Sighting
	RoleWithoutMFA []ProfileIssue
	// ShortTerm names the profiles that already use short-term
	// credentials (IAM Identity Center, credential_process, roles with MFA).
	ShortTerm []string
	// Invalid counts the values that are not key IDs (a secret pasted in
	// the wrong field, a typo); Shadowed the keys of a profile that AWS
	// tools read from another section. Each such sighting says so in its
	// Error.
	Invalid, Shadowed int
}

// ScanLocal reads the shared credentials and config files (either may be
// missing) and the environment for access key IDs. It keeps key IDs only:
// secret keys and session tokens are skipped as they are read, and errors
// never quote a line, since a malformed line may hold a secret.
func ScanLocal(credentialsPath, configPath string, getenv func(string) string) (*Local, error) {
	l := &Local{}
	creds, err := readINI(credentialsPath, false)
	if err != nil {
		return nil, err
	}
	conf, err := readINI(configPath, true)
	if err != nil {
		return nil, err
	}
	// AWS tools merge the sections of one profile, the config file's
	// first, then the credentials file's, later values winning: the
	// profile's key is the last one given. Any other key of the profile
	// cannot be checked through it (AWS would answer for the winning key).
	effective := map[string]iniSection{}
	for _, sec := range slices.Concat(conf, creds) {
		if _, ok := sec.values["aws_access_key_id"]; ok {
			effective[sec.name] = sec
		}
	}
	for _, sec := range slices.Concat(creds, conf) {
		id, ok := sec.values["aws_access_key_id"]
		if !ok {
			continue
		}
		s := sighting(id.value, fmt.Sprintf("%s [%s] line %d", sec.file, sec.name, id.line), sec.name)
		if s.Error != "" {
			l.Invalid++
		} else if win := effective[sec.name]; win.file != sec.file || win.values["aws_access_key_id"].line != id.line {
			s.Error = fmt.Sprintf("profile [%s] is given again in %s (line %d), which AWS tools use instead: this key is not checked through the profile; remove the duplicate",
				sec.name, win.file, win.values["aws_access_key_id"].line)
			l.Shadowed++
		}
		l.Sightings = append(l.Sightings, s)
	}
	for _, sec := range conf {
		switch {
		case sec.has("sso_session"), sec.has("sso_start_url"), sec.has("credential_process"):
			l.ShortTerm = append(l.ShortTerm, sec.name)
		case sec.has("role_arn") && !sec.has("mfa_serial"):
			role := sec.values["role_arn"]
			l.RoleWithoutMFA = append(l.RoleWithoutMFA, ProfileIssue{Profile: sec.name, Where: fmt.Sprintf("%s line %d", sec.file, role.line),
				RoleARN: role.value, SourceProfile: sec.values["source_profile"].value})
		case sec.has("role_arn"):
			l.ShortTerm = append(l.ShortTerm, sec.name)
		}
	}
	if id := strings.TrimSpace(getenv("AWS_ACCESS_KEY_ID")); id != "" {
		s := sighting(id, "environment variable AWS_ACCESS_KEY_ID", "")
		if s.Error != "" {
			l.Invalid++
		}
		l.Sightings = append(l.Sightings, s)
	}
	return l, nil
}

// sighting records a key ID found in a file or the environment. A value
// that is not a key ID is not kept: it may be a secret key stored in the
// wrong field.
func sighting(id, source, profile string) inventory.Sighting {
	s := inventory.Sighting{Source: source, Profile: profile, Kind: inventory.KindUnknown}
	kind, err := inventory.ClassifyKeyID(id)
	if err != nil {
		s.Error = err.Error()
		return s
	}
	s.AccessKeyID, s.Kind = id, kind
	if account, ok := inventory.KeyAccount(id); ok {
		s.OwnerAccount = account
	}
	return s
}

type iniValue struct {
	value string
	line  int
}

type iniSection struct {
	file, name string
	values     map[string]iniValue
}

func (s iniSection) has(key string) bool { _, ok := s.values[key]; return ok }

// secretKeys are read past, never kept.
var secretKeys = map[string]bool{"aws_secret_access_key": true, "aws_session_token": true, "aws_security_token": true}

// MaxSharedFileBytes bounds an AWS shared file: real ones hold a few
// profiles, and reading a huge file whole once took 14 GB.
const MaxSharedFileBytes = 4 << 20

// readINI reads an AWS shared file. In the config file, sections are
// "[profile NAME]" or "[default]"; other sections (sso-session, services)
// are not profiles.
func readINI(path string, config bool) ([]iniSection, error) {
	if path == "" {
		return nil, nil
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	limited := &io.LimitedReader{R: f, N: MaxSharedFileBytes + 1}
	var out []iniSection
	var cur *iniSection
	sc := bufio.NewScanner(limited)
	for line := 1; sc.Scan(); line++ {
		raw := sc.Text()
		text := strings.TrimSpace(raw)
		switch {
		case text == "" || text[0] == '#' || text[0] == ';':
			continue
		case raw[0] == ' ' || raw[0] == '\t':
			continue // a nested setting (s3 =\n  max_concurrent_requests = 20)
		case text[0] == '[':
			name, ok := strings.CutSuffix(text[1:], "]")
			if !ok {
				return nil, fmt.Errorf("%s:%d: a section header must end with ]", path, line)
			}
			name = strings.TrimSpace(name)
			if config {
				if p, isProfile := strings.CutPrefix(name, "profile "); isProfile {
					name = strings.TrimSpace(p)
				} else if name != "default" {
					cur = nil // sso-session, services: not a profile
					continue
				}
			}
			out = append(out, iniSection{file: path, name: name, values: map[string]iniValue{}})
			cur = &out[len(out)-1]
		default:
			key, value, ok := strings.Cut(text, "=")
			if !ok {
				return nil, fmt.Errorf("%s:%d: expected \"key = value\" (the line is not shown: it may hold a secret)", path, line)
			}
			key = strings.ToLower(strings.TrimSpace(key))
			if cur == nil || secretKeys[key] {
				continue
			}
			cur.values[key] = iniValue{value: strings.TrimSpace(value), line: line}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if limited.N <= 0 {
		return nil, fmt.Errorf("%s: larger than %d MiB: not an AWS shared credentials or config file", path, MaxSharedFileBytes>>20)
	}
	return out, nil
}
