package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/keyaudit/keyaudit/rules"
)

// listRules prints the catalogue with the thresholds in force.
func listRules(args []string, stdout, stderr io.Writer) (int, error) {
	fs := newFlags("rules", "Usage: keyaudit rules [--config FILE]\n\nLists every rule: its id (used in reports and suppressions), severity, CIS reference, threshold and what it finds.")
	configFile := fs.String("config", "", "show the thresholds of this YAML config file instead of the defaults")
	if err := parse(fs, args, stdout); err != nil {
		return exitUsage, err
	}
	cfg, err := loadConfig(*configFile)
	if err != nil {
		return exitUsage, err
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RULE\tSEVERITY\tCIS\tTHRESHOLD\tFINDS")
	for _, r := range rules.Catalogue() {
		threshold := "-"
		if r.Threshold != "" {
			threshold = fmt.Sprintf("%s=%d", r.Threshold, cfg.Thresholds.Get(r.Threshold))
		}
		cis := strings.Join(r.CIS, ",")
		if cis == "" {
			cis = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.ID, r.Severity, cis, threshold, r.Description)
	}
	return exitOK, tw.Flush()
}
