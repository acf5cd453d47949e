package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/keyaudit/keyaudit/internal/pipeline"
	"github.com/keyaudit/keyaudit/internal/remediate"
	"github.com/keyaudit/keyaudit/report"
	"github.com/keyaudit/keyaudit/rules"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// defaultDeleteAfter is --delete-after's wait when given without a number.
const defaultDeleteAfter = 14

// remediation are the flags apply and undo share: where the journal is,
// which accounts to reach and how, and whether to act.
type remediation struct {
	live
	journal   string
	exemptTag string
	yes       bool
}

func (m *remediation) register(fs *pflag.FlagSet) {
	fs.StringVar(&m.journal, "journal", "keyaudit-journal.jsonl", "the journal of changes: a local file, or s3://BUCKET/PREFIX (the reports bucket)")
	inGroup(fs, groupOutput, "journal")
	m.live.register(fs, false)
}

type applyOptions struct {
	remediation
	reportFile  string
	ruleIDs     []string
	severity    string
	accountIDs  []string
	keys        []string
	configFile  string
	deleteAfter int
}

func newApply(e *env) *cobra.Command {
	var o applyOptions
	cmd := &cobra.Command{
		Use:   "apply [flags]",
		Short: "Make the reversible steps of the selected plans: deactivate keys, quarantine leaked ones",
		Long: `Makes the reversible steps of the selected plans through the AWS API: deactivate a key
(UpdateAccessKey to Inactive) and attach AWS's quarantine policy to a leaked key's user.
Without --yes it only prints the calls it would make. It refuses a key used within
unused_days unless the plan deactivates keys in use (a leaked key), and the keys of
users tagged keyaudit:exempt. Each change is written to the journal before it is
made; keyaudit undo restores it. --delete-after N deletes the keys the journal shows
deactivated N days ago with no reactivation and no use since: that cannot be undone.`,
		Example: `  keyaudit apply --report report.json --rule key-unused          the calls it would make
  keyaudit apply --report report.json --rule key-unused --yes    make them
  keyaudit apply --org --severity critical --yes                 scan, then act
  keyaudit apply --delete-after --yes                            delete what waited 14 days`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return o.run(cmd, e) },
	}
	fs := cmd.Flags()
	fs.SortFlags = false
	fs.StringVar(&o.reportFile, "report", "", "the JSON report to act on (keyaudit scan --format json); without it, apply scans first")
	fs.StringSliceVar(&o.ruleIDs, "rule", nil, "only plans for these rules (comma-separated or repeated)")
	fs.StringVar(&o.severity, "severity", "", "only plans at or above this severity: critical, high, medium or low")
	fs.StringSliceVar(&o.accountIDs, "account", nil, "only plans in these accounts")
	fs.StringSliceVar(&o.keys, "key", nil, "only plans for these access key IDs")
	fs.IntVar(&o.deleteAfter, "delete-after", 0, fmt.Sprintf("instead, delete the keys the journal shows deactivated this many days ago (default %d) and unused since; deletion cannot be undone", defaultDeleteAfter))
	fs.Lookup("delete-after").NoOptDefVal = fmt.Sprint(defaultDeleteAfter)
	fs.BoolVar(&o.yes, "yes", false, "make the changes; without it, only print the calls apply would make")
	inGroup(fs, groupSelection, "report", "rule", "severity", "account", "key", "delete-after", "yes")
	fs.StringVar(&o.exemptTag, "exempt-tag", remediate.DefaultExemptTag, "user tag that exempts the user's keys (value empty or true: every key; else the key IDs it names)")
	fs.StringVar(&o.configFile, "config", "", "YAML file with thresholds (unused_days decides which keys are in use)")
	inGroup(fs, groupOutput, "exempt-tag", "config")
	o.remediation.register(fs)
	return cmd
}

// selection reads the selection flags.
func (o *applyOptions) selection() (remediate.Selection, error) {
	sel := remediate.Selection{Rules: o.ruleIDs, Accounts: o.accountIDs, Keys: o.keys}
	known := rules.Catalogue()
	for _, id := range o.ruleIDs {
		if !slices.ContainsFunc(known, func(r rules.Rule) bool { return r.ID == id }) {
			return sel, badInput("--rule %q is not a rule: keyaudit rules lists them", id)
		}
	}
	if o.severity != "" {
		s, err := rules.ParseSeverity(o.severity)
		if err != nil {
			return sel, badInput("--severity: %v", err)
		}
		sel.Severity = s
	}
	return sel, nil
}

func (o *applyOptions) run(cmd *cobra.Command, e *env) error {
	sel, err := o.selection()
	if err != nil {
		return err
	}
	deleting := cmd.Flags().Changed("delete-after")
	switch {
	case deleting && o.deleteAfter < 1:
		return badInput("--delete-after %d: give the days a key must stay inactive, 1 or more", o.deleteAfter)
	case deleting && o.reportFile != "":
		return badInput("--delete-after reads the journal, not a report: drop --report")
	case !deleting && sel.Empty():
		return badInput("apply acts on a selection: give --rule, --severity, --account or --key")
	}
	cfg, err := loadConfig(o.configFile, "")
	if err != nil {
		return err
	}
	log, err := newLogger(e.stderr, "text", false, false)
	if err != nil {
		return err
	}
	say := func(line string) { fmt.Fprintln(e.stderr, line) }
	started := time.Now().UTC()
	opts := pipeline.Options{Settings: pipeline.Settings{Names: cliNames, RunID: pipeline.NewID(started), Started: started, Now: started, Config: cfg},
		Deps: pipeline.Deps{Logger: log}}

	var changes []remediate.Change
	var skips []remediate.Skip
	var accounts []string
	if o.reportFile != "" {
		r, err := readReport(o.reportFile)
		if err != nil {
			return err
		}
		changes, skips = remediate.Select(r.Actions, sel)
		for _, c := range changes {
			accounts = append(accounts, c.AccountID)
		}
		if len(changes) == 0 {
			return o.nothing(e, skips)
		}
	}
	if deleting {
		recs, err := o.records(cmd.Context(), e)
		if err != nil {
			return err
		}
		for _, r := range recs {
			accounts = append(accounts, r.AccountID)
		}
		if len(recs) == 0 {
			say("the journal " + o.journal + " records no change: nothing to delete")
			return nil
		}
	}
	if err := o.live.settings(&opts.Settings); err != nil {
		return err
	}
	o.target(&opts.Settings, accounts)
	ctx, conn, deps, cleanup, err := o.live.connect(cmd.Context(), e, &common{output: output{say: say}}, opts)
	defer cleanup()
	if err != nil {
		return err
	}
	if o.reportFile == "" && !deleting {
		opts.Deps = deps
		r := pipeline.Live(ctx, opts, conn.Targets, conn.IAM)
		changes, skips = remediate.Select(r.Actions, sel)
		if len(changes) == 0 {
			return o.nothing(e, skips)
		}
	}
	rem, err := o.remediator(cmd.Context(), e, conn, cfg.Thresholds.UnusedDays)
	if err != nil {
		return err
	}
	if deleting {
		results, err := rem.DeleteAfter(ctx, o.deleteAfter, sel)
		if err != nil {
			return usageErr(err)
		}
		return o.tell(e, rem, results, false)
	}
	for _, s := range skips {
		say(fmt.Sprintf("not applied: %s %s in account %s: %s", s.Action.Principal, s.Action.AccessKeyID, s.Action.AccountID, s.Reason))
	}
	return o.tell(e, rem, rem.Apply(ctx, changes), true)
}

// nothing says that the selection holds no step apply may make.
func (o *applyOptions) nothing(e *env, skips []remediate.Skip) error {
	for _, s := range skips {
		fmt.Fprintf(e.stderr, "not applied: %s %s in account %s: %s\n", s.Action.Principal, s.Action.AccessKeyID, s.Action.AccountID, s.Reason)
	}
	fmt.Fprintln(e.stderr, "nothing to apply: no selected plan has a step apply may make")
	return nil
}

// readReport reads a JSON report.
func readReport(path string) (*report.Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, badInput("--report: %v", err)
	}
	var r report.Report
	if err := json.Unmarshal(b, &r); err != nil || r.SchemaVersion == "" {
		return nil, badInput("--report %s is not a keyaudit JSON report (keyaudit scan --format json)", path)
	}
	if r.SchemaVersion != report.SchemaVersion {
		return nil, badInput("--report %s has schema_version %s; this keyaudit reads %s: scan again", path, r.SchemaVersion, report.SchemaVersion)
	}
	return &r, nil
}

// target points a run without --org or --accounts at the accounts the
// changes are in.
func (m *remediation) target(s *pipeline.Settings, accounts []string) {
	if m.org || m.demo || m.accounts != "" || m.accountsFile != "" || len(accounts) == 0 {
		return
	}
	slices.Sort(accounts)
	s.Accounts = []string{strings.Join(slices.Compact(accounts), ",")}
}

// openJournal is the --journal: a file, or objects under s3://BUCKET/PREFIX.
func (m *remediation) openJournal(ctx context.Context, e *env) (remediate.Journal, error) {
	rest, ok := strings.CutPrefix(m.journal, "s3://")
	if !ok {
		return remediate.File{Path: m.journal}, nil
	}
	bucket, prefix, _ := strings.Cut(rest, "/")
	if bucket == "" {
		return nil, badInput("--journal %q names no bucket: use s3://BUCKET/PREFIX", m.journal)
	}
	aws, err := loadAWS(ctx, nil, nil, m.profile, m.region, e)
	if err != nil {
		return nil, err
	}
	return remediate.S3{Client: s3.NewFromConfig(aws.cfg), Bucket: bucket, Prefix: strings.TrimSuffix(prefix, "/")}, nil
}

// records reads the journal.
func (m *remediation) records(ctx context.Context, e *env) ([]remediate.Record, error) {
	j, err := m.openJournal(ctx, e)
	if err != nil {
		return nil, err
	}
	recs, err := j.Records(ctx)
	if err != nil {
		return nil, usageErr(err)
	}
	return recs, nil
}

// remediator acts through conn's session in each account.
func (m *remediation) remediator(ctx context.Context, e *env, conn *pipeline.Conn, unusedDays int) (*remediate.Remediator, error) {
	j, err := m.openJournal(ctx, e)
	if err != nil {
		return nil, err
	}
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	actor := fmt.Sprintf("%s (credentials of account %s)", cmp.Or(e.getenv("USER"), "unknown user"), conn.Caller)
	return &remediate.Remediator{
		Journal: j, JournalID: pipeline.NewID(time.Now()) + "-" + hex.EncodeToString(suffix), Actor: actor,
		Clock: time.Now, UnusedDays: unusedDays, ExemptTag: m.exemptTag, Yes: m.yes, Connect: remediate.Through(conn.IAM),
	}, nil
}

// tell prints what became of each change: the calls made or that would
// be, on standard output; refusals and failures, one line each, on
// standard error. Anything refused or failed makes the run incomplete.
// undoable: the changes are apply's, and the line to undo them is printed.
func (m *remediation) tell(e *env, rem *remediate.Remediator, results []remediate.Result, undoable bool) error {
	var would, changed, notDone int
	for _, r := range results {
		c := r.Change
		where := fmt.Sprintf("key %s of user %q in account %s", c.AccessKeyID, c.User, c.AccountID)
		switch r.Outcome {
		case remediate.WouldChange:
			if would == 0 {
				fmt.Fprintln(e.stdout, "Dry run: nothing was changed. With --yes, keyaudit would make these calls:")
			}
			would++
			fmt.Fprintf(e.stdout, "  %s    # account %s%s%s\n", command(c, r), c.AccountID, ruleNote(c), suffixOf(r.Reason))
		case remediate.Changed:
			changed++
			fmt.Fprintf(e.stdout, "%s: %s    # account %s%s\n", verb(c), command(c, r), c.AccountID, suffixOf(r.Reason))
		case remediate.Unchanged:
			fmt.Fprintf(e.stderr, "unchanged: %s: %s\n", where, r.Reason)
		default:
			notDone++
			fmt.Fprintf(e.stderr, "%s: %s %s: %s\n", r.Outcome, c.Op, where, r.Reason)
		}
	}
	if changed > 0 && undoable {
		fmt.Fprintf(e.stdout, "Journal %s in %s. To undo: keyaudit undo %s --journal %s\n", rem.JournalID, m.journal, rem.JournalID, m.journal)
	}
	if notDone > 0 {
		return incomplete(fmt.Errorf("%d of %d changes not made (above)", notDone, len(results)))
	}
	return nil
}

func verb(c remediate.Change) string {
	if c.Op == remediate.Delete {
		return "deleted (cannot be undone)"
	}
	return "changed"
}

// command is the call of a result: undo's restores are the reverse calls.
func command(c remediate.Change, r remediate.Result) string {
	if strings.HasPrefix(r.Reason, "back to ") {
		switch c.Op {
		case remediate.Quarantine:
			return fmt.Sprintf("aws iam detach-user-policy --user-name %s --policy-arn %s", c.User, c.PolicyARN)
		case remediate.Deactivate:
			return fmt.Sprintf("aws iam update-access-key --user-name %s --access-key-id %s --status Active", c.User, c.AccessKeyID)
		}
	}
	return c.Command()
}

func ruleNote(c remediate.Change) string {
	if len(c.Finding.Rules) == 0 {
		return ""
	}
	return ": " + strings.Join(c.Finding.Rules, ", ")
}

func suffixOf(reason string) string {
	if reason == "" {
		return ""
	}
	return ": " + reason
}
