package report

import (
	"io"
	"strings"

	"github.com/keyaudit/keyaudit/rules"
)

// MarkdownWriter writes a short summary and a findings table for a ticket
// or a pull-request comment (GitHub-flavoured Markdown).
type MarkdownWriter struct{}

func (MarkdownWriter) Write(w io.Writer, r *Report) error {
	ew := &errWriter{w: w}
	ew.printf("## keyaudit report\n\n")
	if r.Demo {
		ew.printf("> **Demo data**: a simulated organization, not real AWS accounts.\n\n")
	}
	s := r.Summary
	ew.printf("As of %s · %d account(s): %d ok, %d error, %d skipped · **%d finding(s)**: %d critical, %d high, %d medium, %d low",
		r.AsOf.UTC().Format("2006-01-02 15:04 MST"), len(r.Accounts), s.Accounts["ok"], s.Accounts["error"], s.Accounts["skipped"],
		s.Findings, s.BySeverity["critical"], s.BySeverity["high"], s.BySeverity["medium"], s.BySeverity["low"])
	if s.Suppressed > 0 {
		ew.printf(" · %d suppressed", s.Suppressed)
	}
	ew.printf("\n\n")
	for _, a := range r.Accounts {
		if a.Status != "ok" {
			ew.printf("- :warning: account %s %s: %s\n", mdCell(accountLabel(a.ID, a.Name, "")), a.Status, mdCell(a.Error))
		}
	}
	if s.Findings == 0 {
		ew.printf("No findings.\n")
		return ew.err
	}
	ew.printf("\n| Severity | Rule | Account | Principal | Access key | Finding | Recommendation |\n|---|---|---|---|---|---|---|\n")
	for _, sev := range rules.Severities {
		for _, f := range r.Findings {
			if f.Suppressed != nil || f.Severity != sev {
				continue
			}
			key := ""
			if f.AccessKeyID != "" {
				key = "`" + f.AccessKeyID + "`"
			}
			ew.printf("| %s | %s | %s | %s | %s | %s | %s |\n", f.Severity, f.Rule, mdCell(accountLabel(f.AccountID, f.AccountName, "")),
				mdCell(f.Principal), key, mdCell(f.Message), mdCell(f.Recommendation))
		}
	}
	return ew.err
}

// mdCell keeps a value inside its table cell: pipes, newlines and
// backticks from AWS data would otherwise break the table or open code spans.
var mdReplacer = strings.NewReplacer("|", `\|`, "\r\n", " ", "\n", " ", "\r", " ", "`", "'", "<", "&lt;", ">", "&gt;")

func mdCell(s string) string { return mdReplacer.Replace(s) }
