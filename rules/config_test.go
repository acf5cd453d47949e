package rules

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseConfigRisk(t *testing.T) {
	cfg, err := ParseConfig("c.yaml", []byte("thresholds:\n  unused_days: 60\nrisk:\n  trail_keys: 7\n  weights:\n    blast-administrator: 50\n"))
	require.NoError(t, err, "case risk section")
	assert.Equal(t, 7, cfg.Risk.TrailKeys, "case risk section: K")
	assert.Equal(t, DefaultRisk().TrailPages, cfg.Risk.TrailPages, "case risk section: default N kept")
	assert.Equal(t, 50, cfg.Risk.Weights[FactorAdmin], "case risk section: weight")
	assert.Equal(t, 60, cfg.Thresholds.UnusedDays, "case risk section: other sections still read")

	cfg, err = ParseConfig("c.yaml", []byte("cis_version: v6.0.0\n"))
	require.NoError(t, err, "case no risk section")
	assert.Equal(t, DefaultRisk(), cfg.Risk, "case no risk section")

	tests := []struct{ name, yaml, want string }{
		{"bad weight", "risk:\n  weights:\n    never-used: many\n", "c.yaml:3: risk.weights.never-used must be a whole number"},
		{"not a mapping", "risk: 3\n", "c.yaml:1: risk must be a mapping"},
		{"unknown setting names risk", "riks:\n  trail_keys: 3\n", "use cis_version, thresholds, suppressions or risk"},
	}
	for _, tt := range tests {
		_, err := ParseConfig("c.yaml", []byte(tt.yaml))
		assert.ErrorContains(t, err, tt.want, "case %s", tt.name)
	}
}

// A key given twice, at any mapping level, and a second document are
// refused with the file and line: yaml.v3 nodes keep both keys (the last
// wins) and yaml.Unmarshal drops every document after the first.
func TestParseConfigRefusesDuplicatesAndDocuments(t *testing.T) {
	tests := []struct{ name, yaml, want string }{
		{"top level", "thresholds:\n  unused_days: 30\nthresholds:\n  unused_days: 3000\n",
			`c.yaml:3: "thresholds" is given twice (first on line 1): keep one`},
		{"thresholds", "thresholds:\n  unused_days: 30\n  inactive_days: 30\n  unused_days: 3000\n",
			`c.yaml:4: "unused_days" is given twice (first on line 2): keep one`},
		{"suppression", "suppressions:\n  - rule: key-rotation\n    principal: bob\n    reason: INC-1\n    principal: alice\n",
			`c.yaml:5: "principal" is given twice (first on line 3): keep one`},
		{"risk section twice", "risk:\n  trail_keys: 5\nrisk:\n  trail_keys: 500\n",
			`c.yaml:3: "risk" is given twice (first on line 1): keep one`},
		{"risk", "risk:\n  trail_keys: 5\n  trail_keys: 500\n",
			`c.yaml:3: "trail_keys" is given twice (first on line 2): keep one`},
		{"risk.weights", "risk:\n  weights:\n    never-used: 30\n    never-used: 0\n",
			`c.yaml:4: "never-used" is given twice (first on line 3): keep one`},
		{"second document", "thresholds:\n  unused_days: 45\n---\nthresholds:\n  unused_days: 3000\n",
			`c.yaml:3: a second YAML document: keyaudit reads one`},
		{"empty second document", "cis_version: v6.0.0\n---\n",
			`c.yaml:2: a second YAML document: keyaudit reads one`},
		{"syntax error in second document", "cis_version: v6.0.0\n---\nthresholds: [\n",
			`c.yaml: line 3: did not find expected node content`},
	}
	for _, tt := range tests {
		_, err := ParseConfig("c.yaml", []byte(tt.yaml))
		assert.EqualError(t, err, tt.want, "case %s", tt.name)
	}
}

// The risk section refuses the same: it is read in the one parse.
func TestRiskSectionRefusesDuplicatesAndDocuments(t *testing.T) {
	tests := []struct{ name, yaml, want string }{
		{"risk section twice", "risk:\n  trail_keys: 5\nrisk:\n  trail_keys: 500\n",
			`k.yaml:3: "risk" is given twice (first on line 1): keep one`},
		{"risk", "risk:\n  trail_pages: 2\n  trail_pages: 20\n",
			`k.yaml:3: "trail_pages" is given twice (first on line 2): keep one`},
		{"risk.weights", "risk:\n  weights:\n    never-used: 30\n    never-used: 0\n",
			`k.yaml:4: "never-used" is given twice (first on line 3): keep one`},
		{"second document", "risk:\n  trail_keys: 5\n---\nrisk:\n  trail_keys: 500\n",
			`k.yaml:3: a second YAML document: keyaudit reads one`},
	}
	for _, tt := range tests {
		_, err := parseRisk(t, []byte(tt.yaml))
		assert.EqualError(t, err, tt.want, "case %s", tt.name)
	}
}

// What stays accepted: one document with its markers, and the same key in
// different mappings (every suppression has a rule).
func TestParseConfigOneDocument(t *testing.T) {
	tests := []struct {
		name, yaml string
		unusedDays int
	}{
		{"start marker", "---\nthresholds:\n  unused_days: 60\n", 60},
		{"end marker", "thresholds:\n  unused_days: 60\n...\n", 60},
		{"same key in different mappings", "thresholds:\n  unused_days: 60\nsuppressions:\n  - rule: key-rotation\n    principal: bob\n    reason: INC-1\n  - rule: key-rotation\n    principal: alice\n    reason: INC-2\n", 60},
		{"comments only", "# nothing set yet\n", Defaults().Thresholds.UnusedDays},
	}
	for _, tt := range tests {
		cfg, err := ParseConfig("c.yaml", []byte(tt.yaml))
		require.NoError(t, err, "case %s", tt.name)
		assert.Equal(t, tt.unusedDays, cfg.Thresholds.UnusedDays, "case %s", tt.name)
	}
}

// The fixtures, read as the CLI reads them.
func TestLoadConfigFixturesRefused(t *testing.T) {
	tests := []struct{ file, want string }{
		{"duplicate-key.yaml", `../testdata/config/duplicate-key.yaml:7: "unused_days" is given twice (first on line 4): keep one`},
		{"two-documents.yaml", `../testdata/config/two-documents.yaml:5: a second YAML document: keyaudit reads one`},
	}
	for _, tt := range tests {
		_, err := LoadConfig("../testdata/config/" + tt.file)
		assert.EqualError(t, err, tt.want, "case %s", tt.file)
	}
}
