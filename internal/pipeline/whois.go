package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/keyaudit/keyaudit/audit"
	"github.com/keyaudit/keyaudit/audit/inventory"
	"github.com/keyaudit/keyaudit/report"
	"golang.org/x/sync/errgroup"
)

// Unanswered counts the keys that got no full answer. Invalid ones are not
// access key IDs (bad input); Failed ones could not be looked up.
type Unanswered struct {
	Invalid, Failed int
}

// notAKey marks a whois input that is not an access key ID; its message
// is the reason alone.
type notAKey struct{ err error }

func (e notAKey) Error() string { return e.err.Error() }
func (e notAKey) Unwrap() error { return e.err }

// The most whois reads: 100,000 distinct IDs took 35 s and 1.7 GB and
// wrote 193 MB of JSON; a log piped in may repeat a few IDs many times,
// which cost only bytes.
const (
	MaxWhoisKeys  = 10_000
	MaxWhoisInput = 4 << 20
)

// whoisConcurrency bounds the keys looked up at once: each takes a few
// STS, IAM and CloudTrail calls, and CloudTrail allows 2 a second.
const whoisConcurrency = 8

// Whois tells, for each key ID, whose it is and, where the owning account
// is among the targets, the user, the key's state and who uses it
// (opts.Tracer). Each key that could not be answered carries its reason.
// A key ID given more than once is looked up once. Its error is the
// organization's listing failing: then nothing is answered.
func Whois(ctx context.Context, opts Options, c *Conn, keys []inventory.Sighting) (*report.Report, Unanswered, error) {
	targets, err := c.List(ctx)
	if err != nil {
		return nil, Unanswered{}, err
	}
	opts.audited = make(map[string]bool, len(targets))
	names := make(map[string]string, len(targets))
	for _, t := range targets {
		opts.audited[t.AccountID] = true
		names[t.AccountID] = t.Name
	}
	keys = dedupe(keys)
	stsClient := sts.NewFromConfig(c.cfg)
	var (
		mu sync.Mutex
		u  Unanswered
		g  errgroup.Group
	)
	g.SetLimit(whoisConcurrency)
	for i := range keys {
		s := &keys[i]
		g.Go(func() error {
			s.Kind = inventory.KindUnknown
			err := identify(ctx, opts, c, stsClient, names, s)
			if err == nil {
				return nil
			}
			s.Error = opts.hint(err).Error()
			mu.Lock()
			defer mu.Unlock()
			if errors.As(err, new(notAKey)) {
				u.Invalid++
			} else {
				// audit.ErrTruncated among them: an answer cut short is unknown.
				u.Failed++
			}
			return nil
		})
	}
	_ = g.Wait() // every error is the key's own, in its sighting
	r := Build(opts, nil, keys)
	r.Keys = keys
	return r, u, nil
}

// dedupe keeps the first sighting of each value, noting how many more
// times it was given.
func dedupe(keys []inventory.Sighting) []inventory.Sighting {
	first := make(map[string]int, len(keys))
	more := map[int]int{}
	out := keys[:0:0]
	for _, k := range keys {
		if i, seen := first[k.AccessKeyID]; seen {
			more[i]++
			continue
		}
		first[k.AccessKeyID] = len(out)
		out = append(out, k)
	}
	for i, n := range more {
		out[i].Source += fmt.Sprintf(" (and %d more times)", n)
	}
	return out
}

// WhoisOffline answers whois without AWS, when it cannot be reached or
// the credentials do not work (why): each key ID's kind and the account
// its ID encodes, which only STS could confirm, each key noting so.
func WhoisOffline(opts Options, keys []inventory.Sighting, why error) (*report.Report, Unanswered) {
	keys = dedupe(keys)
	var u Unanswered
	// Whether an owner is outside the organization is unknown too: no key
	// is judged foreign (key-foreign-account) on a guess.
	opts.audited = map[string]bool{}
	for i := range keys {
		s := &keys[i]
		s.Kind = inventory.KindUnknown
		if err := decode(s); err != nil {
			s.Error, u.Invalid = err.Error(), u.Invalid+1
			continue
		}
		opts.audited[s.OwnerAccount] = true
		s.Error = "not confirmed with AWS: its owner, user and state are unknown"
		if s.OwnerAccount != "" {
			s.Error = "not confirmed with AWS: account " + s.OwnerAccount + " is read from the key ID alone; its user and state are unknown"
		}
		u.Failed++
	}
	r := Build(opts, nil, keys)
	r.Keys = keys
	r.Incomplete = fmt.Sprintf("AWS was not asked: %v", why)
	return r, u
}

// decode reads what a key ID tells by itself: its kind and, for keys
// issued since 2019, the account it belongs to.
func decode(s *inventory.Sighting) error {
	kind, err := inventory.ClassifyKeyID(s.AccessKeyID)
	if err != nil {
		// It may be a secret pasted by mistake: never echo it. The error
		// names its position (Source) and length only.
		s.AccessKeyID = ""
		return notAKey{err}
	}
	s.Kind = kind
	if hint, ok := inventory.KeyAccount(s.AccessKeyID); ok {
		s.OwnerAccount = hint
	}
	if kind != inventory.KindLongTerm && kind != inventory.KindTemporary {
		return notAKey{fmt.Errorf("%s is the unique ID of %s, not an access key", s.AccessKeyID, kind)}
	}
	return nil
}

// identify answers whois for one key ID, as far as it can.
func identify(ctx context.Context, opts Options, c *Conn, stsClient audit.KeyInfoAPI, names map[string]string, s *inventory.Sighting) error {
	if err := decode(s); err != nil {
		return err
	}
	kind := s.Kind
	if err := audit.Owner(ctx, stsClient, s); err != nil {
		return err
	}
	s.OwnerName, s.Audited = names[s.OwnerAccount]
	if !s.Audited {
		return nil
	}
	if kind == inventory.KindLongTerm {
		client, err := c.IAM(ctx, s.OwnerAccount)
		if err != nil {
			return err
		}
		if err := audit.Describe(ctx, client, s); err != nil {
			return err
		}
	}
	if opts.Tracer == nil {
		return nil
	}
	t, err := opts.Tracer(ctx, s.OwnerAccount)
	if err != nil {
		return err
	}
	region := ""
	if s.Key != nil {
		region = s.Key.LastUsed.Region
	}
	regions := inventory.TrailRegions(t.Region(), region)
	if kind == inventory.KindTemporary {
		if s.Issuer, err = t.Issuer(ctx, s.AccessKeyID, regions, opts.Now); err != nil {
			return err
		}
		if s.Issuer != nil {
			s.Principal = issuedTo(s.Issuer)
		}
		return nil
	}
	s.Key.Usage, err = t.Usage(ctx, s.AccessKeyID, regions, opts.Now)
	return err
}

// issuedTo names who was issued a temporary key. An event logged in the
// role's account for a caller from another account names no caller ARN:
// then the caller's account and principal ID are what is known.
func issuedTo(is *inventory.Issuer) string {
	if is.Principal != "" {
		return is.Principal
	}
	who := "an unnamed principal"
	if is.CallerPrincipalID != "" {
		who = "principal ID " + is.CallerPrincipalID
	}
	if is.CallerAccount != "" {
		who += " of account " + is.CallerAccount
	}
	return who // issued_by.note says where to look it up
}
