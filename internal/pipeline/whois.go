package pipeline

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/keyaudit/keyaudit/audit"
	"github.com/keyaudit/keyaudit/audit/inventory"
	"github.com/keyaudit/keyaudit/report"
)

// Unanswered counts the keys that got no full answer. Invalid ones are not
// access key IDs (bad input); Failed ones could not be looked up.
type Unanswered struct {
	Invalid, Failed int
}

// errNotAKey marks a whois input that is not an access key ID.
var errNotAKey = errors.New("not an access key ID")

// Whois tells, for each key ID, whose it is and, where the owning account
// is among the targets, the user, the key's state and who uses it
// (opts.Tracer). Each key that could not be answered carries its reason.
func Whois(ctx context.Context, opts Options, c *Conn, keys []inventory.Sighting) (*report.Report, Unanswered) {
	opts.Audited = c.Audited()
	names := make(map[string]string, len(c.Targets))
	for _, t := range c.Targets {
		names[t.AccountID] = t.Name
	}
	stsClient := sts.NewFromConfig(c.cfg)
	var u Unanswered
	for i := range keys {
		s := &keys[i]
		s.Kind = inventory.KindUnknown
		err := identify(ctx, opts, c, stsClient, names, s)
		switch {
		case errors.Is(err, errNotAKey):
			u.Invalid++
		case err != nil:
			u.Failed++
		}
		if err != nil {
			s.Error = opts.hint(err).Error()
		}
	}
	r := Build(opts, nil, keys)
	r.Keys = keys
	return r, u
}

// identify answers whois for one key ID, as far as it can.
func identify(ctx context.Context, opts Options, c *Conn, stsClient audit.KeyInfoAPI, names map[string]string, s *inventory.Sighting) error {
	kind, err := inventory.ClassifyKeyID(s.AccessKeyID)
	if err != nil {
		return fmt.Errorf("%w: %w", errNotAKey, err)
	}
	s.Kind = kind
	if hint, ok := inventory.KeyAccount(s.AccessKeyID); ok {
		s.OwnerAccount = hint
	}
	if kind != inventory.KindLongTerm && kind != inventory.KindTemporary {
		return fmt.Errorf("%w: %s is the unique ID of %s, not an access key", errNotAKey, s.AccessKeyID, kind)
	}
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
	regions := audit.TrailRegions(t.Region(), region)
	if kind == inventory.KindTemporary {
		if s.Issuer, err = t.Issuer(ctx, s.AccessKeyID, regions, opts.Now); err != nil {
			return err
		}
		if s.Issuer != nil {
			s.Principal = s.Issuer.Principal
		}
		return nil
	}
	s.Key.Usage, err = t.Usage(ctx, s.AccessKeyID, regions, opts.Now)
	return err
}
