package pipeline

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"

	"github.com/keyaudit/keyaudit/audit"
	"github.com/keyaudit/keyaudit/audit/inventory"
	"github.com/keyaudit/keyaudit/internal/event"
	"github.com/keyaudit/keyaudit/report"
)

// ErrNotTargeted: the event's account is not among the run's targets (the
// organization, or the accounts given, less the exclusions). It is never
// judged: whoever sent the event is not one of ours, or the account is
// excluded on purpose.
var ErrNotTargeted = errors.New("not among the audited accounts")

// InOrganization says whether account is an active account of the
// caller's organization, and its name; skip says why it is not. One call
// (organizations:DescribeAccount), where listing the organization takes one
// per 20 accounts.
func InOrganization(ctx context.Context, cfg aws.Config, account string) (name, skip string, err error) {
	out, err := organizations.NewFromConfig(cfg).DescribeAccount(ctx, &organizations.DescribeAccountInput{AccountId: aws.String(account)})
	var notFound *orgtypes.AccountNotFoundException
	switch {
	case errors.As(err, &notFound):
		return "", "account outside the organization", nil
	case err != nil:
		return "", "", fmt.Errorf("check that account %s is in the organization (organizations:DescribeAccount): %w", account, audit.Explain(err))
	case out.Account.State != orgtypes.AccountStateActive:
		return "", fmt.Sprintf("account %s in the organization", out.Account.State), nil
	}
	return aws.ToString(out.Account.Name), "", nil
}

// Judge collects the one principal ev names in ev.Account (through the
// member role, as the nightly run reaches that account) and judges it with
// the same rules, plans and ranking as the nightly run: the report holds
// that account (status ok or error) with that principal only, its findings
// and actions. A key-exposed event marks the key leaked (rule key-leaked).
// Its error is the account listing failing, or ErrNotTargeted (wrapped).
func Judge(ctx context.Context, opts Options, c *Conn, ev event.Event) (*report.Report, error) {
	t, err := c.target(ctx, ev.Account)
	if err != nil {
		return nil, err
	}
	acct, sightings, err := judgeOne(ctx, opts, c, t, ev)
	if err != nil {
		opts.logger().Info("account not audited", "account", t.AccountID, "event", ev.ID, "error", err)
		failed := audit.Failed(t, opts.hint(err))
		acct, sightings = &failed, nil
	}
	acct.Name = t.Name
	return Build(opts, []inventory.Account{*acct}, sightings), nil
}

// target finds accountID among the run's targets, listing no further than
// it.
func (c *Conn) target(ctx context.Context, accountID string) (audit.Target, error) {
	for page, err := range c.Targets(ctx) {
		if err != nil {
			return audit.Target{}, fmt.Errorf("list the accounts to find %s: %w", accountID, err)
		}
		for _, t := range page {
			if t.AccountID == accountID {
				return t, nil
			}
		}
	}
	return audit.Target{}, fmt.Errorf("account %s is %w: its events are not judged", accountID, ErrNotTargeted)
}

// judgeOne collects the principal ev names, and for an exposed key the
// sighting that marks it leaked.
func judgeOne(ctx context.Context, opts Options, c *Conn, t audit.Target, ev event.Event) (*inventory.Account, []inventory.Sighting, error) {
	client, err := c.IAM(ctx, t.AccountID)
	if err != nil {
		return nil, nil, err
	}
	reader, ok := client.(audit.UserReader)
	if !ok {
		return nil, nil, fmt.Errorf("this IAM client cannot read one user") // every Conn's can: a programming error
	}
	user, root := ev.User, ev.Root
	if ev.Kind == event.KeyExposed {
		// AWS Health names the key alone: IAM says whose it is.
		s := inventory.Sighting{AccessKeyID: ev.KeyID, OwnerAccount: t.AccountID}
		if err := audit.Describe(ctx, reader, &s); err != nil {
			return nil, nil, err
		}
		user, root = s.Principal, s.Principal == inventory.RootName
	}
	collector := opts.collector()
	var acct *inventory.Account
	if root {
		acct, err = collector.CollectRoot(ctx, reader, t.AccountID, c.Partition, ev.KeyID)
		if err == nil && ev.Kind == event.RootKeyCreated {
			for i := range acct.Root.Keys {
				acct.Root.Keys[i].CreatedAt = ev.Time // the event is its creation
			}
		}
	} else {
		acct, err = collector.CollectUser(ctx, reader, t.AccountID, user)
	}
	if err != nil || ev.Kind != event.KeyExposed {
		return acct, nil, err
	}
	return acct, []inventory.Sighting{exposed(acct, ev, t, user)}, nil
}

// exposed is the sighting of a key AWS Health found exposed: leaked, as a
// key given to whois --leaked. A root key is judged by the account's own
// finding (root-access-key); its status is unknown through a role.
func exposed(acct *inventory.Account, ev event.Event, t audit.Target, principal string) inventory.Sighting {
	s := inventory.Sighting{AccessKeyID: ev.KeyID, Source: "AWS Health " + event.HealthExposed, Kind: inventory.KindLongTerm,
		OwnerAccount: t.AccountID, OwnerName: t.Name, Audited: true, Leaked: true, Principal: principal}
	if acct.Root != nil {
		s.PrincipalARN = acct.Root.ARN
		return s
	}
	for _, u := range acct.Users { // the one user, unless it no longer exists
		s.PrincipalARN = u.ARN
		for _, k := range u.Keys {
			if k.ID == ev.KeyID {
				s.Key = &k
			}
		}
	}
	return s
}
