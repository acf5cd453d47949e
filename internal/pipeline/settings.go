package pipeline

import (
	"bufio"
	"cmp"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/keyaudit/keyaudit/audit"
	"github.com/keyaudit/keyaudit/audit/inventory"
	"github.com/keyaudit/keyaudit/rules"
)

// The defaults of a run's settings, for both entrypoints: the CLI shows
// them in its flags' help, the Lambda applies them to what its
// environment leaves out.
const (
	DefaultRoleName = "KeyAuditRole"
	DefaultRolePath = "/"
	// DefaultTrailDays is the CloudTrail event history read for a key's
	// use; MaxTrailDays is all that event history keeps.
	DefaultTrailDays = 30
	MaxTrailDays     = 90
	// MaxConcurrency is the most accounts audited at once (see
	// audit.MaxConcurrency for why).
	MaxConcurrency = audit.MaxConcurrency
	// AccountTime is the least time left an account starts with (see
	// audit.AccountTime for why).
	AccountTime = audit.AccountTime
	// MinTimeout is the shortest deadline an audit of accounts may have:
	// no account starts with less than audit.AccountTime left, and finding
	// whose the credentials are and listing the accounts come first (at
	// exactly 20 s every account of the demo was skipped).
	MinTimeout = AccountTime + 10*time.Second
)

// The clock a run judges by must be one AWS could have issued keys under:
// none before 2006, and not so far ahead that every key is ancient.
var (
	earliestAsOf = time.Date(2006, 1, 1, 0, 0, 0, 0, time.UTC)
	latestAsOf   = 10 * 365 * 24 * time.Hour // after the run's start
)

// Settings are what one run is asked to do, as plain values: the CLI's
// flags or the Lambda's environment and event, translated and nothing
// more. Validate checks them, fills in the defaults and parses the
// targets, once, before the run; nothing changes them while it runs.
type Settings struct {
	// Names name the settings as the entrypoint's people set them, in
	// errors and hints.
	Names Names

	RunID string
	// Started is when the run began (the report's generated_at); Now is
	// the clock the rules judge by (--as-of, as_of), Started when zero.
	Started time.Time
	Now     time.Time
	Config  rules.Config
	Demo    bool

	// Org discovers every active account of the organization. Otherwise
	// Accounts and AccountsFile are audited, or, when they name none, the
	// caller's own account. An account given twice is audited once.
	Org bool
	// Accounts are account IDs, each possibly a comma-separated list.
	Accounts []string
	// AccountsFile names a file of account IDs, one per line, each
	// optionally followed by a name; # starts a comment.
	AccountsFile string
	// Exclude are account IDs left out, each possibly a comma-separated list.
	Exclude []string
	// Role is the role assumed in each account; its name, path and
	// session name ("keyaudit-RUNID") default when empty.
	Role audit.RoleSpec

	// Concurrency bounds the accounts audited at once, 1 to MaxConcurrency;
	// 0 derives it from the accounts and the time left
	// (audit.AutoConcurrency). MinTime is the least time one account is
	// expected to take (audit.AccountTime when zero).
	Concurrency int
	MinTime     time.Duration
	// Timeout, when set, is how long the audit may take.
	Timeout time.Duration
	// Region is where API calls go (empty: the profile's); it must be in
	// a partition keyaudit knows (see Partitions).
	Region string
	// AllKeyIDs names every key (ListAccessKeys for every user with one),
	// not only those a finding or the ranking's CloudTrail budget is about.
	AllKeyIDs bool
	// Trail traces in CloudTrail who uses each key a finding says must be
	// replaced or removed; TrailDays of event history (DefaultTrailDays
	// when zero) are read for it and for the kill-first ranking.
	Trail     bool
	TrailDays int

	// Set by Validate.
	targets []audit.Target
	exclude []string
}

// Names name, for one entrypoint, the settings a person would change: the
// CLI's flags, the Lambda's environment variables. audit's own errors
// name no setting.
type Names struct {
	Accounts     string // e.g. "--accounts"
	AccountsFile string // e.g. "--accounts-file"
	Exclude      string // e.g. "--exclude-accounts"
	Org          string // e.g. "--org"
	Concurrency  string // e.g. "--concurrency"
	ExternalID   string // e.g. "--external-id"
	TrailDays    string // e.g. "--trail-days"
	Timeout      string // e.g. "--timeout"
	AsOf         string // e.g. "--as-of"
	Region       string // e.g. "--region"
	Profile      string // where credentials come from, e.g. "AWS_PROFILE or --profile"
}

// Validate checks the settings, fills in the defaults and parses the
// targets. Its errors name the setting at fault as Names name it: the
// caller's input is wrong.
func (s *Settings) Validate() error {
	if !s.Now.IsZero() && !s.Started.IsZero() {
		if err := CheckAsOf(s.Names.AsOf, s.Now, s.Started); err != nil {
			return err
		}
	}
	s.Now = cmp.Or(s.Now, s.Started)
	s.MinTime = cmp.Or(s.MinTime, audit.AccountTime)
	s.TrailDays = cmp.Or(s.TrailDays, DefaultTrailDays)
	s.Role.Name = cmp.Or(s.Role.Name, DefaultRoleName)
	s.Role.Path = cmp.Or(s.Role.Path, DefaultRolePath)
	s.Role.SessionName = cmp.Or(s.Role.SessionName, "keyaudit-"+s.RunID)
	if err := s.Role.Validate(); err != nil {
		return err
	}
	if strings.Contains(s.Role.Path, "//") {
		// IAM refuses an empty path segment: every AssumeRole would fail.
		return fmt.Errorf("role path %q is not a valid IAM path: it has an empty segment (//)", s.Role.Path)
	}
	if err := checkRegion(cmp.Or(s.Names.Region, "the region"), s.Region); err != nil {
		return err
	}
	if s.Concurrency < 0 || s.Concurrency > MaxConcurrency {
		return fmt.Errorf("%s must be from 1 to %d, or 0 (the default) to derive it from the accounts and the time left, got %d", s.Names.Concurrency, MaxConcurrency, s.Concurrency)
	}
	if s.TrailDays < 1 || s.TrailDays > MaxTrailDays {
		return fmt.Errorf("%s must be from 1 to %d (what CloudTrail event history keeps), got %d", s.Names.TrailDays, MaxTrailDays, s.TrailDays)
	}
	if s.Timeout < 0 {
		return fmt.Errorf("%s must not be negative, got %s", s.Names.Timeout, s.Timeout)
	}
	exclude, err := accountIDs(s.Names.Exclude, s.Exclude)
	if err != nil {
		return err
	}
	targets, err := s.parseTargets()
	if err != nil {
		return err
	}
	if s.Org && len(targets) > 0 {
		return fmt.Errorf("%s discovers the accounts itself: drop %s and %s, or drop %s", s.Names.Org, s.Names.Accounts, s.Names.AccountsFile, s.Names.Org)
	}
	s.targets, s.exclude = targets, exclude
	return nil
}

// CheckAsOf refuses a time to judge keys by (where names the setting)
// that no run could mean: before AWS issued keys, or years after started.
func CheckAsOf(where string, asOf, started time.Time) error {
	if asOf.Before(earliestAsOf) || asOf.After(started.Add(latestAsOf)) {
		return fmt.Errorf("%s %s is not a plausible time to judge keys by: give one from %d to %d years from now",
			cmp.Or(where, "the as-of time"), asOf.Format(time.DateOnly), earliestAsOf.Year(), latestAsOf/(365*24*time.Hour))
	}
	return nil
}

// Partitions are the AWS partitions keyaudit builds ARNs, home regions
// and endpoints for.
var Partitions = []string{"aws", "aws-cn", "aws-us-gov"}

var regionName = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)

// checkRegion refuses a region that is not a region's name, or that lies
// in a partition keyaudit does not know (the isolated ones: us-iso-east-1,
// eu-isoe-west-1, ...), whose ARNs would be built as if in aws.
func checkRegion(where, region string) error {
	switch {
	case region == "":
		return nil
	case !regionName.MatchString(region):
		return fmt.Errorf("%s %q is not an AWS region name such as us-east-1", where, region)
	case strings.Contains(region, "-iso"):
		return fmt.Errorf("%s %q is in a partition keyaudit does not support: use a region of %s", where, region, strings.Join(Partitions, ", "))
	}
	return nil
}

// parseTargets reads Accounts and AccountsFile, each account once: the
// first time it is given, with the first name given for it.
func (s *Settings) parseTargets() ([]audit.Target, error) {
	ids, err := accountIDs(s.Names.Accounts, s.Accounts)
	if err != nil {
		return nil, err
	}
	var targets []audit.Target
	for _, id := range ids {
		targets = append(targets, audit.Target{AccountID: id})
	}
	if s.AccountsFile != "" {
		more, err := readAccountsFile(s.Names.AccountsFile, s.AccountsFile)
		if err != nil {
			return nil, err
		}
		targets = append(targets, more...)
	}
	seen := map[string]bool{}
	out := targets[:0]
	for _, t := range targets {
		if !seen[t.AccountID] {
			seen[t.AccountID] = true
			out = append(out, t)
		}
	}
	return out, nil
}

// accountIDs reads account IDs, each value possibly a comma-separated
// list; where names the setting in errors.
func accountIDs(where string, values []string) ([]string, error) {
	var ids []string
	for _, v := range values {
		for f := range strings.SplitSeq(v, ",") {
			id := strings.TrimSpace(f)
			if id == "" {
				continue
			}
			if !inventory.ValidAccountID(id) {
				return nil, fmt.Errorf("%s: %q is not an AWS account ID (12 digits)", where, id)
			}
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// readAccountsFile reads account IDs one per line; blank lines and text
// after # are ignored. An optional name may follow the ID after white space.
func readAccountsFile(where, name string) ([]audit.Target, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	defer f.Close()
	var out []audit.Target
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text, _, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(text)
		if len(fields) == 0 {
			continue
		}
		if !inventory.ValidAccountID(fields[0]) {
			return nil, fmt.Errorf("%s:%d: %q is not an AWS account ID (12 digits)", name, line, fields[0])
		}
		out = append(out, audit.Target{AccountID: fields[0], Name: strings.Join(fields[1:], " ")})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return out, nil
}

// Selection is the accounts of the validated settings and how to reach them.
func (s *Settings) Selection() Selection {
	return Selection{Org: s.Org, Accounts: s.targets, Exclude: s.exclude, Role: s.Role}
}

// Hint adds to err the setting to try, where one helps.
func (n Names) Hint(err error) error {
	switch {
	case errors.Is(err, audit.ErrDenied) && n.ExternalID != "":
		return fmt.Errorf("%w (if the role requires an external ID, set %s)", err, n.ExternalID)
	case throttled(err) && n.Concurrency != "":
		return fmt.Errorf("%w (lower %s, or run again later)", err, n.Concurrency)
	}
	return err
}
