package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
	"time"

	"github.com/keyaudit/keyaudit/rules"
)

// errHelp ends a command after it printed its help.
var errHelp = errors.New("help printed")

// newFlags returns a flag set that reports errors as usage errors instead
// of printing usage text and exiting.
func newFlags(name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "%s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args; with -h or --help it prints the command's help to
// stdout and returns errHelp.
func parse(fs *flag.FlagSet, args []string, stdout io.Writer) error {
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fs.SetOutput(stdout)
		fs.Usage()
		return errHelp
	}
	if err != nil {
		return badInput("%v (see keyaudit %s --help)", err, fs.Name())
	}
	return nil
}

// listFlag collects a flag given several times.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error {
	*l = append(*l, v)
	return nil
}

// parseAsOf reads --as-of; empty means now.
func parseAsOf(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return now, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		if d, derr := time.Parse(time.DateOnly, s); derr == nil {
			return d, nil
		}
		return time.Time{}, badInput("--as-of %q is not an RFC 3339 time such as 2026-11-24T00:00:00Z", s)
	}
	return t.UTC(), nil
}

// loadConfig reads --config, or returns the defaults.
func loadConfig(path string) (rules.Config, error) {
	if path == "" {
		return rules.Defaults(), nil
	}
	cfg, err := rules.LoadConfig(path)
	if err != nil {
		return rules.Config{}, usageError{err}
	}
	return cfg, nil
}

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}
