package rules

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/keyaudit/keyaudit/audit/inventory"
	"gopkg.in/yaml.v3"
)

// Thresholds are the limits the rules judge by, in days.
type Thresholds struct {
	MaxKeyAgeDays       int `yaml:"max_key_age_days"`
	UnusedDays          int `yaml:"unused_days"`
	RotationOverlapDays int `yaml:"rotation_overlap_days"`
	InactiveDays        int `yaml:"inactive_days"`
}

// Get returns a threshold by its config key; 0 for an unknown key.
func (t Thresholds) Get(key string) int {
	if p := t.field(key); p != nil {
		return *p
	}
	return 0
}

func (t *Thresholds) field(key string) *int {
	switch key {
	case "max_key_age_days":
		return &t.MaxKeyAgeDays
	case "unused_days":
		return &t.UnusedDays
	case "rotation_overlap_days":
		return &t.RotationOverlapDays
	case "inactive_days":
		return &t.InactiveDays
	}
	return nil
}

// Suppression accepts findings: a rule, and every selector given must match.
type Suppression struct {
	Rule        string
	Account     string
	Principal   string
	AccessKeyID string
	Fingerprint string
	Reason      string
	// Expires is the last day the suppression is in force; zero: never expires.
	Expires time.Time
	// Where names the file and line, for messages.
	Where string
}

// Config is the thresholds and suppressions of a run.
type Config struct {
	Thresholds   Thresholds
	Suppressions []Suppression
	// CISVersion is the benchmark version shown where one is shown (the
	// table, HTML, Markdown, keyaudit rules); JSON and CSV carry all.
	CISVersion CISVersion
	// Risk tunes the kill-first ranking (the risk section).
	Risk RiskConfig
}

// Defaults are the thresholds of docs/design.md (CIS where CIS sets one: no
// grace for two active keys).
func Defaults() Config {
	return Config{Thresholds: Thresholds{MaxKeyAgeDays: 90, UnusedDays: 45, RotationOverlapDays: 0, InactiveDays: 30}, CISVersion: DefaultCISVersion, Risk: DefaultRisk()}
}

// LoadConfig reads a YAML config file.
func LoadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("read config: %w", err)
	}
	return ParseConfig(path, data)
}

// ParseConfig reads YAML such as
//
//	cis_version: v6.0.0
//	thresholds:
//	  max_key_age_days: 90
//	suppressions:
//	  - rule: key-rotation
//	    principal: legacy-backup
//	    reason: replaced by INC-1234, due in December
//	    expires: 2026-12-31
//	risk:
//	  trail_keys: 20
//
// (parser.risk documents the risk section.) Every error names the file
// and line.
func ParseConfig(name string, data []byte) (Config, error) {
	cfg := Defaults()
	top, err := readDocument(name, data)
	if err != nil {
		return Config{}, err
	}
	if top == nil {
		return cfg, nil // an empty file: the defaults
	}
	p := parser{name: name, rules: map[string]bool{}}
	for _, r := range Catalogue() {
		p.rules[r.ID] = true
	}
	err = p.mapping(top, "top level", func(key string, v *yaml.Node) error {
		switch key {
		case "cis_version":
			ver, err := ParseCISVersion(v.Value)
			if v.Kind != yaml.ScalarNode || err != nil {
				return p.errorf(v, "cis_version %s is not a CIS benchmark version: use v4.0.1, v5.0.0, v6.0.0 or v7.0.0", describe(v))
			}
			cfg.CISVersion = ver
			return nil
		case "thresholds":
			return p.mapping(v, "thresholds", func(key string, v *yaml.Node) error {
				field := cfg.Thresholds.field(key)
				if field == nil {
					return p.errorf(v, "unknown threshold %q: use max_key_age_days, unused_days, rotation_overlap_days or inactive_days", key)
				}
				lowest := 1
				if key == "rotation_overlap_days" {
					lowest = 0
				}
				n, err := strconv.Atoi(v.Value)
				if v.Kind != yaml.ScalarNode || err != nil || n < lowest || n > 3650 {
					return p.errorf(v, "thresholds.%s must be a whole number of days from %d to 3650, got %s", key, lowest, describe(v))
				}
				*field = n
				return nil
			})
		case "suppressions":
			if v.Kind != yaml.SequenceNode {
				return p.errorf(v, "suppressions must be a list")
			}
			for _, item := range v.Content {
				s, err := p.suppression(item)
				if err != nil {
					return err
				}
				cfg.Suppressions = append(cfg.Suppressions, s)
			}
			return nil
		case "risk":
			var err error
			cfg.Risk, err = p.risk(v)
			return err
		}
		return p.errorf(v, "unknown setting %q: use cis_version, thresholds, suppressions or risk", key)
	})
	if err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// readDocument returns the top node of the one YAML document in data; nil
// for an empty file. A second document is refused: yaml.Unmarshal would
// drop it silently, and with it the settings its author meant to apply.
func readDocument(name string, data []byte) (*yaml.Node, error) {
	syntax := func(err error) error {
		return fmt.Errorf("%s: %s", name, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc, next yaml.Node
	if err := dec.Decode(&doc); errors.Is(err, io.EOF) || (err == nil && len(doc.Content) == 0) {
		return nil, nil
	} else if err != nil {
		return nil, syntax(err)
	}
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
		return doc.Content[0], nil
	case err != nil:
		return nil, syntax(err)
	}
	return nil, fmt.Errorf("%s:%d: a second YAML document: keyaudit reads one", name, next.Line)
}

type parser struct {
	name  string
	rules map[string]bool // the catalogue's rule ids
}

func (p parser) errorf(n *yaml.Node, format string, args ...any) error {
	return fmt.Errorf("%s:%d: %s", p.name, n.Line, fmt.Sprintf(format, args...))
}

// mapping calls fn for each key of a YAML mapping. A key given twice is
// refused: yaml.v3 nodes keep both, and the last would win silently.
func (p parser) mapping(n *yaml.Node, what string, fn func(key string, v *yaml.Node) error) error {
	if n.Kind != yaml.MappingNode {
		return p.errorf(n, "%s must be a mapping of settings", what)
	}
	first := map[string]int{} // key: its line
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if line, ok := first[k.Value]; ok {
			return p.errorf(k, "%q is given twice (first on line %d): keep one", k.Value, line)
		}
		first[k.Value] = k.Line
		if err := fn(k.Value, n.Content[i+1]); err != nil {
			return err
		}
	}
	return nil
}

var fingerprintHex = regexp.MustCompile(`^[0-9a-f]{16}$`)

func (p parser) suppression(n *yaml.Node) (Suppression, error) {
	s := Suppression{Where: fmt.Sprintf("%s:%d", p.name, n.Line)}
	err := p.mapping(n, "a suppression", func(key string, v *yaml.Node) error {
		if v.Kind != yaml.ScalarNode {
			return p.errorf(v, "suppression %s must be a single value", key)
		}
		val := strings.TrimSpace(v.Value)
		switch key {
		case "rule":
			if !p.rules[val] {
				return p.errorf(v, "unknown rule %q (keyaudit rules lists them)", val)
			}
			s.Rule = val
		case "account":
			if !inventory.ValidAccountID(val) {
				return p.errorf(v, "account %q is not an AWS account ID (12 digits; quote it in YAML)", val)
			}
			s.Account = val
		case "principal":
			s.Principal = val
		case "access_key_id":
			if kind, err := inventory.ClassifyKeyID(val); err != nil || (kind != inventory.KindLongTerm && kind != inventory.KindTemporary) {
				return p.errorf(v, "access_key_id %q is not an access key ID", val)
			}
			s.AccessKeyID = val
		case "fingerprint":
			if !fingerprintHex.MatchString(val) {
				return p.errorf(v, "fingerprint %q is not a finding fingerprint (16 hex digits, from the JSON report)", val)
			}
			s.Fingerprint = val
		case "reason":
			s.Reason = val
		case "expires":
			t, err := parseDate(val)
			if err != nil {
				return p.errorf(v, "expires %q is not a date such as 2026-12-31", val)
			}
			s.Expires = t
		default:
			return p.errorf(v, "unknown suppression setting %q: use rule, account, principal, access_key_id, fingerprint, reason or expires", key)
		}
		return nil
	})
	switch {
	case err != nil:
		return s, err
	case s.Rule == "":
		return s, p.errorf(n, "a suppression needs a rule")
	case s.Reason == "":
		return s, p.errorf(n, "a suppression needs a reason, for the auditor who reads the report")
	case s.Account == "" && s.Principal == "" && s.AccessKeyID == "" && s.Fingerprint == "":
		return s, p.errorf(n, "a suppression needs at least one of account, principal, access_key_id or fingerprint: suppressing a rule everywhere is a threshold change")
	}
	return s, nil
}

func parseDate(s string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, errors.New("bad date")
	}
	return t.UTC(), nil
}

func describe(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode {
		return strconv.Quote(n.Value)
	}
	return "a list or mapping"
}
