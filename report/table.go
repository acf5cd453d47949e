package report

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/keyaudit/keyaudit/audit/inventory"
	"github.com/keyaudit/keyaudit/rules"
)

// TableWriter writes the report for people on a terminal: findings by
// account and severity, accounts that could not be audited with the
// reason, and a one-line summary.
type TableWriter struct {
	Color bool // ANSI colors for severities
}

var severityColor = map[rules.Severity]string{rules.Critical: "\033[1;31m", rules.High: "\033[31m", rules.Medium: "\033[33m", rules.Low: "\033[36m"}

// colorize colors the severity that starts a table row. It runs after
// tabwriter has aligned the columns: escape codes would count as width.
func (t TableWriter) colorize(line string) string {
	if !t.Color {
		return line
	}
	for sev, code := range severityColor {
		if rest, ok := strings.CutPrefix(line, "  "+string(sev)+" "); ok {
			return "  " + code + string(sev) + "\033[0m " + rest
		}
	}
	return line
}

func (t TableWriter) Write(w io.Writer, r *Report) error {
	ew := &errWriter{w: w}
	if r.Demo {
		ew.printf("DEMO DATA: a simulated organization, not your AWS accounts.\n")
	}
	ew.printf("keyaudit · as of %s", r.AsOf.UTC().Format("2006-01-02 15:04 MST"))
	if len(r.Accounts) > 0 {
		ew.printf(" · %d account(s): %d ok, %d error, %d skipped", len(r.Accounts), r.Summary.Accounts["ok"], r.Summary.Accounts["error"], r.Summary.Accounts["skipped"])
	}
	ew.printf("\n")

	if len(r.Keys) > 0 {
		t.keys(ew, r.Keys)
	}
	byAccount := map[string][]rules.Finding{}
	var order []string
	for _, f := range r.Findings {
		if f.Suppressed != nil {
			continue
		}
		if _, ok := byAccount[f.AccountID]; !ok {
			order = append(order, f.AccountID)
		}
		byAccount[f.AccountID] = append(byAccount[f.AccountID], f)
	}
	names := map[string]string{}
	for _, a := range r.Accounts {
		names[a.ID] = a.Name
	}
	for _, id := range order {
		fs := byAccount[id]
		ew.printf("\n%s\n", accountLabel(id, names[id], fs[0].AccountName))
		var rows strings.Builder
		tw := tabwriter.NewWriter(&rows, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "  SEVERITY\tRULE\tPRINCIPAL\tACCESS KEY\tFINDING\n")
		for _, sev := range rules.Severities {
			for _, f := range fs {
				if f.Severity != sev {
					continue
				}
				key := f.AccessKeyID
				if key == "" && f.KeySlot > 0 {
					key = fmt.Sprintf("(slot %d)", f.KeySlot)
				}
				fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", f.Severity, f.Rule, f.Principal, or(key, "-"), f.Message)
			}
		}
		tw.Flush()
		for _, line := range strings.SplitAfter(rows.String(), "\n") {
			ew.printf("%s", t.colorize(line))
		}
	}
	var unaudited []Account
	for _, a := range r.Accounts {
		if a.Status != "ok" {
			unaudited = append(unaudited, a)
		}
	}
	if len(unaudited) > 0 {
		ew.printf("\nNot audited:\n")
		for _, a := range unaudited {
			ew.printf("  %s: %s: %s\n", accountLabel(a.ID, a.Name, ""), a.Status, a.Error)
		}
	}
	if len(r.Warnings) > 0 {
		ew.printf("\nWarnings:\n")
		for _, w := range r.Warnings {
			ew.printf("  - %s\n", w)
		}
	}
	ew.printf("\n%s\n", summaryLine(r))
	if r.Summary.Findings > 0 {
		ew.printf("Each finding's rotation plan, with the exact commands, is in the JSON report (--format json, or --out DIR).\n")
	}
	return ew.err
}

func (t TableWriter) keys(ew *errWriter, keys []inventory.Sighting) {
	ew.printf("\n")
	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "KEY ID\tKIND\tOWNER ACCOUNT\tAUDITED\tPRINCIPAL\tSTATUS\tCREATED\tLAST USED\tFOUND IN\n")
	for _, s := range keys {
		status, created, used := "-", "-", "-"
		if k := s.Key; k != nil {
			status = map[bool]string{true: "Active", false: "Inactive"}[k.Active]
			created = date(k.CreatedAt)
			used = lastUsed(k.LastUsed)
		}
		audited := map[bool]string{true: "yes", false: "no"}[s.Audited]
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.AccessKeyID, s.Kind, or(accountLabel(s.OwnerAccount, s.OwnerName, ""), "-"),
			audited, or(s.Principal, "-"), status, created, used, s.Source)
	}
	tw.Flush()
	for _, s := range keys {
		if s.Error != "" {
			ew.printf("  %s: %s\n", s.AccessKeyID, s.Error)
		}
		if s.Issuer != nil {
			ew.printf("  %s: issued by %s to %s on %s from %s\n", s.AccessKeyID, s.Issuer.EventName, s.Issuer.Principal, s.Issuer.Time.Format(time.RFC3339), or(s.Issuer.SourceIP, "an unknown address"))
		}
		if s.Key != nil && s.Key.Usage != nil {
			u := s.Key.Usage
			if u.Events == 0 {
				ew.printf("  %s: no CloudTrail events since %s\n", s.AccessKeyID, date(u.Since))
				continue
			}
			ew.printf("  %s: used in %d CloudTrail events, %s to %s, from %s by %s (%s)\n", s.AccessKeyID, u.Events, date(u.FirstSeen), date(u.LastSeen),
				strings.Join(u.SourceIPs, ", "), strings.Join(u.UserAgents, ", "), strings.Join(u.Services, ", "))
		}
	}
}

func lastUsed(lu inventory.LastUse) string {
	switch {
	case !lu.Known:
		return "unknown"
	case lu.Never:
		return "never"
	}
	return strings.TrimSpace(date(lu.At) + " " + lu.Service)
}

func date(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02")
}

func accountLabel(id, name, fallback string) string {
	if name == "" {
		name = fallback
	}
	if name == "" {
		return id
	}
	return fmt.Sprintf("%s (%s)", name, id)
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// summaryLine is the report in one line, for the table and for logs.
func summaryLine(r *Report) string {
	s := r.Summary
	var parts []string
	for _, sev := range rules.Severities {
		if n := s.BySeverity[string(sev)]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, sev))
		}
	}
	line := "no findings"
	if s.Findings > 0 {
		line = fmt.Sprintf("%d finding%s (%s)", s.Findings, plural(s.Findings), strings.Join(parts, ", "))
	}
	if len(r.Accounts) > 0 {
		line += fmt.Sprintf(" in %d account%s", s.Accounts["ok"], plural(s.Accounts["ok"]))
	}
	if n := s.Accounts["error"] + s.Accounts["skipped"]; n > 0 {
		line += fmt.Sprintf("; %d account%s could not be audited", n, plural(n))
	}
	if s.Suppressed > 0 {
		line += fmt.Sprintf("; %d suppressed", s.Suppressed)
	}
	return line
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// errWriter keeps the first write error, so a writer can print freely
// and report the failure once.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

func (e *errWriter) printf(format string, args ...any) { fmt.Fprintf(e, format, args...) }
