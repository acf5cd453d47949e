package report

import (
	_ "embed"
	"io"
)

// Schema is the JSON Schema of the report (draft 2020-12).
//
//go:embed schema.json
var Schema []byte

// JSONWriter writes the report as indented JSON, the contract of
// schema.json.
type JSONWriter struct{}

func (JSONWriter) Write(w io.Writer, r *Report) error {
	head := *r
	head.Accounts, head.Findings, head.Actions, head.Risk = nil, nil, nil, nil
	return writeJSONObject(w, &head,
		list{"accounts", len(r.Accounts), func(i int) any { return &r.Accounts[i] }},
		list{"findings", len(r.Findings), func(i int) any { return &r.Findings[i] }},
		list{"actions", len(r.Actions), func(i int) any { return &r.Actions[i] }},
		list{"risk", len(r.Risk), func(i int) any { return &r.Risk[i] }},
	)
}
