package pipeline

import (
	"context"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/keyaudit/keyaudit/audit"
	"github.com/keyaudit/keyaudit/audit/inventory"
	"github.com/keyaudit/keyaudit/report"
	"golang.org/x/sync/errgroup"
)

// Files are the AWS shared files, where the SDK would look.
type Files struct {
	Credentials, Config string
}

// Local audits the keys found on this machine: in files and, through
// getenv, the environment. With check, each long-term key is asked
// (through the SDK, which alone handles its secret) whose it is, how old
// and when last used, several at once. A value that is not a key ID is
// Invalid; a key that could not be asked, or is shadowed by another key of
// its profile, is Failed. Its error is a file that cannot be read: the
// person's input.
func Local(ctx context.Context, opts Options, files Files, getenv func(string) string, check bool) (*report.Report, Unanswered, error) {
	found, err := audit.ScanLocal(files.Credentials, files.Config, getenv)
	if err != nil {
		return nil, Unanswered{}, err
	}
	u := Unanswered{Invalid: found.Invalid}
	opts.audited = map[string]bool{}
	var (
		mu sync.Mutex
		g  errgroup.Group
	)
	g.SetLimit(whoisConcurrency)
	for i := range found.Sightings {
		s := &found.Sightings[i]
		// A sighting already in error (not a key ID, a shadowed profile)
		// cannot be asked about through its profile.
		if check && s.Kind == inventory.KindLongTerm && s.Error == "" {
			g.Go(func() error {
				if err := askAbout(ctx, opts, files, s); err != nil {
					s.Error = opts.hint(err).Error()
					mu.Lock()
					u.Failed++
					mu.Unlock()
				}
				return nil
			})
		}
	}
	_ = g.Wait() // each failure is the key's own Error
	if check {
		u.Failed += found.Shadowed
	}
	for _, s := range found.Sightings {
		// On one's own machine, no key is foreign: whose it is is shown.
		opts.audited[s.OwnerAccount] = true
	}
	r := Build(opts, nil, found.Sightings)
	r.Keys = found.Sightings
	for _, p := range found.RoleWithoutMFA {
		source := p.SourceProfile
		if source == "" {
			source = "its source"
		}
		r.Warnings = append(r.Warnings, fmt.Sprintf("%s: profile %q assumes %s without mfa_serial: whoever holds the credentials of %q holds the role. Add mfa_serial, or use IAM Identity Center (aws configure sso).",
			p.Where, p.Profile, p.RoleARN, source))
	}
	if len(found.Sightings) == 0 && len(found.RoleWithoutMFA) == 0 {
		r.Warnings = append(r.Warnings, fmt.Sprintf("no access keys found in %s, %s or the environment", files.Credentials, files.Config))
	}
	return r, u, nil
}

// askAbout uses the key itself to learn whose it is, its age and its last use.
func askAbout(ctx context.Context, opts Options, files Files, s *inventory.Sighting) error {
	load := []func(*config.LoadOptions) error{
		config.WithSharedCredentialsFiles([]string{files.Credentials}),
		config.WithSharedConfigFiles([]string{files.Config}),
	}
	if s.Profile != "" {
		load = append(load, config.WithSharedConfigProfile(s.Profile))
	}
	cfg, err := LoadAWS(ctx, opts.Logger, nil, load...)
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
