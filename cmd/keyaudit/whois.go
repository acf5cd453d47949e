package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/keyaudit/keyaudit/audit/inventory"
	"github.com/keyaudit/keyaudit/internal/pipeline"
	"github.com/spf13/cobra"
)

type whoisOptions struct {
	common
	live
	leaked bool
}

func newWhois(e *env) *cobra.Command {
	var o whoisOptions
	cmd := &cobra.Command{
		Use:   "whois [flags] KEYID...",
		Short: "Tell whose an access key ID is and who uses it",
		Long: fmt.Sprintf(`Tells whose an access key ID is: its kind (AKIA long-term, ASIA temporary, ...), the
owning account (STS GetAccessKeyInfo), whether that account is in the audited set or
organization and, when it can be audited, the IAM user, the key's status, age and last
use, and with --trail who uses it (CloudTrail). Keys of accounts outside the set are
reported as key-foreign-account. Without arguments, key IDs are read from standard
input, one per line: at most %d distinct IDs and %d MiB.`, pipeline.MaxWhoisKeys, pipeline.MaxWhoisInput>>20),
		Example: `  keyaudit whois AKIA2YFQQ5J5CGOMJAGK
  keyaudit whois --org --trail AKIA2YFQQ5J5CGOMJAGK
  grep -o 'AKIA[A-Z0-9]\{16\}' build.log | keyaudit whois --org --leaked`,
		RunE: func(cmd *cobra.Command, args []string) error { return o.run(cmd, e, args) },
	}
	fs := cmd.Flags()
	fs.SortFlags = false
	fs.BoolVar(&o.leaked, "leaked", false, "the keys were found where they must not be (a repository, a log, a ticket): plan to deactivate them now, not to rotate them")
	inGroup(fs, groupSelection, "leaked")
	o.live.register(fs, false)
	o.common.register(fs, "no banner or report locations: only errors on standard error", false)
	return cmd
}

func (o *whoisOptions) run(cmd *cobra.Command, e *env, args []string) error {
	if err := o.common.startLog(e); err != nil {
		return err
	}
	opts, err := o.common.options()
	if err != nil {
		return err
	}
	if err := o.live.settings(&opts.Settings); err != nil {
		return err
	}
	keys, err := keyIDs(args, e.stdin)
	if err != nil {
		return err
	}
	for i := range keys {
		keys[i].Leaked = o.leaked
	}
	if err := o.common.checkSinks(e, o.live.profile, o.live.region); err != nil {
		return err
	}
	ctx, conn, deps, cleanup, err := o.live.connect(cmd.Context(), e, &o.common, opts)
	defer cleanup()
	if err != nil {
		return o.offline(cmd, e, opts, keys, err)
	}
	opts.Deps = deps
	r, unanswered, err := pipeline.Whois(ctx, opts, conn, keys)
	if err != nil {
		return o.offline(cmd, e, opts, keys, dialErr(ctx, err))
	}
	_, delivered := o.output.deliver(cmd.Context(), e, r, "")
	return worst(delivered, answers(unanswered), o.output.verdict(r))
}

// offline reports what the key IDs tell by themselves when AWS could not
// be asked (err says why): the rest is an unanswered question, exit 3,
// whether the credentials or the network failed.
func (o *whoisOptions) offline(cmd *cobra.Command, e *env, opts pipeline.Options, keys []inventory.Sighting, err error) error {
	var coded *exitError
	if errors.As(err, &coded) && coded.err != nil {
		err = coded.err
	}
	r, u := pipeline.WhoisOffline(opts, keys, err)
	_, delivered := o.output.deliver(cmd.Context(), e, r, "")
	return worst(delivered, answers(pipeline.Unanswered{Invalid: u.Invalid}),
		incomplete(fmt.Errorf("only what the key IDs tell by themselves is reported, AWS was not asked: %w", err)))
}

// keyIDs reads the IDs to look up from the arguments or, without any, from
// standard input, one per line: at most pipeline.MaxWhoisKeys distinct IDs
// and pipeline.MaxWhoisInput bytes.
func keyIDs(args []string, stdin io.Reader) ([]inventory.Sighting, error) {
	var keys []inventory.Sighting
	distinct := map[string]bool{}
	add := func(id, source string) error {
		if distinct[id] = true; len(distinct) > pipeline.MaxWhoisKeys {
			return badInput("more than %d distinct key IDs (at %s): look them up in several runs", pipeline.MaxWhoisKeys, source)
		}
		keys = append(keys, inventory.Sighting{AccessKeyID: id, Source: source})
		return nil
	}
	if len(args) > 0 {
		for i, a := range args {
			if err := add(strings.TrimSpace(a), fmt.Sprintf("argument %d", i+1)); err != nil {
				return nil, err
			}
		}
		return keys, nil
	}
	if isTerminal(stdin) {
		return nil, badInput("give one or more access key IDs, as arguments or on standard input (see keyaudit whois --help)")
	}
	in := &io.LimitedReader{R: stdin, N: pipeline.MaxWhoisInput + 1}
	sc := bufio.NewScanner(in)
	line := 1
	for ; sc.Scan(); line++ {
		if in.N <= 0 {
			break // the line may be cut at the limit
		}
		if id := strings.TrimSpace(sc.Text()); id != "" && !strings.HasPrefix(id, "#") {
			if err := add(id, fmt.Sprintf("standard input line %d", line)); err != nil {
				return nil, err
			}
		}
	}
	switch err := sc.Err(); {
	case in.N <= 0:
		return nil, badInput("standard input is larger than %d MiB, the most whois reads: give it the key IDs alone, one per line (grep -o)", pipeline.MaxWhoisInput>>20)
	case errors.Is(err, bufio.ErrTooLong):
		return nil, badInput("standard input line %d is longer than %d KiB: give one key ID per line", line, bufio.MaxScanTokenSize>>10)
	case err != nil:
		return nil, usageErr(fmt.Errorf("read key IDs from standard input: %w", err))
	}
	if len(keys) == 0 {
		return nil, badInput("no access key IDs on standard input")
	}
	return keys, nil
}
