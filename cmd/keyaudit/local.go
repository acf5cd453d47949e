package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/keyaudit/keyaudit/audit/inventory"
	"github.com/keyaudit/keyaudit/internal/pipeline"
	"github.com/spf13/cobra"
)

// localTimeout bounds asking every key: a silent endpoint fails one
// question within TransportAttempts × ResponseHeader, under a minute, and
// the keys are asked at once.
const localTimeout = 90 * time.Second

type localOptions struct {
	common
	check   bool
	timeout time.Duration
}

func newLocal(e *env) *cobra.Command {
	var o localOptions
	cmd := &cobra.Command{
		Use:   "local [flags]",
		Short: "Audit the access keys stored on this machine (~/.aws, environment)",
		Long: `Audits the AWS credentials stored on this machine: ~/.aws/credentials and ~/.aws/config
(or AWS_SHARED_CREDENTIALS_FILE and AWS_CONFIG_FILE) and AWS_ACCESS_KEY_ID. Long-term
keys stored in plain text are reported (key-long-term) with their age and last use,
asked of AWS with each key itself; so are profiles that assume a role without MFA.
keyaudit reads key IDs only: secret keys and session tokens are never read into
keyaudit's own memory, printed or logged.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return o.run(cmd, e) },
	}
	fs := cmd.Flags()
	fs.SortFlags = false
	fs.BoolVar(&o.check, "check", true, "ask AWS, with each long-term key itself, whose it is and when it was last used")
	fs.DurationVar(&o.timeout, "timeout", localTimeout, "finish within this long (0: no limit); the keys are asked at once, and those not answered in time are reported as unanswered")
	inGroup(fs, groupAWS, "check", "timeout")
	o.common.register(fs, "only errors on standard error", false)
	return cmd
}

func (o *localOptions) run(cmd *cobra.Command, e *env) error {
	if err := o.common.startLog(e); err != nil {
		return err
	}
	opts, err := o.common.options()
	if err != nil {
		return err
	}
	opts.Timeout = o.timeout
	if err := opts.Validate(); err != nil {
		return usageErr(err)
	}
	if err := o.common.checkSinks(e, "", ""); err != nil {
		return err
	}
	ctx := cmd.Context()
	if opts.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.Timeout)
		defer cancel()
	}
	r, unanswered, err := pipeline.Local(ctx, opts, sharedFiles(e.getenv), e.getenv, o.check)
	if err != nil {
		return usageErr(err)
	}
	var notKeys error
	if unanswered.Invalid > 0 {
		notKeys, unanswered.Invalid = invalidValues(r.Keys), 0
	}
	_, delivered := o.output.deliver(cmd.Context(), e, r, "")
	return worst(delivered, notKeys, answers(unanswered), o.output.verdict(r))
}

// invalidValues names where each value that is not an access key ID
// stands, never the value: it may be a secret pasted in the wrong field.
func invalidValues(keys []inventory.Sighting) error {
	var where []string
	for _, s := range keys {
		if s.AccessKeyID == "" {
			where = append(where, s.Source)
		}
	}
	return badInput("not an access key ID (the value is not shown: it may be a secret): %s", strings.Join(where, "; "))
}

// sharedFiles are the AWS shared files, where the SDK would look.
func sharedFiles(getenv func(string) string) pipeline.Files {
	home, _ := os.UserHomeDir()
	f := pipeline.Files{Credentials: getenv("AWS_SHARED_CREDENTIALS_FILE"), Config: getenv("AWS_CONFIG_FILE")}
	if f.Credentials == "" {
		f.Credentials = filepath.Join(home, ".aws", "credentials")
	}
	if f.Config == "" {
		f.Config = filepath.Join(home, ".aws", "config")
	}
	return f
}
