package main

import (
	"fmt"
	"time"

	"github.com/keyaudit/keyaudit/internal/pipeline"
	"github.com/keyaudit/keyaudit/internal/remediate"
	"github.com/spf13/cobra"
)

type undoOptions struct {
	remediation
	since string
}

func newUndo(e *env) *cobra.Command {
	var o undoOptions
	cmd := &cobra.Command{
		Use:   "undo JOURNAL_ID | --since TIME",
		Short: "Restore what keyaudit apply changed, newest first",
		Long: `Restores the previous state of every change keyaudit apply journaled under JOURNAL_ID,
or since TIME, newest first: a deactivated key is activated again, the quarantine policy
detached. It says what it could not restore: a key deleted since, a key changed by hand
since, a deletion (which nothing can undo). A change the journal left incomplete is read
on the key: restored if it was made. Each restore is journaled too.`,
		Example: `  keyaudit undo 20261124T030000Z-1a2b3c4d
  keyaudit undo --since 2026-11-24T00:00:00Z --journal s3://BUCKET/keyaudit`,
		RunE: func(cmd *cobra.Command, args []string) error { return o.run(cmd, e, args) },
	}
	fs := cmd.Flags()
	fs.SortFlags = false
	fs.StringVar(&o.since, "since", "", "undo every change made since this RFC 3339 time, instead of one journal ID")
	inGroup(fs, groupSelection, "since")
	o.remediation.register(fs)
	return cmd
}

func (o *undoOptions) run(cmd *cobra.Command, e *env, args []string) error {
	var match func(remediate.Record) bool
	switch {
	case len(args) > 1:
		return badInput("undo takes one journal ID, not %d arguments", len(args))
	case len(args) == 1 && o.since != "":
		return badInput("give a journal ID or --since, not both")
	case len(args) == 1:
		id := args[0]
		match = func(r remediate.Record) bool { return r.JournalID == id }
	case o.since != "":
		t, err := time.Parse(time.RFC3339, o.since)
		if err != nil {
			return badInput("--since %q is not an RFC 3339 time such as 2026-11-24T00:00:00Z", o.since)
		}
		match = func(r remediate.Record) bool { return !r.Time.Before(t) }
	default:
		return badInput("give the journal ID keyaudit apply printed, or --since TIME")
	}
	recs, err := o.records(cmd.Context(), e)
	if err != nil {
		return err
	}
	var accounts []string
	for _, r := range recs {
		if match(r) {
			accounts = append(accounts, r.AccountID)
		}
	}
	if len(accounts) == 0 {
		what := "since " + o.since
		if len(args) == 1 {
			what = "under journal ID " + args[0]
		}
		return badInput("the journal %s records no change %s", o.journal, what)
	}
	say := func(line string) { fmt.Fprintln(e.stderr, line) }
	log, err := newLogger(e.stderr, "text", false, false)
	if err != nil {
		return err
	}
	started := time.Now().UTC()
	opts := pipeline.Options{Settings: pipeline.Settings{Names: cliNames, RunID: pipeline.NewID(started), Started: started, Now: started},
		Deps: pipeline.Deps{Logger: log}}
	if err := o.live.settings(&opts.Settings); err != nil {
		return err
	}
	o.target(&opts.Settings, accounts)
	ctx, conn, _, cleanup, err := o.live.connect(cmd.Context(), e, &common{output: output{say: say}}, opts)
	defer cleanup()
	if err != nil {
		return err
	}
	rem, err := o.remediator(cmd.Context(), e, conn, 0)
	if err != nil {
		return err
	}
	// Undo puts back what the journal says was there: it acts at once.
	rem.Yes = true
	results, err := rem.Undo(ctx, match)
	if err != nil {
		return usageErr(err)
	}
	if len(results) == 0 {
		say("nothing to undo: every change selected is undone already")
		return nil
	}
	return o.tell(e, rem, results, false)
}
