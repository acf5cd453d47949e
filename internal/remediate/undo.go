package remediate

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iam/types"
)

// change is one journaled change: its Started record and how it ended.
type change struct {
	rec    Record // the Started record
	status Status // Complete, Failed, or Started when interrupted
	undone bool   // a Restore of it completed
}

// history reads the journal's changes in the order they were started.
func history(recs []Record) []*change {
	var out []*change
	byRef := map[string]*change{}
	for _, r := range recs {
		c := byRef[r.ref()]
		if r.Status == Started && c == nil {
			c = &change{rec: r, status: Started}
			byRef[r.ref()] = c
			out = append(out, c)
			continue
		}
		if c != nil && r.Status != Started {
			c.status = r.Status
		}
	}
	for _, c := range out {
		if c.rec.Op == Restore && c.status == Complete {
			if u := byRef[c.rec.Undoes]; u != nil {
				u.undone = true
			}
		}
	}
	return out
}

// Undo restores, newest first, the previous state of every change match
// selects that is not undone yet, and says what it could not restore: a
// key deleted since, a key or policy changed by hand since, a deletion.
// A change left incomplete (journaled, outcome unknown) is read on the
// key: restored if it was made, left alone if it was not.
func (r *Remediator) Undo(ctx context.Context, match func(Record) bool) ([]Result, error) {
	recs, err := r.Journal.Records(ctx)
	if err != nil {
		return nil, err
	}
	all := history(recs)
	var out []Result
	for _, c := range slices.Backward(all) {
		if c.rec.Op == Restore || c.undone || !match(c.rec) {
			continue
		}
		out = append(out, r.undo(ctx, c))
	}
	return out, nil
}

func (r *Remediator) undo(ctx context.Context, c *change) Result {
	rec := c.rec
	ch := Change{Op: rec.Op, AccountID: rec.AccountID, User: rec.Principal, AccessKeyID: rec.AccessKeyID, PolicyARN: rec.PolicyARN}
	if rec.Op == Delete {
		if c.status == Started || c.status == Failed {
			// Whether it was made or not, there is nothing undo can do.
			return Result{ch, NotRestored, "a deletion cannot be undone; it may not have been made: the journal has no outcome"}
		}
		return Result{ch, NotRestored, "the key was deleted: a deletion cannot be undone"}
	}
	client, err := r.Connect(ctx, rec.AccountID)
	if err != nil {
		return Result{ch, Failure, fmt.Sprintf("reach account %s: %v", rec.AccountID, err)}
	}
	var now string
	if rec.Op == Quarantine {
		now, err = policyState(ctx, client, rec.Principal, rec.PolicyARN)
	} else {
		now, err = keyStatus(ctx, client, rec.Principal, rec.AccessKeyID)
	}
	switch {
	case err != nil:
		return Result{ch, Failure, err.Error()}
	case now == stateDeleted:
		return Result{ch, NotRestored, fmt.Sprintf("the key was deleted since it was set %s: it cannot be restored", rec.New)}
	case now == rec.Previous && c.status == Complete:
		return Result{ch, NotRestored, fmt.Sprintf("it is %s again, changed by hand since: left as it is", now)}
	case now == rec.Previous:
		return Result{ch, Unchanged, fmt.Sprintf("the change was never made (journal %s, change %d is incomplete): it is still %s", rec.JournalID, rec.Seq, now)}
	case now != rec.New:
		return Result{ch, NotRestored, fmt.Sprintf("it is %s, neither %s nor %s: left as it is", now, rec.Previous, rec.New)}
	}
	back := Record{Op: Restore, AccountID: rec.AccountID, Principal: rec.Principal, AccessKeyID: rec.AccessKeyID, PolicyARN: rec.PolicyARN,
		Previous: rec.New, New: rec.Previous, Undoes: rec.ref()}
	if !r.Yes {
		return Result{ch, WouldChange, fmt.Sprintf("back to %s", rec.Previous)}
	}
	res := r.journaled(ctx, back, ch, func() error {
		return call(ctx, client, Restore, rec.Principal, rec.AccessKeyID, rec.PolicyARN, rec.Previous)
	})
	if res.Outcome == Changed {
		res.Reason = "back to " + rec.Previous
	}
	return res
}

// DeleteAfter deletes the keys this tool deactivated at least days ago
// whose journal shows no undo since, which are still inactive and were not
// used since they were deactivated. Deletion cannot be undone.
func (r *Remediator) DeleteAfter(ctx context.Context, days int, sel Selection) ([]Result, error) {
	recs, err := r.Journal.Records(ctx)
	if err != nil {
		return nil, err
	}
	// The latest deactivation of each key, unless it was deleted since.
	latest := map[string]*change{}
	var order []string
	for _, c := range history(recs) {
		id := c.rec.AccountID + "/" + c.rec.AccessKeyID
		switch {
		case c.rec.Op == Delete && c.status == Complete:
			delete(latest, id)
		case c.rec.Op == Deactivate && c.status == Complete:
			if _, seen := latest[id]; !seen {
				order = append(order, id)
			}
			latest[id] = c
		}
	}
	var out []Result
	for _, id := range order {
		c, ok := latest[id]
		if !ok || !sel.hasRecord(c.rec) {
			continue
		}
		out = append(out, r.deleteAfter(ctx, c, days))
	}
	return out, nil
}

func (s Selection) hasRecord(rec Record) bool {
	f := rec.Finding
	if f == nil {
		f = &Finding{}
	}
	return s.has(actionOf(rec, f))
}

func (r *Remediator) deleteAfter(ctx context.Context, c *change, days int) Result {
	rec := c.rec
	ch := Change{Op: Delete, AccountID: rec.AccountID, User: rec.Principal, AccessKeyID: rec.AccessKeyID}
	if rec.Finding != nil {
		ch.Finding = *rec.Finding
	}
	if c.undone {
		return Result{ch, Refused, fmt.Sprintf("it was reactivated by keyaudit undo since it was deactivated (journal %s)", rec.JournalID)}
	}
	now := r.Clock()
	if waited := now.Sub(rec.Time); waited < time.Duration(days)*24*time.Hour {
		return Result{ch, Refused, fmt.Sprintf("deactivated %s, %d days ago: --delete-after waits %d days", rec.Time.Format(time.RFC3339), int(waited.Hours()/24), days)}
	}
	client, err := r.Connect(ctx, rec.AccountID)
	if err != nil {
		return Result{ch, Failure, fmt.Sprintf("reach account %s: %v", rec.AccountID, err)}
	}
	if why, err := r.exempt(ctx, client, rec.Principal, rec.AccessKeyID); err != nil {
		return Result{ch, Failure, err.Error()}
	} else if why != "" {
		return Result{ch, Refused, why}
	}
	status, err := keyStatus(ctx, client, rec.Principal, rec.AccessKeyID)
	switch {
	case err != nil:
		return Result{ch, Failure, err.Error()}
	case status == stateDeleted:
		return Result{ch, Unchanged, "already deleted"}
	case status != string(types.StatusTypeInactive):
		return Result{ch, Refused, fmt.Sprintf("it is %s: reactivated since keyaudit deactivated it (journal %s)", status, rec.JournalID)}
	}
	used, err := lastUsed(ctx, client, rec.AccessKeyID)
	if err != nil {
		return Result{ch, Failure, err.Error()}
	}
	if used.After(rec.Time) {
		return Result{ch, Refused, fmt.Sprintf("it was used %s, after keyaudit deactivated it: someone reactivated it", used.UTC().Format(time.RFC3339))}
	}
	if !r.Yes {
		return Result{ch, WouldChange, "deletion cannot be undone"}
	}
	res := r.journaled(ctx, Record{Op: Delete, AccountID: rec.AccountID, Principal: rec.Principal, AccessKeyID: rec.AccessKeyID,
		Previous: status, New: stateDeleted, Finding: rec.Finding}, ch, func() error {
		return call(ctx, client, Delete, rec.Principal, rec.AccessKeyID, "", stateDeleted)
	})
	if res.Outcome == Changed {
		res.Reason = "deletion cannot be undone"
	}
	return res
}
