package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/keyaudit/keyaudit/internal/event"
	"github.com/keyaudit/keyaudit/internal/pipeline"
	"github.com/spf13/cobra"
)

type eventOptions struct {
	common
	live
}

func newEvent(e *env) *cobra.Command {
	var o eventOptions
	cmd := &cobra.Command{
		Use:   "event [flags] FILE|-",
		Short: "Judge the one principal an EventBridge event names, as the nightly run would",
		Long: fmt.Sprintf(`Reads one EventBridge event (a file, or - for standard input; at most %d KiB) and judges
the principal it names with the nightly run's rules, plans and ranking, reading that one
user live (GetUser, GetLoginProfile, ListMFADevices, ListAccessKeys, GetAccessKeyLastUsed,
its policies) instead of the credential report, which can be four hours old. Events:
CloudTrail's %s, a root CreateAccessKey, and the AWS Health event
%s (the key is reported leaked).

The event's account is reached through the member role, as scan reaches it. Without
--org or --accounts only the event's own account is a target; with --org an event of an
account outside the organization is not judged (exit 3). An event keyaudit does not act
on (a key set Inactive, a call that failed) exits 0 and says why on standard error.`,
			event.MaxSize>>10, event.Calls, event.HealthExposed),
		Example: `  keyaudit event --org create-access-key.json
  aws sqs receive-message ... | jq -r '.Messages[0].Body' | keyaudit event --org -`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return o.run(cmd, e, args[0]) },
	}
	fs := cmd.Flags()
	fs.SortFlags = false
	o.live.register(fs, false)
	o.common.register(fs, "no banner or report locations: only errors on standard error", false)
	return cmd
}

func (o *eventOptions) run(cmd *cobra.Command, e *env, name string) error {
	if err := o.common.startLog(e); err != nil {
		return err
	}
	opts, err := o.common.options()
	if err != nil {
		return err
	}
	ev, err := readEvent(name, e.stdin)
	if errors.Is(err, event.ErrIgnored) {
		if o.say != nil {
			o.say(fmt.Sprintf("%s: %v", name, err))
		}
		return nil
	}
	if err != nil {
		return err
	}
	if o.say != nil {
		// The report names the key, not the change: say what happened.
		o.say("judging " + ev.String())
	}
	if !o.live.org && !o.live.demo && o.live.accounts == "" && o.live.accountsFile == "" {
		o.live.accounts = ev.Account
	}
	if err := o.live.settings(&opts.Settings); err != nil {
		return err
	}
	if err := o.common.checkSinks(e, o.live.profile, o.live.region); err != nil {
		return err
	}
	ctx, conn, deps, cleanup, err := o.live.connect(cmd.Context(), e, &o.common, opts)
	defer cleanup()
	if err != nil {
		return err
	}
	opts.Deps = deps
	r, err := pipeline.Judge(ctx, opts, conn, ev)
	if errors.Is(err, pipeline.ErrNotTargeted) {
		return incomplete(fmt.Errorf("%s: %w", ev, err))
	}
	if err != nil {
		return dialErr(ctx, err)
	}
	_, delivered := o.output.deliver(cmd.Context(), e, r, "")
	return worst(delivered, o.output.verdict(r))
}

// readEvent reads and parses one event from a file or, for "-", standard
// input, bounded by the largest event EventBridge delivers.
func readEvent(name string, stdin io.Reader) (event.Event, error) {
	in := stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return event.Event{}, usageErr(fmt.Errorf("read the event: %w", err))
		}
		defer f.Close()
		in = f
	} else if isTerminal(stdin) {
		return event.Event{}, badInput("give the event as a file, or pipe it to standard input with -")
	}
	data, err := io.ReadAll(io.LimitReader(in, event.MaxSize+1))
	if err != nil {
		return event.Event{}, usageErr(fmt.Errorf("read the event from %s: %w", name, err))
	}
	ev, err := event.Parse(data)
	if err != nil && !errors.Is(err, event.ErrIgnored) {
		return event.Event{}, badInput("%s: %v", name, err)
	}
	return ev, err
}
