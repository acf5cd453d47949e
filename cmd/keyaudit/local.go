package main

import (
	"context"
	"io"
	"os"
	"path/filepath"

	"github.com/keyaudit/keyaudit/audit"
	"github.com/keyaudit/keyaudit/internal/pipeline"
)

const localSynopsis = `Usage: keyaudit local [flags]

Audits the AWS credentials stored on this machine: ~/.aws/credentials and ~/.aws/config
(or AWS_SHARED_CREDENTIALS_FILE and AWS_CONFIG_FILE) and AWS_ACCESS_KEY_ID. Long-term
keys stored in plain text are reported (key-long-term) with their age and last use,
asked of AWS with each key itself; so are profiles that assume a role without MFA.
keyaudit reads key IDs only: secret keys and session tokens are never read into
keyaudit's own memory, printed or logged.`

func local(ctx context.Context, args []string, stdout, stderr io.Writer) (int, error) {
	var (
		c     common
		check bool
	)
	fs := newFlags("local", localSynopsis)
	c.register(fs)
	fs.BoolVar(&check, "check", true, "ask AWS, with each long-term key itself, whose it is and when it was last used")
	if err := parse(fs, args, stdout); err != nil {
		return exitUsage, err
	}
	if fs.NArg() > 0 {
		return exitUsage, badInput("unexpected argument %q (see keyaudit local --help)", fs.Arg(0))
	}
	opts, err := c.options(stderr)
	if err != nil {
		return exitUsage, err
	}
	credentials, configFile := sharedFiles(os.Getenv)
	found, err := audit.ScanLocal(credentials, configFile, os.Getenv)
	if err != nil {
		return exitUsage, usageError{err}
	}
	r, _ := pipeline.Local(ctx, opts, pipeline.Files{Credentials: credentials, Config: configFile}, found, check)
	return c.deliver(ctx, r, stdout, stderr, "")
}

// sharedFiles are the AWS shared files, where the SDK would look.
func sharedFiles(getenv func(string) string) (credentials, configFile string) {
	home, _ := os.UserHomeDir()
	credentials, configFile = getenv("AWS_SHARED_CREDENTIALS_FILE"), getenv("AWS_CONFIG_FILE")
	if credentials == "" {
		credentials = filepath.Join(home, ".aws", "credentials")
	}
	if configFile == "" {
		configFile = filepath.Join(home, ".aws", "config")
	}
	return credentials, configFile
}
