package main

// The nightly function's remediation policies, each off unless its template
// parameter turns it on (docs/remediate.md, The Lambda's policies): once the
// run's report is built, deactivate the leaked keys the event names and the
// keys unused for KEYAUDIT_DEACTIVATE_UNUSED_DAYS, through the remediation
// role, each change journaled in the reports bucket before it is made.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/keyaudit/keyaudit/audit"
	"github.com/keyaudit/keyaudit/audit/inventory"
	"github.com/keyaudit/keyaudit/internal/pipeline"
	"github.com/keyaudit/keyaudit/internal/remediate"
	"github.com/keyaudit/keyaudit/report"
	"github.com/keyaudit/keyaudit/rules"
)

// policies are the remediation the function may do.
type policies struct {
	// Leaked deactivates the leaked keys an event names (KEYAUDIT_DEACTIVATE_LEAKED).
	Leaked bool
	// UnusedDays deactivates the keys unused for at least this many days,
	// and never fewer than the config's unused_days; 0 is off
	// (KEYAUDIT_DEACTIVATE_UNUSED_DAYS).
	UnusedDays int
	// RoleName is the remediation role in each account (KEYAUDIT_REMEDIATION_ROLE_NAME).
	RoleName string
	// KMSKeyARN is named on every journal record put, as the bucket requires.
	KMSKeyARN string
}

func (p policies) on() bool { return p.Leaked || p.UnusedDays > 0 }

// policiesFromEnv reads the policies from the function's environment.
func policiesFromEnv(getenv func(string) string) (policies, error) {
	p := policies{Leaked: getenv("KEYAUDIT_DEACTIVATE_LEAKED") == "true", RoleName: getenv("KEYAUDIT_REMEDIATION_ROLE_NAME"), KMSKeyARN: getenv("KEYAUDIT_KMS_KEY_ARN")}
	if v := getenv("KEYAUDIT_DEACTIVATE_UNUSED_DAYS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return p, fmt.Errorf("KEYAUDIT_DEACTIVATE_UNUSED_DAYS must be a whole number of days, or 0 to leave unused keys alone, got %q", v)
		}
		p.UnusedDays = n
	}
	if p.on() && p.RoleName == "" {
		return p, errors.New("KEYAUDIT_REMEDIATION_ROLE_NAME is not set: name the remediation role the policies act through (template.yaml deploys STACK-remediation)")
	}
	return p, nil
}

// Remediation is what the policies did, in the run's summary.
type Remediation struct {
	JournalID string `json:"journal_id"`
	// Journal is where the records are: s3://BUCKET/PREFIX, as undo takes it.
	Journal string `json:"journal"`
	Changed int    `json:"changed"`
	// NotChanged are the changes refused or failed, one line each.
	NotChanged []string `json:"not_changed,omitempty"`
	// Undo is the command that takes the changes back; empty when none was made.
	Undo string `json:"undo,omitempty"`
}

// slackLine is what Slack is told of the changes: their number, the
// journal and how to undo them; nothing when nothing was tried.
func (r *Remediation) slackLine() string {
	if r == nil || r.Changed+len(r.NotChanged) == 0 {
		return ""
	}
	line := fmt.Sprintf(":wrench: *Remediation:* %d key(s) deactivated, %d not (see the run's summary). Journal `%s`.", r.Changed, len(r.NotChanged), r.JournalID)
	if r.Undo != "" {
		line += " To undo: `" + r.Undo + "`"
	}
	return line
}

// remediate applies the policies that are on to the run's report r and
// to the leaked keys the event named. Its error is what keeps it from
// acting at all; a change refused or failed is in NotChanged, and a
// failed one is in the error too, so the run's alarm fires.
func (h *handler) remediate(ctx context.Context, inv *invocation, conn *pipeline.Conn, r *report.Report, leaked []string) (*Remediation, error) {
	p := h.settings.Policies
	if len(leaked) > 0 && !p.Leaked {
		return nil, fmt.Errorf("the event names %d leaked key(s), but DeactivateLeakedKeys is Disabled: nothing was deactivated; run keyaudit whois --leaked on them", len(leaked))
	}
	if !p.on() {
		return nil, nil
	}
	changes, err := h.selected(ctx, inv, conn, r, leaked)
	if err != nil || len(changes) == 0 {
		return nil, err
	}
	var accounts []audit.Target
	for _, c := range changes {
		if !slices.ContainsFunc(accounts, func(t audit.Target) bool { return t.AccountID == c.AccountID }) {
			accounts = append(accounts, audit.Target{AccountID: c.AccountID, Name: c.AccountName})
		}
	}
	sel := inv.settings.Selection()
	sel.Org, sel.Accounts, sel.Exclude = false, accounts, nil
	sel.Role.Name, sel.Role.Path = p.RoleName, "/" // template.yaml gives it no path
	through, err := pipeline.Dial(ctx, inv.cfg, sel)
	if err != nil {
		return nil, fmt.Errorf("reach the accounts through the remediation role %s: %w", p.RoleName, err)
	}
	journal := remediate.S3{Client: inv.s3, Bucket: h.settings.Bucket, Prefix: h.settings.Prefix, KMSKeyARN: p.KMSKeyARN}
	rem := &remediate.Remediator{
		Journal: journal, JournalID: inv.run.ID, Actor: fmt.Sprintf("keyaudit nightly function (run %s, account %s)", inv.run.ID, through.Caller),
		Clock: time.Now, UnusedDays: max(p.UnusedDays, inv.settings.Config.Thresholds.UnusedDays), Yes: true,
		Connect: remediate.Through(through.IAM),
	}
	where := strings.TrimSuffix("s3://"+h.settings.Bucket+"/"+h.settings.Prefix, "/")
	out := &Remediation{JournalID: rem.JournalID, Journal: where}
	var failed []string
	for _, res := range rem.Apply(ctx, changes) {
		c := res.Change
		switch res.Outcome {
		case remediate.Changed:
			out.Changed++
		case remediate.Unchanged:
		default:
			line := fmt.Sprintf("%s: %s key %s of user %q in account %s: %s", res.Outcome, c.Op, c.AccessKeyID, c.User, c.AccountID, res.Reason)
			out.NotChanged = append(out.NotChanged, line)
			if res.Outcome == remediate.Failure {
				failed = append(failed, line)
			}
		}
	}
	if out.Changed > 0 {
		out.Undo = fmt.Sprintf("keyaudit undo %s --journal %s", rem.JournalID, where)
	}
	if len(failed) > 0 {
		return out, fmt.Errorf("remediation: %d change(s) failed: %s", len(failed), strings.Join(failed, "; "))
	}
	return out, nil
}

// selected are the changes the policies select: the reversible steps of
// the leaked keys' plans, judged as whois --leaked judges them, and of
// the report's key-unused plans idle for UnusedDays or more.
func (h *handler) selected(ctx context.Context, inv *invocation, conn *pipeline.Conn, r *report.Report, leaked []string) ([]remediate.Change, error) {
	p := h.settings.Policies
	var changes []remediate.Change
	if len(leaked) > 0 {
		keys := make([]inventory.Sighting, len(leaked))
		for i, id := range leaked {
			keys[i] = inventory.Sighting{AccessKeyID: strings.TrimSpace(id), Source: fmt.Sprintf("the event's leaked[%d]", i), Leaked: true}
		}
		wr, unanswered, err := pipeline.Whois(ctx, inv.options(conn), conn, keys)
		if err != nil {
			return nil, fmt.Errorf("look up the leaked keys: %w", err)
		}
		for _, k := range wr.Keys {
			if k.Error != "" {
				// A value that is no key ID is named by its position only.
				inv.log.Warn("leaked key not looked up", "key", k.AccessKeyID, "source", k.Source, "error", k.Error)
			}
		}
		if unanswered.Invalid+unanswered.Failed > 0 {
			inv.log.Warn("leaked keys unanswered", "invalid", unanswered.Invalid, "failed", unanswered.Failed)
		}
		found, _ := remediate.Select(wr.Actions, remediate.Selection{Rules: []string{rules.KeyLeaked}})
		changes = append(changes, found...)
	}
	if p.UnusedDays > 0 {
		idle := map[string]bool{}
		for _, f := range r.Findings {
			if f.Rule == rules.KeyUnused && f.Suppressed == nil && idleDays(f.Details) >= p.UnusedDays {
				idle[f.AccountID+"/"+f.AccessKeyID] = true
			}
		}
		var unused []rules.Action
		for _, a := range r.Actions {
			if a.AccessKeyID != "" && idle[a.AccountID+"/"+a.AccessKeyID] {
				unused = append(unused, a)
			}
		}
		found, _ := remediate.Select(unused, remediate.Selection{Rules: []string{rules.KeyUnused}})
		changes = append(changes, found...)
	}
	return changes, nil
}

// idleDays is how long a key has gone unused: since its last use or,
// never used, since it was created; -1 when unknown.
func idleDays(d rules.Details) int {
	switch {
	case d.DaysSinceUse != nil:
		return *d.DaysSinceUse
	case d.NeverUsed && d.KeyAgeDays != nil:
		return *d.KeyAgeDays
	}
	return -1
}
