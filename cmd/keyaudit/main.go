// Command keyaudit audits AWS access keys: root keys, old, unused and
// doubled keys, keys without MFA, whose a key is and who uses it.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit codes are a contract (DESIGN.md): the highest applicable wins in
// the order usage, incomplete, findings.
const (
	exitOK         = 0
	exitFindings   = 1
	exitUsage      = 2
	exitIncomplete = 3
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `keyaudit finds the AWS access keys that put your accounts at risk and says how to fix each one.

Usage:
  keyaudit scan [flags]          audit the current account, listed accounts or the whole organization
  keyaudit scan --demo           audit a simulated demo organization (no AWS account needed)
  keyaudit scan --credential-report FILE...   audit downloaded credential reports offline
  keyaudit whois KEYID...        tell whose an access key ID is and who uses it
  keyaudit local                 audit the keys stored on this machine (~/.aws, environment)
  keyaudit rules                 list the rules, their severities and thresholds
  keyaudit version

Run "keyaudit COMMAND --help" for a command's flags.

Exit codes: 0 audit complete, 1 findings at or above --fail-on, 2 usage or input error,
3 audit incomplete (an account could not be audited).
`

// usageError is bad input from the person running keyaudit: one line, exit 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func badInput(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// run is the whole program; main only maps it to the process.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	cmd, rest := args[0], args[1:]
	var (
		code int
		err  error
	)
	switch cmd {
	case "scan":
		code, err = scan(ctx, rest, stdin, stdout, stderr)
	case "whois":
		code, err = whois(ctx, rest, stdin, stdout, stderr)
	case "local":
		code, err = local(ctx, rest, stdout, stderr)
	case "rules":
		code, err = listRules(rest, stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "keyaudit", version())
		return exitOK
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		err = badInput("unknown command %q: use scan, whois, local, rules or version (keyaudit --help)", cmd)
	}
	if errors.Is(err, errHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "keyaudit %s: %v\n", cmd, err)
		var ue usageError
		if errors.As(err, &ue) {
			return exitUsage
		}
		return max(code, exitIncomplete)
	}
	return code
}
