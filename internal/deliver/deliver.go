// Package deliver delivers a run's report, for both entrypoints: it
// writes the report, imports its findings into Security Hub and tells
// Slack what changed, in that order and within one time budget
// (docs/design.md). The report's model, its diff and its writers are
// report's, which reaches no AWS service and no Slack.
package deliver

import (
	"context"
	"fmt"
	"time"

	"github.com/keyaudit/keyaudit/report"
)

// Writer writes a run's report where it goes and returns where: a
// location a link can point to, or "" (standard output).
type Writer interface {
	Write(ctx context.Context, r *report.Report) (string, error)
}

// History keeps a series of runs: the latest written and the last
// announced to Slack. S3Sink is one.
type History interface {
	Latest(ctx context.Context) (*report.Report, error)
	Baselines
}

// Delivery is where one run's report goes. Writer is required; every
// other field may be left empty.
type Delivery struct {
	Writer Writer
	// History, when set, is the series the report joins (the report
	// written by Writer): Security Hub archives what its latest run found
	// and this one did not, Slack tells what changed since its last
	// announced run, and the report's location is the link they give.
	History History
	// Previous, when set, is the run compared with instead of History's
	// (the CLI's --previous).
	Previous    *report.Report
	SecurityHub *SecurityHub
	Slack       *Slack
	// Budget bounds the whole delivery: it starts after the audit, which
	// may have spent its own time to the last second.
	Budget time.Duration
	// WriteReserve is kept back from the deadline when writing, for the
	// caller to log what could not be written.
	WriteReserve time.Duration
}

// Outcome is what a delivery did; each step's error says why it failed.
// A report not written is neither imported nor announced.
type Outcome struct {
	// Location is where the report was written (Writer's answer).
	Location string
	Written  error
	// Imported is the import into Security Hub, when there is one.
	Imported error
	// Changes are what Slack was told changed, Sent whether a message
	// went (nothing is sent on a quiet night with OnlyChanges).
	Changes   report.Changes
	Sent      bool
	Announced error
}

// Deliver writes r, then imports its findings into Security Hub, then
// tells Slack what changed: the report is stored before anything is sent,
// so a failing import or post never loses it.
func (d *Delivery) Deliver(ctx context.Context, r *report.Report) Outcome {
	if d.Budget > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d.Budget)
		defer cancel()
	}
	// Security Hub archives what the previous run found and this one did
	// not: read History's latest before this run's report replaces it.
	prev, prevErr := d.Previous, error(nil)
	if d.SecurityHub != nil && prev == nil && d.History != nil {
		prev, prevErr = d.History.Latest(ctx)
	}
	var out Outcome
	if out.Location, out.Written = d.write(ctx, r); out.Written != nil {
		return out
	}
	if d.SecurityHub != nil {
		out.Imported = d.importFindings(ctx, r, prev, prevErr, out.Location)
	}
	if d.Slack != nil {
		out.Changes, out.Sent, out.Announced = d.announce(ctx, r, out.Location)
	}
	return out
}

func (d *Delivery) write(ctx context.Context, r *report.Report) (string, error) {
	if deadline, ok := ctx.Deadline(); ok && d.WriteReserve > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline.Add(-d.WriteReserve))
		defer cancel()
	}
	return d.Writer.Write(ctx, r)
}

// importFindings imports r's findings, archiving what prev found and r no
// longer does; the link to the report is the History's location.
func (d *Delivery) importFindings(ctx context.Context, r, prev *report.Report, prevErr error, location string) error {
	hub := d.SecurityHub
	if prevErr != nil {
		return fmt.Errorf("import into Security Hub: read the previous run, to archive what it found and this one did not: %w", prevErr)
	}
	link := ""
	if d.History != nil {
		link = location
	}
	if err := hub.Import(ctx, r, prev, link); err != nil {
		return fmt.Errorf("import into Security Hub %s in %s: %w", hub.Account, hub.Region, err)
	}
	return nil
}

// announce tells Slack what changed: since Previous when given, else since
// the History's last announced run (so news a failed post missed is posted
// next time), else everything open is news.
func (d *Delivery) announce(ctx context.Context, r *report.Report, location string) (report.Changes, bool, error) {
	if d.Previous == nil && d.History != nil {
		return d.Slack.Announce(ctx, d.History, r, location)
	}
	ch := report.Diff(d.Previous, r)
	sent, err := d.Slack.Notify(ctx, r, ch, location)
	return ch, sent, err
}

// Budget is the time a delivery is given after the audit: a --timeout or
// an invocation's reserve that stopped the audit must not also stop the
// report of what was audited.
const Budget = 3 * time.Minute
