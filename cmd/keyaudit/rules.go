package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"unicode/utf8"

	"github.com/keyaudit/keyaudit/report"
	"github.com/keyaudit/keyaudit/rules"
	"github.com/spf13/cobra"
)

// ruleEntry is one rule in `keyaudit rules --format json`: the public
// contract of rule ids, with the threshold in force.
type ruleEntry struct {
	ID          string        `json:"id"`
	Severity    string        `json:"severity"`
	CIS         rules.CISRefs `json:"cis"`
	Threshold   string        `json:"threshold,omitempty"` // the config key it reads
	Value       *int          `json:"threshold_value,omitempty"`
	Description string        `json:"description"`
}

func newRules(e *env) *cobra.Command {
	var configFile, cisVersion, format string
	cmd := &cobra.Command{
		Use:   "rules [flags]",
		Short: "List the rules, their severities and thresholds",
		Long:  "Lists every rule: its id (used in reports and suppressions), severity, CIS reference, threshold and what it finds.",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(configFile, cisVersion)
			if err != nil {
				return err
			}
			entries := catalogue(cfg)
			switch format {
			case "table":
				err = printRules(e.stdout, entries, cfg.CISVersion, e.width())
			case "json":
				enc := json.NewEncoder(e.stdout)
				enc.SetIndent("", "  ")
				err = enc.Encode(entries)
			default:
				return badInput("--format %q: use table or json", format)
			}
			if err != nil {
				return incomplete(fmt.Errorf("write the rules: %w", err))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&configFile, "config", "", "show the thresholds of this YAML config file instead of the defaults")
	cisFlag(cmd.Flags(), &cisVersion)
	cmd.Flags().StringVarP(&format, "format", "f", "table", "output format: table or json")
	return cmd
}

func catalogue(cfg rules.Config) []ruleEntry {
	var out []ruleEntry
	for _, r := range rules.Catalogue() {
		e := ruleEntry{ID: r.ID, Severity: string(r.Severity), CIS: r.CIS, Threshold: r.Threshold, Description: r.Description}
		if e.CIS == nil {
			e.CIS = rules.CISRefs{}
		}
		if r.Threshold != "" {
			v := cfg.Thresholds.Get(r.Threshold)
			e.Value = &v
		}
		out = append(out, e)
	}
	return out
}

// printRules writes the catalogue in columns, each description wrapped to
// fit width; where the columns leave it too little room, each rule is a
// heading line and its description below. The coverage note follows.
func printRules(w io.Writer, entries []ruleEntry, version rules.CISVersion, width int) error {
	header := []string{"RULE", "SEVERITY", "CIS " + string(version), "THRESHOLD"}
	rows := [][]string{header}
	var finds []string
	for _, r := range entries {
		threshold, cis := "-", "-"
		if r.Value != nil {
			threshold = fmt.Sprintf("%s=%d", r.Threshold, *r.Value)
		}
		if id := r.CIS.In(version); id != "" {
			cis = id
		}
		rows = append(rows, []string{r.ID, r.Severity, cis, threshold})
		finds = append(finds, r.Description)
	}
	used := 0
	for i := range header {
		widest := 0
		for _, row := range rows {
			widest = max(widest, utf8.RuneCountInString(row[i]))
		}
		used += widest + 2
	}
	text := width - used
	if text < minDescription {
		for i, row := range rows[1:] {
			heading := []string{row[0], row[1]}
			if row[2] != "-" {
				heading = append(heading, fmt.Sprintf("CIS %s %s", version, row[2]))
			}
			if row[3] != "-" {
				heading = append(heading, row[3])
			}
			fmt.Fprintf(w, "%s\n", strings.Join(report.Wrap(strings.Join(heading, " · "), width), "\n"))
			for _, line := range report.Wrap(finds[i], width-2) {
				fmt.Fprintf(w, "  %s\n", line)
			}
		}
	} else {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "%s\tFINDS\n", strings.Join(header, "\t"))
		for i, row := range rows[1:] {
			for n, line := range report.Wrap(finds[i], text) {
				if n > 0 {
					row = make([]string, len(header))
				}
				fmt.Fprintf(tw, "%s\t%s\n", strings.Join(row, "\t"), line)
			}
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintf(w, "\n%s\n", strings.Join(report.Wrap(report.CoverageNote(version), width), "\n"))
	return err
}

// minDescription is the least room for a rule's description in columns.
const minDescription = 36
