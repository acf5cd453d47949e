package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/keyaudit/keyaudit/audit"
	"github.com/keyaudit/keyaudit/audit/inventory"
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
	opts.Audited = map[string]bool{}
	for i := range found.Sightings {
		s := &found.Sightings[i]
		if check && s.Kind == inventory.KindLongTerm {
			if err := askAbout(ctx, s, credentials, configFile); err != nil {
				s.Error = err.Error()
			}
		}
		// On one's own machine, no key is foreign: whose it is is shown.
		opts.Audited[s.OwnerAccount] = true
	}
	r := pipeline.Build(opts, nil, found.Sightings)
	r.Keys = found.Sightings
	for _, p := range found.RoleWithoutMFA {
		r.Warnings = append(r.Warnings, fmt.Sprintf("%s: profile %q assumes %s without mfa_serial: whoever holds the credentials of %q holds the role. Add mfa_serial, or use IAM Identity Center (aws configure sso).",
			p.Where, p.Profile, p.RoleARN, or(p.SourceProfile, "its source")))
	}
	if len(found.Sightings) == 0 && len(found.RoleWithoutMFA) == 0 {
		r.Warnings = append(r.Warnings, fmt.Sprintf("no access keys found in %s, %s or the environment", credentials, configFile))
	}
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

// askAbout uses the key itself (through the SDK, which alone handles its
// secret) to learn whose it is, its age and its last use.
func askAbout(ctx context.Context, s *inventory.Sighting, credentials, configFile string) error {
	opts := []func(*config.LoadOptions) error{
		config.WithRetryer(audit.Retryer),
		config.WithSharedCredentialsFiles([]string{credentials}),
		config.WithSharedConfigFiles([]string{configFile}),
	}
	if s.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(s.Profile))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return fmt.Errorf("load the key's profile: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	who, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return fmt.Errorf("the key could not identify itself: %w", audit.Explain(err))
	}
	s.OwnerAccount, s.PrincipalARN = aws.ToString(who.Account), aws.ToString(who.Arn)
	if err := audit.Describe(ctx, iam.NewFromConfig(cfg), s); err != nil {
		return fmt.Errorf("age and last use unknown: %w", err)
	}
	return nil
}

// or returns s, or def when s is empty.
func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
