package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/keyaudit/keyaudit/report"
	"github.com/spf13/cobra"
)

// newRisk shows the kill-first ranking of a JSON report that scan wrote:
// the ranking alone, without the findings and plans around it.
func newRisk(e *env) *cobra.Command {
	var file, format string
	var top int
	cmd := &cobra.Command{
		Use:   "risk --report FILE [flags]",
		Short: "Show which access keys to kill first, from a scan's JSON report",
		Long: `Shows the kill-first ranking of a JSON report written by keyaudit scan: every active
long-term key by risk score (blast radius, age, last use, findings, CloudTrail usage),
each with its reasons, and what the ranking does not cover.`,
		Example: `  keyaudit scan --org --out reports/
  keyaudit risk --report reports/report.json
  keyaudit scan --demo --format json | keyaudit risk --report -
  # every ranked key, as JSON
  keyaudit risk --report report.json --top 0 --format json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if file == "" {
				return badInput("--report is required: give the JSON report of a keyaudit scan (- for standard input)")
			}
			if top < 0 {
				return badInput("--top must be 0 (every key) or more, got %d", top)
			}
			if format == "" {
				format = "json"
				if isTerminal(e.stdout) {
					format = "table"
				}
			}
			if format != "table" && format != "json" {
				return badInput("--format %q: use table or json", format)
			}
			r, err := readRanking(e.stdin, file)
			if err != nil {
				return err
			}
			if format == "json" {
				ranked := r.Risk
				if top > 0 {
					ranked = ranked[:min(top, len(ranked))]
				}
				enc := json.NewEncoder(e.stdout)
				enc.SetIndent("", "  ")
				enc.SetEscapeHTML(false) // <root_account>, as the report writes it
				err = enc.Encode(ranked)
			} else {
				err = report.KillFirstWriter{Limit: top, Width: e.width()}.Write(e.stdout, r)
			}
			if err != nil {
				return incomplete(fmt.Errorf("write the ranking: %w", err))
			}
			return nil
		},
	}
	fs := cmd.Flags()
	fs.SortFlags = false
	fs.StringVar(&file, "report", "", "the JSON report of a keyaudit scan (- for standard input)")
	fs.IntVar(&top, "top", report.KillFirstRows, "show the top N keys (0: every ranked key)")
	fs.StringVarP(&format, "format", "f", "", "output format: table or json, the risk array (default: table on a terminal, json otherwise)")
	inGroup(fs, groupOutput, "report", "top", "format")
	return cmd
}

// readRanking reads a JSON report that holds a kill-first ranking.
func readRanking(stdin io.Reader, file string) (*report.Report, error) {
	in := stdin
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return nil, badInput("--report: %v", err)
		}
		defer f.Close()
		in = f
	}
	r, err := report.ReadReport(in)
	switch {
	case err != nil:
		return nil, badInput("--report %s: %v", file, err)
	case r.GeneratedAt.IsZero():
		// ReadReport keeps only the version of a schema it cannot read.
		return nil, badInput("--report %s has schema_version %q, which this keyaudit cannot read: use the keyaudit that wrote it", file, r.SchemaVersion)
	case r.Risk == nil:
		return nil, badInput("--report %s holds no kill-first ranking: it was written before keyaudit ranked keys; run keyaudit scan again", file)
	}
	return r, nil
}
