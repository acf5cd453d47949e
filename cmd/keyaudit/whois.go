package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/keyaudit/keyaudit/audit/inventory"
	"github.com/keyaudit/keyaudit/internal/pipeline"
	"github.com/spf13/cobra"
)

type whoisOptions struct {
	common
	live
	leaked bool
	from   string
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
reported as key-foreign-account. Without arguments, key IDs are read from --from or
standard input, one per line, or from a gitleaks JSON report, trufflehog JSON lines or
GitHub secret-scanning alerts, whose keys are leaked by definition: only the access key
IDs are read, never a secret. At most %d distinct IDs and %d MiB.`, pipeline.MaxWhoisKeys, pipeline.MaxWhoisInput>>20),
		Example: `  keyaudit whois AKIA2YFQQ5J5CGOMJAGK
  keyaudit whois --org --trail AKIA2YFQQ5J5CGOMJAGK
  grep -o 'AKIA[A-Z0-9]\{16\}' build.log | keyaudit whois --org --leaked
  # a gitleaks or GitHub JSON report, or trufflehog --json output
  keyaudit whois --org --from gitleaks.json`,
		RunE: func(cmd *cobra.Command, args []string) error { return o.run(cmd, e, args) },
	}
	fs := cmd.Flags()
	fs.SortFlags = false
	fs.BoolVar(&o.leaked, "leaked", false, "the keys were found where they must not be (a repository, a log, a ticket): plan to deactivate them now, not to rotate them")
	fs.StringVar(&o.from, "from", "", "read the key IDs from this file (- for standard input): one per line, or a gitleaks, trufflehog or GitHub secret-scanning report")
	inGroup(fs, groupSelection, "leaked", "from")
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
	keys, err := keyIDs(args, o.from, e.stdin)
	if err != nil {
		return err
	}
	for i := range keys {
		// A scanner's report marks its keys leaked by itself.
		keys[i].Leaked = keys[i].Leaked || o.leaked
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
// --from (a file, or - for standard input) or standard input: plain lines
// or a scanner's report (inventory.ParseLeaks). At most
// pipeline.MaxWhoisKeys distinct IDs and pipeline.MaxWhoisInput bytes.
func keyIDs(args []string, from string, stdin io.Reader) ([]inventory.Sighting, error) {
	keys, err := readKeyIDs(args, from, stdin)
	if err != nil {
		return nil, err
	}
	distinct := map[string]bool{}
	for _, k := range keys {
		if distinct[k.AccessKeyID] = true; len(distinct) > pipeline.MaxWhoisKeys {
			return nil, badInput("more than %d distinct key IDs (at %s): look them up in several runs", pipeline.MaxWhoisKeys, k.Source)
		}
	}
	return keys, nil
}

func readKeyIDs(args []string, from string, stdin io.Reader) ([]inventory.Sighting, error) {
	if len(args) > 0 {
		if from != "" {
			return nil, badInput("give key IDs as arguments or with --from, not both")
		}
		keys := make([]inventory.Sighting, len(args))
		for i, a := range args {
			keys[i] = inventory.Sighting{AccessKeyID: strings.TrimSpace(a), Source: fmt.Sprintf("argument %d", i+1)}
		}
		return keys, nil
	}
	name, in := "standard input", stdin
	if from != "" && from != "-" {
		f, err := os.Open(from)
		if err != nil {
			return nil, badInput("--from: %v", err)
		}
		defer f.Close()
		name, in = from, f
	} else if isTerminal(stdin) {
		return nil, badInput("give one or more access key IDs, as arguments, with --from or on standard input (see keyaudit whois --help)")
	}
	data, err := io.ReadAll(io.LimitReader(in, pipeline.MaxWhoisInput+1))
	switch {
	case err != nil:
		return nil, usageErr(fmt.Errorf("read key IDs from %s: %w", name, err))
	case len(data) > pipeline.MaxWhoisInput:
		return nil, badInput("%s is larger than %d MiB, the most whois reads: give it the key IDs alone, one per line (grep -o)", name, pipeline.MaxWhoisInput>>20)
	}
	keys, err := inventory.ParseLeaks(name, data)
	if err != nil {
		return nil, usageErr(err)
	}
	return keys, nil
}
