package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"
)

// env is what a command may touch of the process: passed in, never global,
// so tests drive the command tree with buffers.
type env struct {
	// ctx is the run's context (interrupts cancel it), for the work done
	// while checking flags, such as reaching an --out bucket.
	ctx    context.Context
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	// jsonLog is the run's logger once --log-format json is read: every
	// line on standard error is then JSON, the final error lines too.
	jsonLog *slog.Logger
}

// color reports whether the table on standard output may be coloured.
func (e *env) color() bool { return colorFor(isTerminal(e.stdout), e.getenv) }

// colorFor: colour on a terminal, or where CLICOLOR_FORCE asks for it
// (bixense.com/clicolors), and never with NO_COLOR set (no-color.org) or
// on a dumb terminal.
func colorFor(terminal bool, getenv func(string) string) bool {
	if getenv("NO_COLOR") != "" || getenv("TERM") == "dumb" {
		return false
	}
	if f := getenv("CLICOLOR_FORCE"); f != "" && f != "0" {
		return true
	}
	return terminal
}

// isTerminal reports whether v (standard input, output or error) is a terminal.
func isTerminal(v any) bool {
	f, ok := v.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// newRoot builds the command tree for args: scan's flags are those of its
// mode, live or offline (--credential-report).
func newRoot(e *env, args []string) *cobra.Command {
	root := &cobra.Command{
		Use:   "keyaudit",
		Short: "Find the AWS access keys that put your accounts at risk",
		Long: `keyaudit finds the AWS access keys that put your accounts at risk and says how to fix each one.

Exit codes: 0 complete; 1 findings at or above --fail-on; 2 usage, configuration,
credentials or input error; 3 incomplete (an account or answer missing, or the
report not delivered). When several apply, the first in the order 2, 3, 1 wins.`,
		Version:       version(),
		SilenceUsage:  true,
		SilenceErrors: true,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return badInput("unknown command %q: use scan, whois, local, rules or risk (keyaudit --help)", args[0])
			}
			return nil
		},
		// Runnable, so that an unknown command meets Args; alone it prints help.
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	root.SetVersionTemplate("keyaudit {{.Version}}\n")
	root.SetIn(e.stdin)
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	offline := offlineScan(args)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		// The flags are not all read: --log-format json, if given, is
		// honoured for this line too.
		if jsonLogAsked(args) {
			e.jsonLog = slog.New(slog.NewJSONHandler(e.stderr, nil))
		}
		var unknown *pflag.NotExistError
		if offline && c.Name() == "scan" && errors.As(err, &unknown) && newScan(e).Flags().Lookup(unknown.GetSpecifiedName()) != nil {
			return badInput("--%s has no meaning for an offline audit of --%s files: drop one of them", unknown.GetSpecifiedName(), offlineFlag)
		}
		return badInput("%v (see %s --help)", err, c.CommandPath())
	})
	root.SetUsageFunc(usage)
	scan := newScan(e)
	if offline {
		scan = newOfflineScan(e)
	}
	root.AddCommand(scan, newWhois(e), newEvent(e), newLocal(e), newRules(e), newRisk(e), newApply(e), newUndo(e))
	return root
}

// jsonLogAsked reports whether args ask for --log-format json.
func jsonLogAsked(args []string) bool {
	for i, a := range args {
		if a == "--log-format=json" || a == "--log-format" && i+1 < len(args) && args[i+1] == "json" {
			return true
		}
	}
	return false
}

// noArgs rejects stray arguments as a usage error.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return badInput("unexpected argument %q (see %s --help)", args[0], cmd.CommandPath())
	}
	return nil
}

// Flag groups, in the order help shows them.
const (
	groupSelection = "Selection"
	groupAWS       = "AWS"
	groupOutput    = "Output"
	groupAlerts    = "Alerts"
)

var groupOrder = []string{groupSelection, groupAWS, groupOutput, groupAlerts, ""}

const groupKey = "keyaudit_group"

// inGroup files the named flags under a help group.
func inGroup(fs *pflag.FlagSet, group string, names ...string) {
	for _, n := range names {
		if err := fs.SetAnnotation(n, groupKey, []string{group}); err != nil {
			panic(err) // a flag name typo in this package: caught by every test
		}
	}
}

// usage prints a command's usage with its flags in groups.
func usage(c *cobra.Command) error {
	w := c.OutOrStderr()
	fmt.Fprintln(w, "Usage:")
	if !c.HasAvailableSubCommands() {
		fmt.Fprintf(w, "  %s\n", c.UseLine())
	}
	if c.HasAvailableSubCommands() {
		fmt.Fprintf(w, "  %s COMMAND [flags]\n\nCommands:\n", c.CommandPath())
		for _, sub := range c.Commands() {
			if sub.IsAvailableCommand() || sub.Name() == "help" {
				fmt.Fprintf(w, "  %-11s %s\n", sub.Name(), sub.Short)
			}
		}
	}
	if c.HasExample() {
		fmt.Fprintf(w, "\nExamples:\n%s\n", c.Example)
	}
	sets := map[string]*pflag.FlagSet{}
	c.LocalFlags().VisitAll(func(f *pflag.Flag) {
		g := ""
		if v := f.Annotations[groupKey]; len(v) > 0 {
			g = v[0]
		}
		if sets[g] == nil {
			sets[g] = pflag.NewFlagSet(g, pflag.ContinueOnError)
			sets[g].SortFlags = false
		}
		sets[g].AddFlag(f)
	})
	for _, g := range groupOrder {
		fs := sets[g]
		if fs == nil {
			continue
		}
		title := "Flags"
		if g != "" {
			title = g + " flags"
		}
		fmt.Fprintf(w, "\n%s:\n%s", title, fs.FlagUsages())
	}
	if c.HasAvailableSubCommands() {
		fmt.Fprintf(w, "\nUse \"%s help COMMAND\" for more about a command.\n", c.CommandPath())
	}
	return nil
}

// version is the module version (go install ...@v1.2.3), else the VCS
// revision the binary was built from.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown (built without module support)"
	}
	return versionOf(bi)
}

func versionOf(bi *debug.BuildInfo) string {
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, at string
	modified := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if rev == "" {
		return "unknown (built outside version control, with no module version)"
	}
	parts := []string{"revision " + rev[:min(12, len(rev))]}
	if at != "" {
		parts = append(parts, at)
	}
	if modified {
		parts = append(parts, "with uncommitted changes")
	}
	return strings.Join(parts, ", ")
}
