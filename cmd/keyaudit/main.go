// Command keyaudit audits AWS access keys: root keys, old, unused and
// doubled keys, keys without MFA, whose a key is and who uses it.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/keyaudit/keyaudit/internal/memlimit"
)

func main() {
	// In a container (a nightly CronJob, a CI runner) a run that outgrows
	// its memory is killed without a report: a soft limit below it makes
	// the garbage collector work harder first.
	if limit := memlimit.Soft(os.Getenv, os.ReadFile); limit > 0 {
		debug.SetMemoryLimit(limit)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Exit codes are a contract (docs/design.md). When several apply, the highest
// wins in the order usage, incomplete, findings.
const (
	exitOK         = 0 // the audit is complete and nothing reached --fail-on
	exitFindings   = 1 // a finding at or above --fail-on
	exitUsage      = 2 // usage, configuration, credentials or input error
	exitIncomplete = 3 // an account or answer is missing, or the report was not delivered
)

// rank orders exit codes by precedence.
func rank(code int) int {
	switch code {
	case exitUsage:
		return 3
	case exitIncomplete:
		return 2
	case exitFindings:
		return 1
	}
	return 0
}

// exitError is the one channel an outcome travels to the process's exit
// code. err, when set, is printed as one line; a nil err is an outcome the
// report already tells (findings, an account not audited).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// usageErr marks bad input from the person running keyaudit: exit 2.
func usageErr(err error) error { return &exitError{code: exitUsage, err: err} }

func badInput(format string, args ...any) error {
	return usageErr(fmt.Errorf(format, args...))
}

// incomplete marks an audit or a delivery that did not finish: exit 3.
func incomplete(err error) error { return &exitError{code: exitIncomplete, err: err} }

// worst combines outcomes: the code of highest precedence wins, and every
// message is kept.
func worst(errs ...error) error {
	var (
		best *exitError
		msgs []error
	)
	for _, err := range errs {
		if err == nil {
			continue
		}
		e := &exitError{code: exitUsage, err: err}
		errors.As(err, &e)
		if best == nil || rank(e.code) > rank(best.code) {
			best = e
		}
		if e.err != nil {
			msgs = append(msgs, e.err)
		}
	}
	if best == nil {
		return nil
	}
	return &exitError{code: best.code, err: errors.Join(msgs...)}
}

// run is the whole program; main only maps it to the process.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{ctx: ctx, getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
	root := newRoot(e, args)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	return exitCode(cmd.CommandPath(), err, stderr, e.jsonLog)
}

// exitCode is the one place an outcome becomes an exit code. Errors that
// carry no code are cobra's own: an unknown command, flag or argument.
// With jsonLog the lines are logged through it, as JSON like the rest.
func exitCode(command string, err error, stderr io.Writer, jsonLog *slog.Logger) int {
	if err == nil {
		return exitOK
	}
	e := &exitError{code: exitUsage, err: err}
	errors.As(err, &e)
	if e.err != nil {
		for _, line := range splitLines(e.err) {
			if jsonLog != nil {
				jsonLog.Error(line, "command", command)
			} else {
				fmt.Fprintf(stderr, "%s: %s\n", command, line)
			}
		}
	}
	return e.code
}

// splitLines gives each joined error its own line, and never more.
func splitLines(err error) []string {
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		var out []string
		for _, e := range joined.Unwrap() {
			out = append(out, splitLines(e)...)
		}
		return out
	}
	return []string{err.Error()}
}
