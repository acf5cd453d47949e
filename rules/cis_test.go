package rules

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCISRefsReadsSchema1Lists(t *testing.T) {
	var got struct{ CIS CISRefs }
	require.NoError(t, json.Unmarshal([]byte(`{"CIS": ["1.14"]}`), &got), "schema 1 list")
	assert.Equal(t, CISRefs{CISv4: "1.14"}, got.CIS, "a schema 1 id is a v4.0.1 id")
	require.NoError(t, json.Unmarshal([]byte(`{"CIS": {"v6.0.0": "2.13"}}`), &got), "schema 2 object")
	assert.Equal(t, CISRefs{CISv6: "2.13"}, got.CIS)
	assert.Error(t, json.Unmarshal([]byte(`{"CIS": 7}`), &got), "neither form")
}
