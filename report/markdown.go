package report

import (
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/keyaudit/keyaudit/rules"
)

// MarkdownWriter writes a short summary, one table row per key to act on,
// the keys to kill first and each key's plan, for a ticket or a
// pull-request comment (GitHub-flavoured Markdown).
type MarkdownWriter struct{}

func (MarkdownWriter) Write(w io.Writer, r *Report) error {
	ew := &errWriter{w: w}
	ew.printf("## keyaudit report\n\n")
	if r.Demo {
		ew.printf("> **Demo data**: a simulated organization, not real AWS accounts.\n\n")
	}
	s := r.Summary
	ew.printf("As of %s", r.AsOf.UTC().Format("2006-01-02 15:04 MST"))
	// whois and local audit no account: no count of none.
	if len(r.Accounts) > 0 {
		ew.printf(" · %d account(s): %d ok, %d error, %d skipped", len(r.Accounts), s.Accounts["ok"], s.Accounts["error"], s.Accounts["skipped"])
	}
	ew.printf(" · **%d finding(s)**: %d critical, %d high, %d medium, %d low", s.Findings, s.BySeverity["critical"], s.BySeverity["high"], s.BySeverity["medium"], s.BySeverity["low"])
	if s.Suppressed > 0 {
		ew.printf(" · %d suppressed", s.Suppressed)
	}
	ew.printf("\n\n")
	if r.Incomplete != "" {
		ew.printf("- :warning: **incomplete**: %s\n", mdCell(r.Incomplete))
	}
	for _, a := range r.Accounts {
		if a.Status != "ok" {
			ew.printf("- :warning: account %s %s: %s\n", mdCell(accountLabel(a.ID, a.Name, "")), a.Status, mdCell(a.Error))
		}
	}
	open := urgentFirst(r.Actions)
	if len(open) == 0 {
		ew.printf("No findings.\n")
		mdCoverage(ew, r)
		mdKillFirst(ew, r)
		return ew.err
	}
	version, cis := r.cisVersion(), cisByRule()
	messages := openMessages(r.Findings)
	ew.printf("\n### Keys to act on (%d)\n\n| Severity | Account | Principal | Access key | Rules (CIS %s) | Finding | What to do |\n|---|---|---|---|---|---|---|\n", len(open), version)
	for _, a := range open {
		var ruleIDs []string
		for _, id := range a.Rules {
			ruleIDs = append(ruleIDs, strings.TrimSpace(id+" "+cis[id].In(version)))
		}
		ew.printf("| %s | %s | %s | %s | %s | %s | %s |\n", a.Severity, mdAccount(a), mdCell(a.Principal),
			mdKey(a.AccessKeyID, a.KeySlot), mdCell(strings.Join(ruleIDs, ", ")), mdCell(strings.Join(inRuleOrder(messages[keyOf(a.AccountID, a.Principal, a.AccessKeyID, a.KeySlot)], a.Rules), "; ")), mdCell(a.Summary))
	}
	mdCoverage(ew, r)
	mdKillFirst(ew, r)
	ew.printf("\n### Plans\n")
	for i, a := range planOrder(r.Actions) {
		ew.printf("\n#### %d. %s · %s · %s · %s\n\n%s\n\n", i+1, a.Severity, mdAccount(a), mdCell(a.Principal), mdKey(a.AccessKeyID, a.KeySlot), mdCell(a.Summary))
		for n, step := range a.Plan {
			item := fmt.Sprintf("%d. ", n+1)
			ew.printf("%s%s\n", item, mdCell(step.Action))
			if step.Command != "" {
				// Indented to the item's text, so the code block stays in the item.
				fence, indent := codeFence(step.Command), strings.Repeat(" ", len(item))
				ew.printf("%s%ssh\n%s%s\n%s%s\n", indent, fence, indent, step.Command, indent, fence)
			}
		}
	}
	return ew.err
}

// mdReplacer keeps a value from AWS or input inside its table cell and out
// of Markdown syntax: pipes and line breaks would break the table; links,
// emphasis, code spans and HTML would render.
var mdReplacer = strings.NewReplacer(
	"\\", `\\`, "|", `\|`, "[", `\[`, "]", `\]`, "*", `\*`, "_", `\_`, "`", "\\`", "~", `\~`,
	"<", `\<`, ">", `\>`, "&", `\&`,
	"\r\n", " ", "\n", " ", "\r", " ",
)

func mdCell(s string) string { return mdReplacer.Replace(Defang(clean(s))) }

// linkLike is what a Markdown renderer (GitHub's among them) or a chat
// turns into a live link: a URL with a scheme, a www. host, a mailto: or
// xmpp: address.
var linkLike = regexp.MustCompile(`(?i)\b(?:[a-z][a-z0-9+.-]*://|www\.|mailto:|xmpp:)\S*`)

// Defang keeps a URL in a value from AWS (an account name the member
// account's root chose, a user name) from becoming a live link: it is
// shown as security teams write one, hxxps[:]//example[.]com.
func Defang(s string) string {
	return linkLike.ReplaceAllStringFunc(s, func(link string) string {
		if len(link) >= 4 && strings.EqualFold(link[:4], "http") {
			link = link[:1] + "xx" + link[3:]
		}
		link = strings.Replace(link, ":", "[:]", 1)
		return strings.ReplaceAll(link, ".", "[.]")
	})
}

// mdCoverage notes what the CIS ids do not cover, where accounts were
// audited (whois and local judge none against CIS).
func mdCoverage(ew *errWriter, r *Report) {
	if len(r.Accounts) > 0 {
		ew.printf("\n%s\n", mdCell(CoverageNote(r.cisVersion())))
	}
}

// mdAccount names an action's account; a key whose owner is unknown (an
// old-format key ID found by local or whois) has none.
func mdAccount(a rules.Action) string {
	return or(mdCell(accountLabel(a.AccountID, a.AccountName, "")), "unknown account")
}

var plainKeyID = regexp.MustCompile(`^[A-Z0-9]+$`)

// mdKey shows a key: its ID as code, or its slot.
func mdKey(id string, slot int) string {
	switch {
	case plainKeyID.MatchString(id):
		return "`" + id + "`"
	case id != "":
		return mdCell(id)
	case slot > 0:
		return fmt.Sprintf("slot %d", slot)
	}
	return "-"
}

// mdKillFirst writes the top of the kill-first ranking, each key with its
// reason, and what the ranking does not cover.
func mdKillFirst(ew *errWriter, r *Report) {
	if len(r.Risk) == 0 {
		return
	}
	top := r.Risk[:min(KillFirstRows, len(r.Risk))]
	ew.printf("\n### Kill first: the top %d of %d active long-term key(s) by risk score\n\n| Rank | Score | Account | Principal | Access key | Why |\n|---:|---:|---|---|---|---|\n", len(top), len(r.Risk))
	for _, k := range top {
		ew.printf("| %d | %d | %s | %s | %s | %s |\n", k.Rank, k.Score, mdCell(accountLabel(k.AccountID, k.AccountName, "")), mdCell(k.Principal),
			mdKey(k.AccessKeyID, k.KeySlot), mdCell(k.Reason()))
	}
	if len(r.RiskNotes) > 0 {
		ew.printf("\n")
	}
	for _, n := range r.RiskNotes {
		ew.printf("- %s\n", mdCell(n))
	}
}

// codeFence is a backtick fence longer than any run of backticks in s.
func codeFence(s string) string {
	longest, run := 0, 0
	for _, r := range s {
		if r == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	return strings.Repeat("`", max(3, longest+1))
}
