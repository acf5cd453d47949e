package report

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/keyaudit/keyaudit/audit/inventory"
	"github.com/keyaudit/keyaudit/rules"
)

// TableWriter writes the report for people on a terminal: one row per key
// to act on, by account and severity, with the rules that fired and what to
// do; accounts that could not be audited with the reason; and a one-line
// summary. Plans are in the other formats.
type TableWriter struct {
	Color bool // ANSI colors for severities
	// Width is the terminal's width: the finding text wraps to fit. 0: no wrapping.
	Width int
}

var severityColor = map[rules.Severity]string{rules.Critical: "\033[1;31m", rules.High: "\033[31m", rules.Medium: "\033[33m", rules.Low: "\033[36m"}

// colorize colors the severity that starts a table row. It runs after
// the columns are aligned: escape codes would count as width.
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

// minTextWidth keeps the finding column readable on a narrow terminal.
const minTextWidth = 30

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
	names := map[string]string{}
	for _, a := range r.Accounts {
		names[a.ID] = a.Name
	}
	messages := openMessages(r.Findings)
	version, cis := r.cisVersion(), cisByRule()
	for _, acts := range openActionsByAccount(r.Actions) {
		ew.printf("\n%s\n", clean(accountLabel(acts[0].AccountID, names[acts[0].AccountID], acts[0].AccountName)))
		header := []string{"SEVERITY", "PRINCIPAL", "ACCESS KEY", "RULE (CIS " + string(version) + ")", "FINDING AND WHAT TO DO"}
		rows := [][][]string{}
		for _, a := range acts {
			key := a.AccessKeyID
			if key == "" && a.KeySlot > 0 {
				key = fmt.Sprintf("(slot %d)", a.KeySlot)
			}
			var ruleLines []string
			for _, id := range a.Rules {
				ruleLines = append(ruleLines, strings.TrimSpace(id+" "+cis[id].In(version)))
			}
			var text []string
			for _, m := range messages[keyOf(a.AccountID, a.Principal, a.AccessKeyID, a.KeySlot)] {
				text = append(text, clean(m))
			}
			text = append(text, "→ "+clean(a.Summary))
			rows = append(rows, [][]string{{string(a.Severity)}, {clean(a.Principal)}, {or(clean(key), "-")}, ruleLines, text})
		}
		for _, line := range t.layout(header, rows) {
			ew.printf("%s\n", t.colorize(line))
		}
	}
	if len(r.Risk) > 0 {
		t.killFirst(ew, r, names, KillFirstRows)
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
			ew.printf("  %s: %s: %s\n", clean(accountLabel(a.ID, a.Name, "")), a.Status, clean(a.Error))
		}
	}
	if len(r.Warnings) > 0 {
		ew.printf("\nWarnings:\n")
		for _, w := range r.Warnings {
			ew.printf("  - %s\n", clean(w))
		}
	}
	ew.printf("\n%s\n", summaryLine(r))
	if r.Summary.Findings > 0 {
		for _, line := range wrap("The plan for each key, with the exact commands, is in the JSON report's actions (--format json), in --format markdown and html, and in every file of --out DIR.", t.Width) {
			ew.printf("%s\n", line)
		}
	}
	return ew.err
}

// KillFirstRows is how many keys the table and Slack's top list show.
const KillFirstRows = 10

// KillFirstWriter writes the kill-first ranking alone, for a person who
// asked only for it: the top Limit keys (0: every one) with a reason each,
// and what the ranking does not cover.
type KillFirstWriter struct {
	Limit int
	Width int // the terminal's width, as TableWriter's
}

func (k KillFirstWriter) Write(w io.Writer, r *Report) error {
	ew := &errWriter{w: w}
	if r.Demo {
		ew.printf("DEMO DATA: a simulated organization, not your AWS accounts.\n")
	}
	ew.printf("keyaudit · as of %s\n", r.AsOf.UTC().Format("2006-01-02 15:04 MST"))
	if len(r.Risk) == 0 {
		ew.printf("\nNo active long-term key to rank.\n")
		return ew.err
	}
	names := map[string]string{}
	for _, a := range r.Accounts {
		names[a.ID] = a.Name
	}
	limit := k.Limit
	if limit <= 0 {
		limit = len(r.Risk)
	}
	TableWriter{Width: k.Width}.killFirst(ew, r, names, limit)
	return ew.err
}

// killFirst writes the top limit keys of the ranking, each with its
// reason, and what the ranking does not cover.
func (t TableWriter) killFirst(ew *errWriter, r *Report, names map[string]string, limit int) {
	shown := min(limit, len(r.Risk))
	ew.printf("\nKill first: the top %d of %d active long-term key(s) by risk score\n", shown, len(r.Risk))
	header := []string{"RANK", "SCORE", "ACCOUNT", "PRINCIPAL", "ACCESS KEY", "WHY"}
	var rows [][][]string
	for _, k := range r.Risk[:shown] {
		key := k.AccessKeyID
		if key == "" {
			key = fmt.Sprintf("(slot %d)", k.KeySlot)
		}
		rows = append(rows, [][]string{{fmt.Sprint(k.Rank)}, {fmt.Sprint(k.Score)}, {clean(or(names[k.AccountID], or(k.AccountName, k.AccountID)))},
			{clean(k.Principal)}, {key}, {clean(k.Reason())}})
	}
	for _, line := range t.layout(header, rows) {
		ew.printf("%s\n", line)
	}
	for _, n := range r.RiskNotes {
		for i, line := range wrap(clean(n), max(0, t.Width-4)) {
			if i == 0 {
				ew.printf("  * %s\n", line)
			} else {
				ew.printf("    %s\n", line)
			}
		}
	}
}

// layout aligns rows of multi-line cells in columns, two spaces apart and
// indented by two. The last column wraps to fit t.Width.
func (t TableWriter) layout(header []string, rows [][][]string) []string {
	last := len(header) - 1
	widths := make([]int, len(header))
	for i, h := range header {
		widths[i] = utf8.RuneCountInString(h)
	}
	for _, row := range rows {
		for i, c := range row[:last] {
			for _, l := range c {
				widths[i] = max(widths[i], utf8.RuneCountInString(l))
			}
		}
	}
	textWidth := 0 // no wrapping
	if t.Width > 0 {
		used := 2
		for _, w := range widths[:last] {
			used += w + 2
		}
		textWidth = max(minTextWidth, t.Width-used)
	}
	line := func(cells []string) string {
		var b strings.Builder
		b.WriteString("  ")
		for i, c := range cells[:last] {
			b.WriteString(c + strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c)+2))
		}
		return strings.TrimRight(b.String()+cells[last], " ")
	}
	out := []string{line(header)}
	for _, row := range rows {
		var text []string
		for _, para := range row[last] {
			text = append(text, wrap(para, textWidth)...)
		}
		cols := append(append([][]string{}, row[:last]...), text)
		height := 0
		for _, c := range cols {
			height = max(height, len(c))
		}
		for n := range height {
			cells := make([]string, len(cols))
			for i, c := range cols {
				if n < len(c) {
					cells[i] = c[n]
				}
			}
			out = append(out, line(cells))
		}
	}
	return out
}

// wrap breaks s into lines of at most width runes, at spaces where it can;
// width 0 leaves s whole.
func wrap(s string, width int) []string {
	if width <= 0 || utf8.RuneCountInString(s) <= width {
		return []string{s}
	}
	var lines []string
	cur := ""
	for _, word := range strings.Fields(s) {
		for utf8.RuneCountInString(word) > width { // a word longer than a line: split it
			if cur != "" {
				lines, cur = append(lines, cur), ""
			}
			r := []rune(word)
			lines, word = append(lines, string(r[:width])), string(r[width:])
		}
		switch {
		case cur == "":
			cur = word
		case utf8.RuneCountInString(cur)+1+utf8.RuneCountInString(word) <= width:
			cur += " " + word
		default:
			lines, cur = append(lines, cur), word
		}
	}
	if cur != "" {
		lines = append(lines, cur)
	}
	return lines
}

// clean strips control characters (ESC, CR, LF, …) from a value that came
// from AWS or input, so it cannot move the cursor, recolor the terminal or
// forge a line of the table. Tabs and line breaks become spaces.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t' || r == '\n' || r == '\r':
			return ' '
		case unicode.IsControl(r):
			return -1
		}
		return r
	}, s)
}

// openActionsByAccount returns the actions not suppressed, grouped by
// account in report order, most severe first within an account.
func openActionsByAccount(actions []rules.Action) [][]rules.Action {
	var out [][]rules.Action
	index := map[string]int{}
	for _, a := range actions {
		if a.Suppressed {
			continue
		}
		i, ok := index[a.AccountID]
		if !ok {
			i = len(out)
			index[a.AccountID] = i
			out = append(out, nil)
		}
		out[i] = append(out[i], a)
	}
	for _, acts := range out {
		sort.SliceStable(acts, func(i, j int) bool { return acts[i].Severity.Rank() > acts[j].Severity.Rank() })
	}
	return out
}

// openMessages are the messages of the findings not suppressed, by key.
func openMessages(findings []rules.Finding) map[keyRef][]string {
	out := map[keyRef][]string{}
	for _, f := range findings {
		if f.Suppressed == nil {
			k := keyOf(f.AccountID, f.Principal, f.AccessKeyID, f.KeySlot)
			out[k] = append(out[k], f.Message)
		}
	}
	return out
}

// cisByRule are the catalogue's CIS ids by rule id.
func cisByRule() map[string]rules.CISRefs {
	out := map[string]rules.CISRefs{}
	for _, r := range rules.Catalogue() {
		out[r.ID] = r.CIS
	}
	return out
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
		if s.Leaked {
			status += " (leaked)"
		}
		audited := map[bool]string{true: "yes", false: "no"}[s.Audited]
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", clean(s.AccessKeyID), s.Kind, or(clean(accountLabel(s.OwnerAccount, s.OwnerName, "")), "-"),
			audited, or(clean(s.Principal), "-"), status, created, clean(used), clean(s.Source))
	}
	tw.Flush()
	for _, s := range keys {
		if s.Error != "" {
			ew.printf("  %s: %s\n", clean(or(s.AccessKeyID, s.Source)), clean(s.Error))
		}
		if s.Issuer != nil {
			ew.printf("  %s: issued by %s to %s on %s from %s\n", clean(s.AccessKeyID), clean(s.Issuer.EventName), clean(or(s.Issuer.Principal, s.Principal)), s.Issuer.Time.Format(time.RFC3339), or(clean(s.Issuer.SourceIP), "an unknown address"))
		}
		if s.Key != nil && s.Key.Usage != nil {
			u := s.Key.Usage
			if u.Events == 0 {
				ew.printf("  %s: no CloudTrail events since %s\n", clean(s.AccessKeyID), date(u.Since))
				continue
			}
			ew.printf("  %s: used in %d CloudTrail events, %s to %s, from %s by %s (%s)\n", clean(s.AccessKeyID), u.Events, date(u.FirstSeen), date(u.LastSeen),
				clean(strings.Join(u.SourceIPs, ", ")), clean(strings.Join(u.UserAgents, ", ")), clean(strings.Join(u.Services, ", ")))
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
