package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"

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
	ctx, cn, cleanup, err := l.connect(ctx, &opts, stdin, stderr)
	defer cleanup()
	if err != nil {
		return exitIncomplete, err
	}
	if trail {
		opts.Tracer = cn.Tracers(days)
	}
	keys := make([]inventory.Sighting, len(ids))
	for i, id := range ids {
		keys[i] = inventory.Sighting{AccessKeyID: id, Source: sources[i]}
	}
	r, _ := pipeline.Whois(ctx, opts, cn, keys)
	return c.deliver(ctx, r, stdout, stderr, "")
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
