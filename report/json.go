package report

import (
	_ "embed"
	"encoding/json"
	"io"

	"github.com/keyaudit/keyaudit/rules"
)

// Schema is the JSON Schema of the report (draft 2020-12).
//
//go:embed schema.json
var Schema []byte

// JSONWriter writes the report as indented JSON, the contract of
// schema.json.
type JSONWriter struct{}

func (JSONWriter) Write(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	// Plans hold shell commands (&&, <, >): keep them readable.
	enc.SetEscapeHTML(false)
	return enc.Encode(normalized(r))
}

// normalized returns the report with empty lists as [] rather than null.
func normalized(r *Report) *Report {
	c := *r
	if c.Accounts == nil {
		c.Accounts = []Account{}
	}
	if c.Findings == nil {
		c.Findings = []rules.Finding{}
	}
	if c.Actions == nil {
		c.Actions = []rules.Action{}
	}
	if c.Risk == nil {
		c.Risk = []rules.Risk{}
	}
	return &c
}
