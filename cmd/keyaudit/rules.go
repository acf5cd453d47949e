package main

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

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
				err = printRules(e.stdout, entries, cfg.CISVersion)
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

func printRules(w io.Writer, entries []ruleEntry, version rules.CISVersion) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "RULE\tSEVERITY\tCIS %s\tTHRESHOLD\tFINDS\n", version)
	for _, r := range entries {
		threshold, cis := "-", "-"
		if r.Value != nil {
			threshold = fmt.Sprintf("%s=%d", r.Threshold, *r.Value)
		}
		if id := r.CIS.In(version); id != "" {
			cis = id
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.ID, r.Severity, cis, threshold, r.Description)
	}
	return tw.Flush()
}
