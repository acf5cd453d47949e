package main

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"github.com/keyaudit/keyaudit/internal/pipeline"
	"github.com/spf13/cobra"
)

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
	fs.DurationVar(&o.timeout, "timeout", 0, "finish within this long (e.g. 1m): keys not asked in time are reported as unanswered")
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
	if err := o.common.checkSinks(e); err != nil {
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
	_, delivered := o.output.deliver(cmd.Context(), e, r, "")
	return worst(delivered, answers(unanswered), o.output.verdict(r))
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
