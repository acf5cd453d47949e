// Package deliver delivers a run's report, for both entrypoints: it
// writes the report, then imports its findings into Security Hub and
// tells Slack what changed, side by side, within one time budget
// (docs/design.md). The report's model, its diff and its writers are
// report's, which reaches no AWS service and no Slack.
package deliver

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/keyaudit/keyaudit/report"
)

// Writer writes a run's report where it goes and returns where: a
// location a link can point to, or "" (standard output).
type Writer interface {
	Write(ctx context.Context, r *report.Report) (string, error)
}

// History keeps a series of runs: the latest written, the last announced
// to Slack and what Security Hub holds. S3Sink is one.
type History interface {
	Latest(ctx context.Context) (*report.Report, error)
	Baselines
	ReadImported(ctx context.Context) (*Imported, error)
	WriteImported(ctx context.Context, b *Imported) error
}

// Delivery is where one run's report goes. Writer is required; every
// other field may be left empty.
type Delivery struct {
	Writer Writer
	// History, when set, is the series the report joins (the report
	// written by Writer): Security Hub is told what changed since its
	// baseline, Slack what changed since its last announced run, and the
	// report's location is the link they give.
	History History
	// Previous, when set, is the run compared with instead of History's
	// (the CLI's --previous).
	Previous    *report.Report
	SecurityHub *SecurityHub
	Slack       *Slack
	// Budget bounds the whole delivery: it starts after the audit, which
	// may have spent its own time to the last second.
	Budget time.Duration
	// Reserve is kept back from the deadline by every step, for the caller
	// to log what failed and return its summary.
	Reserve time.Duration
}

// Outcome is what a delivery did; each step's error says why it failed.
// A report not written is neither imported nor announced.
type Outcome struct {
	// Location is where the report was written (Writer's answer).
	Location string
	Written  error
	// Imported is the import into Security Hub, when there is one, and
	// Import what it sent and what it left for the next run.
	Imported error
	Import   ImportResult
	// Changes are what Slack was told changed, Sent whether a message
	// went (nothing is sent on a quiet night with OnlyChanges).
	Changes   report.Changes
	Sent      bool
	Announced error
	// Warnings are what did not stop the delivery but a person should
	// know: a baseline that could not be read, findings carried over.
	Warnings []string
}

// Deliver writes r, then imports its findings into Security Hub and tells
// Slack what changed, side by side, each until the budget's deadline less
// the reserve: the report is stored before anything is sent, so a failing
// import or post never loses it, and a Security Hub that throttles cannot
// keep Slack from being told.
func (d *Delivery) Deliver(ctx context.Context, r *report.Report) Outcome {
	if d.Budget > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d.Budget)
		defer cancel()
	}
	ctx, cancel := before(ctx, d.Reserve)
	defer cancel()
	var out Outcome
	// The previous run: each finding keeps when it was first seen, and it
	// is Security Hub's fallback baseline. Read it before this run's
	// report replaces it.
	latest := d.latest(ctx)
	prev, prevErr := latest()
	report.CarryOver(prev, r)
	if prevErr != nil && d.SecurityHub == nil {
		out.Warnings = append(out.Warnings, fmt.Sprintf("previous run unreadable: each finding is first seen tonight: %v", prevErr))
	}
	if out.Location, out.Written = d.Writer.Write(ctx, r); out.Written != nil {
		return out
	}
	var wg sync.WaitGroup
	var hubWarnings, slackWarnings []string
	if d.SecurityHub != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out.Import, hubWarnings, out.Imported = d.importFindings(ctx, r, latest, out.Location)
		}()
	}
	if d.Slack != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out.Changes, out.Sent, slackWarnings, out.Announced = d.announce(ctx, r, out.Location)
		}()
	}
	wg.Wait()
	out.Warnings = slices.Concat(out.Warnings, hubWarnings, slackWarnings)
	return out
}

// latest reads History's latest run now and returns it when asked.
func (d *Delivery) latest(ctx context.Context) func() (*report.Report, error) {
	if d.Previous != nil || d.History == nil {
		return func() (*report.Report, error) { return d.Previous, nil }
	}
	prev, err := d.History.Latest(ctx)
	return func() (*report.Report, error) { return prev, err }
}

// recordTime is kept back from an import's deadline to record what went
// through (at most half of the time left).
const recordTime = 5 * time.Second

// importFindings imports r's findings against the Security Hub baseline:
// History's when it has one it can read, else the one the previous run
// stands for (Previous, or History's latest). The baseline is written
// after the import, with what went through; the link to the report is
// the History's location.
func (d *Delivery) importFindings(ctx context.Context, r *report.Report, latest func() (*report.Report, error), location string) (ImportResult, []string, error) {
	hub := d.SecurityHub
	var warnings []string
	var base *Imported
	if d.History != nil && d.Previous == nil {
		var err error
		if base, err = d.History.ReadImported(ctx); err != nil {
			warnings = append(warnings, fmt.Sprintf("Security Hub baseline unreadable, started afresh from the latest run: %v", err))
		}
	}
	if base == nil {
		prev, err := latest()
		switch {
		case err != nil:
			warnings = append(warnings, fmt.Sprintf("previous run unreadable: findings it had and this run has not are not archived in Security Hub: %v", err))
		case report.Diff(prev, r).Refused != nil:
			warnings = append(warnings, fmt.Sprintf("previous run not compared: findings it had and this run has not are not archived in Security Hub: %v", report.Diff(prev, r).Refused))
		default:
			base = ImportedFrom(prev)
		}
	}
	link := ""
	if d.History != nil {
		link = location
	}
	deadline, _ := ctx.Deadline()
	importCtx, cancel := before(ctx, min(recordTime, time.Until(deadline)/2))
	defer cancel()
	next, res, err := hub.Import(importCtx, r, base, link)
	if err != nil {
		err = fmt.Errorf("import into Security Hub %s in %s: %w", hub.Account, hub.Region, err)
	}
	if res.Carried > 0 {
		warnings = append(warnings, fmt.Sprintf("Security Hub: %d of %d findings to send were not sent in the time there was; the next run sends them",
			res.Carried, res.Carried+res.Imported))
	}
	if d.History != nil && d.Previous == nil && res.Imported > 0 {
		if werr := d.History.WriteImported(ctx, next); werr != nil {
			err = errors.Join(err, fmt.Errorf("record what Security Hub holds (the next run sends it again): %w", werr))
		}
	}
	return res, warnings, err
}

// announce tells Slack what changed: since Previous when given, else since
// the History's last announced run (so news a failed post missed is posted
// next time), else everything open is news. An announced run that cannot
// be read is a warning, and everything open is news: the post then
// rewrites it, where an error would silence Slack every night.
func (d *Delivery) announce(ctx context.Context, r *report.Report, location string) (report.Changes, bool, []string, error) {
	if d.Previous == nil && d.History != nil {
		store := &freshOnError{Baselines: d.History}
		ch, sent, err := d.Slack.Announce(ctx, store, r, location)
		return ch, sent, store.warnings, err
	}
	ch := report.Diff(d.Previous, r)
	sent, err := d.Slack.Notify(ctx, r, ch, location)
	return ch, sent, nil, err
}

// freshOnError reads an unreadable announced run as none, and says so.
type freshOnError struct {
	Baselines
	warnings []string
}

func (f *freshOnError) ReadAnnounced(ctx context.Context) (*report.Report, error) {
	base, err := f.Baselines.ReadAnnounced(ctx)
	if err != nil {
		f.warnings = append(f.warnings, fmt.Sprintf("last announced run unreadable, everything open is posted as news: %v", err))
		return nil, nil
	}
	return base, nil
}

// before returns ctx ending d before its deadline; ctx itself when it has
// no deadline or d is not positive.
func before(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if deadline, ok := ctx.Deadline(); ok && d > 0 {
		return context.WithDeadline(ctx, deadline.Add(-d))
	}
	return context.WithCancel(ctx)
}

// Budget is the time the CLI gives a delivery after the audit: a --timeout
// that stopped the audit must not also stop the report of what was
// audited. The Lambda's delivery has what is left of its invocation.
const Budget = 3 * time.Minute
