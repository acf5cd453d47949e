package inventory

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
)

// LeakFormat is the shape of a list of leaked keys (docs/whois.md).
type LeakFormat string

const (
	FormatLines      LeakFormat = "key IDs, one per line"
	FormatGitleaks   LeakFormat = "gitleaks report"
	FormatTrufflehog LeakFormat = "trufflehog report"
	FormatGitHub     LeakFormat = "GitHub secret-scanning alerts"
)

// ParseLeaks reads the access key IDs in data, named name in sources and
// errors. Plain lines are taken as given, each a sighting to check; from a
// scanner's report (gitleaks JSON, trufflehog JSON lines, a GitHub
// secret-scanning alert list) only values that are AWS access key IDs are
// taken, each marked leaked, with where the scanner found it as its Source.
//
// Reports hold secrets beside key IDs (gitleaks Secret and Match,
// trufflehog RawV2, GitHub alerts of other types): a secret is never kept,
// and errors name the entry and never quote a value, not even the JSON
// decoder's own words, which quote what they could not read.
func ParseLeaks(name string, data []byte) ([]Sighting, error) {
	switch trimmed := bytes.TrimLeft(data, " \t\r\n"); {
	case len(trimmed) > 0 && trimmed[0] == '[':
		return parseArrays(name, data)
	case len(trimmed) > 0 && trimmed[0] == '{':
		return parseTrufflehog(name, data)
	}
	return parseLines(name, data)
}

func parseLines(name string, data []byte) ([]Sighting, error) {
	var keys []Sighting
	sc := bufio.NewScanner(bytes.NewReader(data))
	line := 1
	for ; sc.Scan(); line++ {
		if id := strings.TrimSpace(sc.Text()); id != "" && !strings.HasPrefix(id, "#") {
			keys = append(keys, Sighting{AccessKeyID: id, Source: fmt.Sprintf("%s line %d", name, line)})
		}
	}
	if errors.Is(sc.Err(), bufio.ErrTooLong) {
		return nil, fmt.Errorf("%s line %d is longer than %d KiB: give one key ID per line", name, line, bufio.MaxScanTokenSize>>10)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("no access key IDs in %s", name)
	}
	return keys, nil
}

// gitleaksFinding holds what whois reads of a gitleaks finding: not Match,
// which holds the whole matched text, secret included.
type gitleaksFinding struct {
	RuleID    *string
	Secret    string // the key ID, for gitleaks' AWS rule
	File      string
	StartLine int
	Commit    string
	Link      string // a permalink, when gitleaks knows the platform
}

// githubAlert holds what whois reads of a GitHub secret-scanning alert
// (REST "list secret scanning alerts").
type githubAlert struct {
	SecretType *string `json:"secret_type"`
	Secret     string  `json:"secret"` // the key ID, for type aws_access_key_id
	HTMLURL    string  `json:"html_url"`
}

// parseArrays reads a gitleaks report or a GitHub alert list, which `gh api
// --paginate` writes as one array per page, back to back. The first entry
// says which.
func parseArrays(name string, data []byte) ([]Sighting, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	var (
		format LeakFormat
		keys   []Sighting
		n      int
	)
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %s: after entry %d: %s", name, orArray(format), n, notJSON(err, "another array"))
		}
		if tok != json.Delim('[') {
			return nil, fmt.Errorf("%s: %s: after entry %d: not another JSON array", name, orArray(format), n)
		}
		for dec.More() {
			n++
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return nil, fmt.Errorf("%s: %s: entry %d: %s", name, orArray(format), n, notJSON(err, "an entry"))
			}
			if format == "" {
				if format = arrayFormat(raw); format == "" {
					return nil, fmt.Errorf("%s: JSON array: entry %d is neither a gitleaks finding (RuleID) nor a GitHub secret-scanning alert (secret_type)", name, n)
				}
			}
			id, source, err := arrayEntry(format, raw)
			if err != nil {
				return nil, fmt.Errorf("%s: %s: entry %d %w", name, format, n, err)
			}
			if id != "" {
				keys = append(keys, Sighting{AccessKeyID: id, Source: or(source, fmt.Sprintf("%s entry %d", name, n)), Leaked: true})
			}
		}
		if _, err := dec.Token(); err != nil {
			return nil, fmt.Errorf("%s: %s: after entry %d: %s", name, orArray(format), n, notJSON(err, "the array's end"))
		}
	}
	return noneFound(name, orArray(format), n, "entries", keys)
}

func arrayFormat(raw json.RawMessage) LeakFormat {
	var probe struct {
		RuleID     *string
		SecretType *string `json:"secret_type"`
	}
	switch _ = json.Unmarshal(raw, &probe); {
	case probe.RuleID != nil:
		return FormatGitleaks
	case probe.SecretType != nil:
		return FormatGitHub
	}
	return ""
}

// arrayEntry reads one entry of a report of format: the access key ID it
// names, if any, and where it was found. Its error completes "entry N".
func arrayEntry(format LeakFormat, raw json.RawMessage) (id, source string, err error) {
	if format == FormatGitleaks {
		var f gitleaksFinding
		if err := json.Unmarshal(raw, &f); err != nil || f.RuleID == nil {
			return "", "", fmt.Errorf("is not a gitleaks finding: %s", notJSON(err, "RuleID"))
		}
		return accessKeyID(f.Secret), place(f.Link, "", f.File, f.StartLine, f.Commit), nil
	}
	var a githubAlert
	if err := json.Unmarshal(raw, &a); err != nil || a.SecretType == nil {
		return "", "", fmt.Errorf("is not a GitHub secret-scanning alert: %s", notJSON(err, "secret_type"))
	}
	return accessKeyID(a.Secret), a.HTMLURL, nil
}

// trufflehogResult holds what whois reads of a line of `trufflehog --json`:
// Raw, not RawV2, which is the key ID and its secret together.
type trufflehogResult struct {
	DetectorName   *string
	Raw            string // the key ID, for the AWS detectors
	SourceMetadata struct {
		// Data holds one entry, named for the source: Git, Github,
		// Filesystem, S3, ...
		Data map[string]struct {
			Repository string `json:"repository"`
			File       string `json:"file"`
			Line       int    `json:"line"`
			Commit     string `json:"commit"`
			Link       string `json:"link"`
		}
	}
}

func parseTrufflehog(name string, data []byte) ([]Sighting, error) {
	var keys []Sighting
	results := 0
	for i, line := range bytes.Split(data, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		results++
		var r trufflehogResult
		if err := json.Unmarshal(line, &r); err != nil || r.DetectorName == nil {
			return nil, fmt.Errorf("%s: %s: line %d is not a trufflehog result: %s", name, FormatTrufflehog, i+1, notJSON(err, "DetectorName"))
		}
		id := accessKeyID(r.Raw)
		if id == "" {
			continue
		}
		source := fmt.Sprintf("%s line %d", name, i+1)
		for _, kind := range slices.Sorted(maps.Keys(r.SourceMetadata.Data)) {
			m := r.SourceMetadata.Data[kind]
			source = or(place(m.Link, m.Repository, m.File, m.Line, m.Commit), source)
			break
		}
		keys = append(keys, Sighting{AccessKeyID: id, Source: source, Leaked: true})
	}
	return noneFound(name, FormatTrufflehog, results, "results", keys)
}

// accessKeyID is v when it is an AWS access key ID (AKIA or ASIA), else
// empty: a scanner's other findings are secrets of every kind.
func accessKeyID(v string) string {
	kind, err := ClassifyKeyID(v)
	if err != nil || (kind != KindLongTerm && kind != KindTemporary) {
		return ""
	}
	return v
}

// place says where a scanner found a key: its link, which names the
// repository, commit, file and line, or those it names itself.
func place(link, repository, file string, line int, commit string) string {
	if link != "" || file == "" {
		return link
	}
	s := file
	if repository != "" {
		s = repository + " " + file
	}
	if line > 0 {
		s += fmt.Sprintf(" line %d", line)
	}
	if commit != "" {
		s += ", commit " + commit[:min(len(commit), 12)]
	}
	return s
}

// redacted says how a scanner's report comes to hide the key IDs.
var redacted = map[LeakFormat]string{
	FormatGitleaks: " (gitleaks --redact hides them)",
	FormatGitHub:   " (the API's hide_secret=true hides them)",
}

func noneFound(name string, format LeakFormat, n int, what string, keys []Sighting) ([]Sighting, error) {
	if len(keys) == 0 {
		return nil, fmt.Errorf("%s: %s: no AWS access key IDs among its %d %s%s", name, format, n, what, redacted[format])
	}
	return keys, nil
}

// notJSON says why a value could not be read, in words of its own: the
// JSON decoder's errors quote the character they stopped at, which may be
// part of a secret. want names what was expected.
func notJSON(err error, want string) string {
	var (
		syntax *json.SyntaxError
		typ    *json.UnmarshalTypeError
	)
	switch {
	case err == nil:
		return "no " + want
	case errors.As(err, &syntax):
		return fmt.Sprintf("not valid JSON at byte %d", syntax.Offset)
	case errors.As(err, &typ):
		// Value may carry the number itself ("number 3"): its kind only.
		kind, _, _ := strings.Cut(typ.Value, " ")
		return fmt.Sprintf("field %s has the wrong type (JSON %s)", typ.Field, kind)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "the JSON ends before " + want
	}
	return "not valid JSON"
}

func orArray(f LeakFormat) LeakFormat { return LeakFormat(or(string(f), "JSON array")) }

func or(s, otherwise string) string {
	if s == "" {
		return otherwise
	}
	return s
}
