package rules

import (
	"encoding/json"
	"fmt"
	"maps"
	"strings"
)

// CISVersion is a version of the CIS AWS Foundations Benchmark. Versions
// v1.4.0 to v4.0.1 share one numbering of the IAM recommendations; v5.0.0
// dropped one before them and v6.0.0 moved IAM to section 2; v7.0.0 added
// Organizations recommendations before the root's (2.1.x to 2.3) and
// dropped those on keys created at user setup and on two active keys.
type CISVersion string

const (
	CISv4 CISVersion = "v4.0.1"
	CISv5 CISVersion = "v5.0.0"
	CISv6 CISVersion = "v6.0.0"
	CISv7 CISVersion = "v7.0.0"
)

// CISVersions lists the versions a rule names its recommendation in, oldest first.
var CISVersions = []CISVersion{CISv4, CISv5, CISv6, CISv7}

// DefaultCISVersion is the version shown where only one is shown.
const DefaultCISVersion = CISv6

// ParseCISVersion reads a benchmark version as given in a config file or on
// the command line: "v6.0.0", "6.0.0" or "6". The versions from v1.4.0 to
// v4.0.0 number the IAM recommendations as v4.0.1 does, so they read as v4.0.1.
func ParseCISVersion(s string) (CISVersion, error) {
	v := strings.TrimPrefix(strings.ToLower(strings.TrimSpace(s)), "v")
	switch v {
	case "7", "7.0", "7.0.0":
		return CISv7, nil
	case "6", "6.0", "6.0.0":
		return CISv6, nil
	case "5", "5.0", "5.0.0":
		return CISv5, nil
	case "4", "4.0", "4.0.0", "4.0.1", "3", "3.0", "3.0.0", "2", "2.0", "2.0.0", "1.5", "1.5.0", "1.4", "1.4.0":
		return CISv4, nil
	}
	return "", fmt.Errorf("unknown CIS benchmark version %q: use v4.0.1 (also for v1.4.0 to v4.0.0), v5.0.0, v6.0.0 or v7.0.0", s)
}

// CISRefs are a rule's recommendation ids by benchmark version; the JSON
// form is an object such as {"v4.0.1": "1.14", "v5.0.0": "1.13", "v6.0.0": "2.13"}.
type CISRefs map[CISVersion]string

// cis names a recommendation in v4.0.1, v5.0.0, v6.0.0 and v7.0.0; ""
// where a version has none.
func cis(v4, v5, v6, v7 string) CISRefs {
	refs := CISRefs{CISv4: v4, CISv5: v5, CISv6: v6, CISv7: v7}
	maps.DeleteFunc(refs, func(_ CISVersion, id string) bool { return id == "" })
	return refs
}

// In is the recommendation id in one version, or "" when the rule maps to none.
func (c CISRefs) In(v CISVersion) string { return c[v] }

// UnmarshalJSON reads the object form, and also schema 1's list of
// v4.0.1 ids, so a stored report from before CIS versions still diffs.
func (c *CISRefs) UnmarshalJSON(data []byte) error {
	var ids []string
	if json.Unmarshal(data, &ids) == nil {
		*c = CISRefs{}
		if len(ids) > 0 {
			(*c)[CISv4] = ids[0]
		}
		return nil
	}
	var m map[CISVersion]string
	if err := json.Unmarshal(data, &m); err != nil {
		return fmt.Errorf("cis: want an object of benchmark version to recommendation id: %w", err)
	}
	*c = m
	return nil
}
