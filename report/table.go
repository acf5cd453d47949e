package report

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/keyaudit/keyaudit/audit/inventory"
	"github.com/keyaudit/keyaudit/rules"
)

// TableWriter writes the report for people on a terminal: the keys to act
// on, most severe first, with the rules that fired and what to do; the keys
// to kill first; accounts that could not be audited with the reason; and a
// one-line summary. Plans are in the other formats.
type TableWriter struct {
	Color bool // ANSI colors for severities
	// Width is the terminal's width: text wraps to fit it, and where the
	// columns leave too little room for the text, each key is a block of
	// lines instead. 0: columns, no wrapping.
	Width int
}

var severityColor = map[rules.Severity]string{rules.Critical: "\033[1;31m", rules.High: "\033[31m", rules.Medium: "\033[33m", rules.Low: "\033[36m"}

// colorize colors the severity that starts a row or a block. It runs after
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

// minTextWidth is the least room the text column may have; with less, the
// table is stacked: a block of lines per key.
const minTextWidth = 36

func (t TableWriter) Write(w io.Writer, r *Report) error {
	ew := &errWriter{w: w}
	if r.Demo {
		t.para(ew, "", "", "DEMO DATA: a simulated organization, not your AWS accounts.")
	}
	head := "keyaudit · as of " + r.AsOf.UTC().Format("2006-01-02 15:04 MST")
	if len(r.Accounts) > 0 {
		head += fmt.Sprintf(" · %d account(s): %d ok, %d error, %d skipped", len(r.Accounts), r.Summary.Accounts["ok"], r.Summary.Accounts["error"], r.Summary.Accounts["skipped"])
	}
	t.para(ew, "", "", head)

	if len(r.Keys) > 0 {
		t.keys(ew, r.Keys)
	}
	names := map[string]string{}
	for _, a := range r.Accounts {
		names[a.ID] = a.Name
	}
	if open := urgentFirst(r.Actions); len(open) > 0 {
		t.findings(ew, r, open, names)
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
			t.para(ew, "  ", "    ", fmt.Sprintf("%s: %s: %s", clean(accountLabel(a.ID, a.Name, "")), a.Status, clean(a.Error)))
		}
	}
	if len(r.Warnings) > 0 {
		ew.printf("\nWarnings:\n")
		for _, w := range r.Warnings {
			t.para(ew, "  - ", "    ", clean(w))
		}
	}
	ew.printf("\n")
	t.para(ew, "", "", summaryLine(r))
	if len(r.Accounts) > 0 { // whois and local judge no account against CIS
		t.para(ew, "", "", CoverageNote(r.cisVersion()))
	}
	if r.Summary.Findings > 0 {
		t.para(ew, "", "", "The plan for each key, with the exact commands, is in the JSON report's actions (--format json), in --format markdown and html, and in every file of --out DIR.")
	}
	return ew.err
}

// para writes s wrapped to the width: the first line after first, the
// others after hang.
func (t TableWriter) para(ew *errWriter, first, hang, s string) {
	for _, line := range t.indented(first, hang, s) {
		ew.printf("%s\n", line)
	}
}

// indented is s wrapped to the width, the first line after first, the
// others after hang.
func (t TableWriter) indented(first, hang, s string) []string {
	width := 0
	if t.Width > 0 {
		width = max(minTextWidth, t.Width-max(utf8.RuneCountInString(first), utf8.RuneCountInString(hang)))
	}
	lines := Wrap(s, width)
	for i := range lines {
		if i == 0 {
			lines[i] = first + lines[i]
		} else {
			lines[i] = hang + lines[i]
		}
	}
	return lines
}

// findings writes the keys to act on: a row per key, a line per rule
// beside its own message, and what to do; stacked when the columns leave
// the text too little room.
func (t TableWriter) findings(ew *errWriter, r *Report, open []rules.Action, names map[string]string) {
	messages := openMessages(r.Findings)
	version, cis := r.cisVersion(), cisByRule()
	header := []string{"SEVERITY", "ACCOUNT", "PRINCIPAL", "ACCESS KEY", "RULE (CIS " + string(version) + ")", "FINDING AND WHAT TO DO"}
	var rows [][][]string
	for _, a := range open {
		first := []string{string(a.Severity), clean(or(names[a.AccountID], or(a.AccountName, or(a.AccountID, "-")))), clean(a.Principal), or(clean(actionKey(a.AccessKeyID, a.KeySlot)), "-")}
		var row [][]string
		add := func(rule, text string) {
			cells := make([]string, len(first))
			if len(row) == 0 {
				copy(cells, first)
			}
			row = append(row, append(cells, rule, text))
		}
		byRule := messages[keyOf(a.AccountID, a.Principal, a.AccessKeyID, a.KeySlot)]
		for _, id := range a.Rules {
			for i, m := range byRule[id] {
				rule := ""
				if i == 0 {
					rule = strings.TrimSpace(id + " " + cis[id].In(version))
				}
				add(rule, clean(m))
			}
		}
		add("", "→ "+clean(a.Summary))
		rows = append(rows, row)
	}
	ew.printf("\n")
	if lines, ok := t.layout(header, rows); ok {
		for _, line := range lines {
			ew.printf("%s\n", t.colorize(line))
		}
		return
	}
	// Stacked: a heading line per key, then its rules and what to do.
	ew.printf("%d key(s) to act on, most severe first (CIS %s ids):\n", len(open), version)
	indent := strings.Repeat(" ", len("  critical  "))
	for _, a := range open {
		ew.printf("\n")
		who := []string{clean(a.Principal), clean(accountLabel(a.AccountID, names[a.AccountID], or(a.AccountName, "unknown account"))), or(clean(actionKey(a.AccessKeyID, a.KeySlot)), "no key ID")}
		for _, line := range t.indented(fmt.Sprintf("  %-8s  ", a.Severity), indent, strings.Join(who, " · ")) {
			ew.printf("%s\n", t.colorize(line))
		}
		byRule := messages[keyOf(a.AccountID, a.Principal, a.AccessKeyID, a.KeySlot)]
		for _, id := range a.Rules {
			label := id
			if c := cis[id].In(version); c != "" {
				label += " (CIS " + c + ")"
			}
			for _, m := range byRule[id] {
				t.para(ew, indent, indent+"  ", label+": "+clean(m))
			}
		}
		t.para(ew, indent+"→ ", indent+"  ", clean(a.Summary))
	}
}

// actionKey names a key by ID, else by its slot in the credential report.
func actionKey(id string, slot int) string {
	if id == "" && slot > 0 {
		return fmt.Sprintf("(slot %d)", slot)
	}
	return id
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
// reason, and what the ranking does not cover. Where the columns leave the
// reason too little room, the key and its reason stack in one column.
func (t TableWriter) killFirst(ew *errWriter, r *Report, names map[string]string, limit int) {
	shown := min(limit, len(r.Risk))
	ew.printf("\n")
	t.para(ew, "", "", fmt.Sprintf("Kill first: the top %d of %d active long-term key(s) by risk score", shown, len(r.Risk)))
	var rows, stacked [][][]string
	for _, k := range r.Risk[:shown] {
		key := or(actionKey(k.AccessKeyID, k.KeySlot), "-")
		account := clean(or(names[k.AccountID], or(k.AccountName, k.AccountID)))
		rank, score := fmt.Sprint(k.Rank), fmt.Sprint(k.Score)
		rows = append(rows, [][]string{{rank, score, account, clean(k.Principal), key, clean(k.Reason())}})
		stacked = append(stacked, [][]string{{rank, score, clean(k.Principal) + " · " + account + " · " + key}, {"", "", clean(k.Reason())}})
	}
	lines, ok := t.layout([]string{"RANK", "SCORE", "ACCOUNT", "PRINCIPAL", "ACCESS KEY", "WHY"}, rows)
	if !ok {
		lines, _ = t.layout([]string{"RANK", "SCORE", "KEY AND WHY"}, stacked)
	}
	for _, line := range lines {
		ew.printf("%s\n", line)
	}
	for _, n := range r.RiskNotes {
		t.para(ew, "  * ", "    ", clean(n))
	}
}

// layout aligns rows in columns, two spaces apart and indented by two. A
// row is one or more lines of cells; the last column wraps to fit t.Width.
// It reports false when the other columns leave the last one less than
// minTextWidth.
func (t TableWriter) layout(header []string, rows [][][]string) ([]string, bool) {
	last := len(header) - 1
	widths := make([]int, len(header))
	for i, h := range header {
		widths[i] = utf8.RuneCountInString(h)
	}
	for _, row := range rows {
		for _, cells := range row {
			for i, c := range cells[:last] {
				widths[i] = max(widths[i], utf8.RuneCountInString(c))
			}
		}
	}
	textWidth := 0 // no wrapping
	if t.Width > 0 {
		used := 2
		for _, w := range widths[:last] {
			used += w + 2
		}
		if t.Width-used < minTextWidth {
			return nil, false
		}
		textWidth = t.Width - used
	}
	line := func(cells []string, text string) string {
		var b strings.Builder
		b.WriteString("  ")
		for i, c := range cells[:last] {
			b.WriteString(c + strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c)+2))
		}
		return strings.TrimRight(b.String()+text, " ")
	}
	blank := make([]string, last)
	out := []string{line(header, header[last])}
	for _, row := range rows {
		for _, cells := range row {
			for i, text := range Wrap(cells[last], textWidth) {
				if i == 0 {
					out = append(out, line(cells, text))
				} else {
					out = append(out, line(blank, text))
				}
			}
		}
	}
	return out, true
}

// Wrap breaks s into lines of at most width runes, at spaces where it can;
// width 0 leaves s whole.
func Wrap(s string, width int) []string {
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
// forge a line of the table, and the bidirectional controls (U+202E and
// the like), so it cannot show its text, or the cells after it, reversed.
// Tabs and line breaks become spaces.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t' || r == '\n' || r == '\r':
			return ' '
		case unicode.IsControl(r), unicode.Is(unicode.Bidi_Control, r):
			return -1
		}
		return r
	}, s)
}

// urgentFirst returns the actions not suppressed, most severe first and,
// among equals, the root user's first (nothing limits it), else in report
// order.
func urgentFirst(actions []rules.Action) []rules.Action {
	var out []rules.Action
	for _, a := range actions {
		if !a.Suppressed {
			out = append(out, a)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return moreUrgent(out[i], out[j]) })
	return out
}

// moreUrgent: a is more severe than b or, as severe, a root key when b is not.
func moreUrgent(a, b rules.Action) bool {
	if a.Severity.Rank() != b.Severity.Rank() {
		return a.Severity.Rank() > b.Severity.Rank()
	}
	return a.Principal == inventory.RootName && b.Principal != inventory.RootName
}

// planOrder returns the plans not suppressed, user by user: the users in
// the order of their most urgent plan (urgentFirst), and a user's plans in
// report order, where a plan that frees a key slot comes before the plan
// that needs it.
func planOrder(actions []rules.Action) []rules.Action {
	type user struct{ account, principal string }
	var users []user
	plans := map[user][]rules.Action{}
	for _, a := range actions {
		if a.Suppressed {
			continue
		}
		u := user{a.AccountID, a.Principal}
		if plans[u] == nil {
			users = append(users, u)
		}
		plans[u] = append(plans[u], a)
	}
	worst := func(u user) rules.Action { return urgentFirst(plans[u])[0] }
	sort.SliceStable(users, func(i, j int) bool { return moreUrgent(worst(users[i]), worst(users[j])) })
	var out []rules.Action
	for _, u := range users {
		out = append(out, plans[u]...)
	}
	return out
}

// openMessages are the messages of the findings not suppressed, by key
// and rule, so that each message stays beside its rule.
func openMessages(findings []rules.Finding) map[keyRef]map[string][]string {
	out := map[keyRef]map[string][]string{}
	for _, f := range findings {
		if f.Suppressed == nil {
			k := keyOf(f.AccountID, f.Principal, f.AccessKeyID, f.KeySlot)
			if out[k] == nil {
				out[k] = map[string][]string{}
			}
			out[k][f.Rule] = append(out[k][f.Rule], f.Message)
		}
	}
	return out
}

// inRuleOrder lists a key's messages in the order of its action's rules.
func inRuleOrder(byRule map[string][]string, ids []string) []string {
	var out []string
	for _, id := range ids {
		out = append(out, byRule[id]...)
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

// keys writes the keys whois and local were asked about: a table, or a
// block per key where the table would not fit.
func (t TableWriter) keys(ew *errWriter, keys []inventory.Sighting) {
	ew.printf("\n")
	header := []string{"KEY ID", "KIND", "OWNER ACCOUNT", "AUDITED", "PRINCIPAL", "STATUS", "CREATED", "LAST USED", "FOUND IN"}
	var rows [][][]string
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
		rows = append(rows, [][]string{{clean(s.AccessKeyID), string(s.Kind), or(clean(accountLabel(s.OwnerAccount, s.OwnerName, "")), "-"),
			audited, or(clean(s.Principal), "-"), status, created, clean(used), clean(s.Source)}})
	}
	if lines, ok := t.layout(header, rows); ok {
		for _, line := range lines {
			ew.printf("%s\n", line)
		}
	} else {
		for _, row := range rows {
			c := row[0]
			ew.printf("  %s\n", c[0])
			t.para(ew, "    ", "    ", fmt.Sprintf("%s · owner %s · audited: %s · principal %s · %s · created %s · last used %s · found in %s", c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8]))
		}
	}
	for _, s := range keys {
		if s.Error != "" {
			t.para(ew, "  ", "    ", clean(or(s.AccessKeyID, s.Source))+": "+clean(s.Error))
		}
		if s.Issuer != nil {
			t.para(ew, "  ", "    ", fmt.Sprintf("%s: issued by %s to %s on %s from %s", clean(s.AccessKeyID), clean(s.Issuer.EventName), clean(or(s.Issuer.Principal, s.Principal)), s.Issuer.Time.Format(time.RFC3339), or(clean(s.Issuer.SourceIP), "an unknown address")))
		}
		if s.Key != nil && s.Key.Usage != nil {
			u := s.Key.Usage
			if u.Events == 0 {
				t.para(ew, "  ", "    ", fmt.Sprintf("%s: no CloudTrail events since %s", clean(s.AccessKeyID), date(u.Since)))
				continue
			}
			t.para(ew, "  ", "    ", fmt.Sprintf("%s: used in %d CloudTrail events, %s to %s, from %s by %s (%s)", clean(s.AccessKeyID), u.Events, date(u.FirstSeen), date(u.LastSeen),
				clean(strings.Join(u.SourceIPs, ", ")), clean(strings.Join(u.UserAgents, ", ")), clean(strings.Join(u.Services, ", "))))
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
