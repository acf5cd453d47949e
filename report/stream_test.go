package report_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/keyaudit/keyaudit/report"
	"github.com/keyaudit/keyaudit/rules"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// largestWrite records the largest single Write: a writer that rendered
// the whole document first hands it over in one.
type largestWrite struct {
	bytes.Buffer
	largest int
}

func (w *largestWrite) Write(p []byte) (int, error) {
	w.largest = max(w.largest, len(p))
	return w.Buffer.Write(p)
}

// TestJSONWritersHoldOneElementAtATime: the JSON report and OCSF are
// written an element at a time, through a 64 KiB buffer, and give the
// bytes json.Encoder gives for the whole value.
func TestJSONWritersHoldOneElementAtATime(t *testing.T) {
	r := fixture()
	for range 11 { // 2^11 times the fixture's findings and actions: megabytes
		r.Findings = append(r.Findings, r.Findings...)
		r.Actions = append(r.Actions, r.Actions...)
		r.Risk = append(r.Risk, r.Risk...)
	}
	for _, w := range []report.Writer{report.JSONWriter{}, report.OCSFWriter{}} {
		var out largestWrite
		require.NoError(t, w.Write(&out, r), "%T", w)
		assert.Greater(t, out.Len(), 4<<20, "%T: the document is large", w)
		assert.LessOrEqual(t, out.largest, 64<<10, "%T: largest single write", w)
		assert.True(t, json.Valid(out.Bytes()), "%T: valid JSON", w)
	}

	// The same bytes as json.Encoder gives for the whole report.
	var whole bytes.Buffer
	enc := json.NewEncoder(&whole)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	small := fixture()
	small.Risk = append(small.Risk, rules.Risk{})
	require.NoError(t, enc.Encode(small))
	assert.Equal(t, whole.String(), string(render(t, report.JSONWriter{}, small)), "streamed as encoded whole")
}
