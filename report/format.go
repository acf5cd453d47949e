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

// ParseFormat reads a --format value.
func ParseFormat(s string) (Format, error) {
	f := Format(strings.ToLower(strings.TrimSpace(s)))
	for _, known := range Formats {
		if f == known {
			return f, nil
		}
	}
	if f == "md" {
		return FormatMarkdown, nil
	}
	return "", fmt.Errorf("unknown format %q: use table, json, csv, html, markdown or ocsf", s)
}

// WriterFor returns the writer of a format.
func WriterFor(f Format) (Writer, error) {
	switch f {
	case FormatTable:
		return TableWriter{}, nil
	case FormatJSON:
		return JSONWriter{}, nil
	case FormatCSV:
		return CSVWriter{}, nil
	case FormatHTML:
		return HTMLWriter{}, nil
	case FormatMarkdown:
		return MarkdownWriter{}, nil
	case FormatOCSF:
		return OCSFWriter{}, nil
	}
	return nil, fmt.Errorf("unknown format %q", f)
}

// FileName is the file a format is written to with --out or in S3.
func (f Format) FileName() string {
	switch f {
	case FormatCSV:
		return "findings.csv"
	case FormatTable:
		return "report.txt"
	case FormatMarkdown:
		return "report.md"
	case FormatOCSF:
		return "findings.ocsf.json"
	}
	return "report." + string(f)
}

// ContentType is the format's media type, for S3.
func (f Format) ContentType() string {
	switch f {
	case FormatJSON, FormatOCSF:
		return "application/json"
	case FormatCSV:
		return "text/csv; charset=utf-8"
	case FormatHTML:
		return "text/html; charset=utf-8"
	case FormatMarkdown:
		return "text/markdown; charset=utf-8"
	}
	return "text/plain; charset=utf-8"
}
