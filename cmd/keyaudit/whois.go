package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/keyaudit/keyaudit/audit"
	"github.com/keyaudit/keyaudit/audit/inventory"
	"github.com/keyaudit/keyaudit/internal/pipeline"
)

const whoisSynopsis = `Usage: keyaudit whois [flags] KEYID...
       ... | keyaudit whois [flags]        (one key ID per line on standard input)

Tells whose an access key ID is: its kind (AKIA long-term, ASIA temporary, ...), the
owning account (STS GetAccessKeyInfo), whether that account is in the audited set or
organization and, when it can be audited, the IAM user, the key's status, age and last
use, and who uses it (CloudTrail). Keys of accounts outside the set are reported as
key-foreign-account.`

func whois(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	var (
		c     common
		l     live
		trail bool
		days  int
	)
	fs := newFlags("whois", whoisSynopsis)
	c.register(fs)
	l.register(fs)
	fs.BoolVar(&trail, "trail", true, "trace the key's use (or, for a temporary key, who issued it) in CloudTrail")
	fs.IntVar(&days, "trail-days", 30, "how many days of CloudTrail event history to read (at most 90)")
	if err := parse(fs, args, stdout); err != nil {
		return exitUsage, err
	}
	if err := trailDays(days); err != nil {
		return exitUsage, err
	}
	ids, sources, err := keyIDs(fs.Args(), stdin)
	if err != nil {
		return exitUsage, err
	}
	opts, err := c.options(stderr)
	if err != nil {
		return exitUsage, err
	}
	ctx, cn, cleanup, err := l.connect(ctx, opts.RunID, stdin, stderr)
	defer cleanup()
	if err != nil {
		return exitIncomplete, err
	}
	opts.Demo = l.demo
	opts.Audited = cn.audited()
	names := map[string]string{}
	for _, t := range cn.targets {
		names[t.AccountID] = t.Name
	}
	stsClient := sts.NewFromConfig(cn.env.cfg)
	// One tracer per account, so its per-region rate limit holds across keys.
	tracers := map[string]*audit.Tracer{}
	tracer := func(ctx context.Context, account string) (*audit.Tracer, error) {
		if t, ok := tracers[account]; ok {
			return t, nil
		}
		t, err := cn.tracer(days)(ctx, account)
		if err == nil {
			tracers[account] = t
		}
		return t, err
	}
	if !trail {
		tracer = nil
	}
	sightings := make([]inventory.Sighting, len(ids))
	for i, id := range ids {
		s := &sightings[i]
		*s = inventory.Sighting{AccessKeyID: id, Source: sources[i], Kind: inventory.KindUnknown}
		if err := identify(ctx, s, stsClient, cn, opts.Now, names, tracer); err != nil {
			s.Error = err.Error()
		}
	}
	r := pipeline.Build(opts, nil, sightings)
	r.Keys = sightings
	return c.deliver(ctx, r, stdout, stderr, "")
}

// identify answers whois for one key ID, as far as it can.
// tracer is nil when --trail=false.
func identify(ctx context.Context, s *inventory.Sighting, stsClient audit.KeyInfoAPI, cn *conn, now time.Time, names map[string]string,
	tracer func(context.Context, string) (*audit.Tracer, error)) error {
	kind, err := inventory.ClassifyKeyID(s.AccessKeyID)
	if err != nil {
		return err
	}
	s.Kind = kind
	if hint, ok := inventory.KeyAccount(s.AccessKeyID); ok {
		s.OwnerAccount = hint
	}
	if kind != inventory.KindLongTerm && kind != inventory.KindTemporary {
		return fmt.Errorf("%s is the unique ID of %s, not an access key", s.AccessKeyID, kind)
	}
	if err := audit.Owner(ctx, stsClient, s); err != nil {
		return err
	}
	s.OwnerName, s.Audited = names[s.OwnerAccount]
	if !s.Audited {
		return nil
	}
	if kind == inventory.KindLongTerm {
		client, err := cn.iam(ctx, s.OwnerAccount)
		if err != nil {
			return err
		}
		if err := audit.Describe(ctx, client, s); err != nil {
			return err
		}
	}
	if tracer == nil {
		return nil
	}
	t, err := tracer(ctx, s.OwnerAccount)
	if err != nil {
		return err
	}
	region := ""
	if s.Key != nil {
		region = s.Key.LastUsed.Region
	}
	regions := pipeline.TrailRegions(region)
	if kind == inventory.KindTemporary {
		if s.Issuer, err = t.Issuer(ctx, s.AccessKeyID, regions, now); err != nil {
			return err
		}
		if s.Issuer != nil {
			s.Principal = s.Issuer.Principal
		}
		return nil
	}
	s.Key.Usage, err = t.Usage(ctx, s.AccessKeyID, regions, now)
	return err
}

// keyIDs reads the IDs to look up from the arguments or, without any, from
// standard input, one per line.
func keyIDs(args []string, stdin io.Reader) (ids, sources []string, err error) {
	if len(args) > 0 {
		for i, a := range args {
			ids = append(ids, strings.TrimSpace(a))
			sources = append(sources, fmt.Sprintf("argument %d", i+1))
		}
		return ids, sources, nil
	}
	if isTerminal(stdin) {
		return nil, nil, badInput("give one or more access key IDs, as arguments or on standard input (see keyaudit whois --help)")
	}
	sc := bufio.NewScanner(stdin)
	for line := 1; sc.Scan(); line++ {
		if id := strings.TrimSpace(sc.Text()); id != "" && !strings.HasPrefix(id, "#") {
			ids = append(ids, id)
			sources = append(sources, fmt.Sprintf("standard input line %d", line))
		}
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("read key IDs from standard input: %w", err)
	}
	if len(ids) == 0 {
		return nil, nil, badInput("no access key IDs on standard input")
	}
	return ids, sources, nil
}
