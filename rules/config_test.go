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
