package report

import (
	"fmt"
	"strings"
)

// Format is an output format of --format.
type Format string

const (
	FormatTable    Format = "table"
	FormatJSON     Format = "json"
	FormatCSV      Format = "csv"
	FormatHTML     Format = "html"
	FormatMarkdown Format = "markdown"
	FormatOCSF     Format = "ocsf"
)

// Formats are every format, in the order --out writes them.
var Formats = []Format{FormatJSON, FormatCSV, FormatTable, FormatHTML, FormatMarkdown, FormatOCSF}

// formats is what each format is: its writer, the file it is written to
// with --out or in S3, and its media type there.
var formats = map[Format]struct {
	writer      Writer
	file        string
	contentType string
}{
	FormatTable:    {TableWriter{}, "report.txt", "text/plain; charset=utf-8"},
	FormatJSON:     {JSONWriter{}, "report.json", "application/json"},
	FormatCSV:      {CSVWriter{}, "findings.csv", "text/csv; charset=utf-8"},
	FormatHTML:     {HTMLWriter{}, "report.html", "text/html; charset=utf-8"},
	FormatMarkdown: {MarkdownWriter{}, "report.md", "text/markdown; charset=utf-8"},
	FormatOCSF:     {OCSFWriter{}, "findings.ocsf.json", "application/json"},
}

// ParseFormat reads a --format value.
func ParseFormat(s string) (Format, error) {
	f := Format(strings.ToLower(strings.TrimSpace(s)))
	if f == "md" {
		return FormatMarkdown, nil
	}
	if _, ok := formats[f]; !ok {
		return "", fmt.Errorf("unknown format %q: use table, json, csv, html, markdown or ocsf", s)
	}
	return f, nil
}

// WriterFor returns the writer of a format.
func WriterFor(f Format) (Writer, error) {
	def, ok := formats[f]
	if !ok {
		return nil, fmt.Errorf("unknown format %q", f)
	}
	return def.writer, nil
}

// FileName is the file a format is written to with --out or in S3.
func (f Format) FileName() string { return formats[f].file }

// ContentType is the format's media type, for S3.
func (f Format) ContentType() string { return formats[f].contentType }
