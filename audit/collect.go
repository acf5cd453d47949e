package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/keyaudit/keyaudit/audit/inventory"
	"golang.org/x/sync/errgroup"
)

// IAM is the part of the IAM API a collector calls; *iam.Client satisfies it.
type IAM interface {
	GetAccountSummary(ctx context.Context, in *iam.GetAccountSummaryInput, optFns ...func(*iam.Options)) (*iam.GetAccountSummaryOutput, error)
	GenerateCredentialReport(ctx context.Context, in *iam.GenerateCredentialReportInput, optFns ...func(*iam.Options)) (*iam.GenerateCredentialReportOutput, error)
	GetCredentialReport(ctx context.Context, in *iam.GetCredentialReportInput, optFns ...func(*iam.Options)) (*iam.GetCredentialReportOutput, error)
	iam.ListAccessKeysAPIClient
	GetAccessKeyLastUsed(ctx context.Context, in *iam.GetAccessKeyLastUsedInput, optFns ...func(*iam.Options)) (*iam.GetAccessKeyLastUsedOutput, error)
}

// Collector reads one account's access keys live. The credential report
// replaces per-user calls wherever it can: it names key slots, not key IDs,
// so ListAccessKeys is called only for the users whose keys something is
// said about (ListKeys), unless AllKeyIDs asks for every one, and
// GetAccessKeyLastUsed only for keys whose findings depend on a last use the
// report may no longer show (Confirm).
type Collector struct {
	// Parallel bounds concurrent IAM calls within one account, so one large
	// account is not hammered and cannot starve the others.
	Parallel int
	// ReportWait bounds how long to wait for IAM to generate the credential
	// report; ReportPoll is the first wait between polls, doubled each time.
	ReportWait time.Duration
	ReportPoll time.Duration
	// AllKeyIDs lists the keys of every user with a key while collecting,
	// for a full key inventory; otherwise only ListKeys names keys.
	AllKeyIDs bool
	// Clock tells how old the credential report is (time.Now when nil).
	Clock func() time.Time

	// awsPolicies holds the AWS-managed policies read in this run (Classify).
	awsPolicies awsPolicies
}

// NewCollector returns a collector with production defaults.
func NewCollector() *Collector {
	return &Collector{Parallel: 2, ReportWait: 3 * time.Minute, ReportPoll: 2 * time.Second}
}

// FreshReport is the age under which a credential report is as current as
// the per-key APIs: its last-use dates and root key status are then taken
// as confirmed, and neither GetAccessKeyLastUsed nor GetAccountSummary is
// asked again. A nightly run finds the previous night's report expired
// (IAM serves one for four hours) and generates a fresh one.
const FreshReport = 15 * time.Minute

// Collect reads the account's credential report and, when the report is
// not fresh, its summary (root keys present). With AllKeyIDs it also lists
// every user's keys.
func (c *Collector) Collect(ctx context.Context, client IAM, accountID string) (*inventory.Account, error) {
	content, generated, err := c.credentialReport(ctx, client)
	if err != nil {
		return nil, err
	}
	acct, err := inventory.ParseCredentialReport("credential report of account "+accountID, bytes.NewReader(content))
	if err != nil {
		return nil, err
	}
	if acct.ID != accountID {
		return nil, fmt.Errorf("credential report is for account %s, not %s: check the role or profile used", acct.ID, accountID)
	}
	acct.Source = "live"
	acct.ReportGeneratedAt = generated
	if c.now().Sub(generated) < FreshReport {
		for _, u := range acct.Principals() {
			for i := range u.Keys {
				u.Keys[i].LastUsed.Confirmed = u.Keys[i].LastUsed.Known
			}
		}
	} else {
		summary, err := client.GetAccountSummary(ctx, &iam.GetAccountSummaryInput{})
		if err != nil {
			return nil, fmt.Errorf("read account summary: %w", Explain(err))
		}
		present := summary.SummaryMap[string(types.SummaryKeyTypeAccountAccessKeysPresent)] > 0
		acct.RootKeysPresent = &present
	}
	if c.AllKeyIDs {
		var all []string
		for _, u := range acct.Users {
			all = append(all, u.Name)
		}
		if err := c.ListKeys(ctx, client, acct, all); err != nil {
			return nil, err
		}
	}
	return acct, nil
}

func (c *Collector) now() time.Time {
	if c.Clock != nil {
		return c.Clock()
	}
	return time.Now()
}

// ListKeys names the keys of the given IAM users with ListAccessKeys, for
// those the credential report shows with keys and not already listed.
func (c *Collector) ListKeys(ctx context.Context, client iam.ListAccessKeysAPIClient, acct *inventory.Account, users []string) error {
	want := make(map[string]bool, len(users))
	for _, name := range users {
		want[name] = true
	}
	var todo []*inventory.User
	for i := range acct.Users {
		if u := &acct.Users[i]; want[u.Name] && !listed(u) {
			todo = append(todo, u)
		}
	}
	return c.forEach(ctx, len(todo), func(ctx context.Context, i int) error { return listKeys(ctx, client, todo[i]) })
}

// listed: the user has no key, or its keys are named already.
func listed(u *inventory.User) bool {
	for _, k := range u.Keys {
		if k.ID == "" {
			return false
		}
	}
	return true
}

// credentialReport asks IAM to generate the report, then polls
// GetCredentialReport with backoff until it is ready: generation is
// asynchronous, and a report under four hours old is returned at once.
func (c *Collector) credentialReport(parent context.Context, client IAM) ([]byte, time.Time, error) {
	ctx, cancel := context.WithTimeout(parent, c.ReportWait)
	defer cancel()
	wait := c.ReportPoll
	sleep := func() error {
		select {
		case <-ctx.Done():
			if parent.Err() != nil {
				return fmt.Errorf("wait for credential report: %w", parent.Err())
			}
			return fmt.Errorf("credential report still not ready after %s: IAM may be busy, run again later", c.ReportWait)
		case <-time.After(wait):
		}
		wait = min(2*wait, 30*time.Second)
		return nil
	}
	generate := true
	for {
		if generate {
			gen, err := client.GenerateCredentialReport(ctx, &iam.GenerateCredentialReportInput{})
			var busy *types.LimitExceededException
			switch {
			case errors.As(err, &busy):
				// IAM is generating a report for another caller: wait for it.
			case err != nil && ctx.Err() != nil:
				// The wait ran out during the call: said by sleep.
			case err != nil:
				return nil, time.Time{}, fmt.Errorf("generate credential report: %w", Explain(err))
			default:
				generate = false
			}
			if generate || gen.State != types.ReportStateTypeComplete {
				if err := sleep(); err != nil {
					return nil, time.Time{}, err
				}
				continue
			}
		}
		out, err := client.GetCredentialReport(ctx, &iam.GetCredentialReportInput{})
		var notReady *types.CredentialReportNotReadyException
		var notPresent *types.CredentialReportNotPresentException
		var expired *types.CredentialReportExpiredException
		switch {
		case err == nil:
			return out.Content, aws.ToTime(out.GeneratedTime), nil
		case errors.As(err, &notReady), ctx.Err() != nil:
			// Still being generated, or the wait ran out (said by sleep).
		case errors.As(err, &notPresent), errors.As(err, &expired):
			// Raced with expiry or another generation: generate again.
			generate = true
		default:
			return nil, time.Time{}, fmt.Errorf("get credential report: %w", Explain(err))
		}
		if err := sleep(); err != nil {
			return nil, time.Time{}, err
		}
	}
}

// listKeys replaces the report's key slots with the user's real keys. The
// report names slots, not key IDs, and may be hours old: keys are matched to
// slots (matchSlots), new keys are added with unknown last use, and deleted
// ones dropped. CreatedAt is the real creation date from ListAccessKeys.
func listKeys(ctx context.Context, client iam.ListAccessKeysAPIClient, u *inventory.User) error {
	var listed []types.AccessKeyMetadata
	p := iam.NewListAccessKeysPaginator(client, &iam.ListAccessKeysInput{UserName: aws.String(u.Name)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list access keys of user %q: %w", u.Name, Explain(err))
		}
		listed = append(listed, page.AccessKeyMetadata...)
	}
	sort.Slice(listed, func(i, j int) bool { return aws.ToTime(listed[i].CreateDate).Before(aws.ToTime(listed[j].CreateDate)) })

	keys := make([]inventory.Key, len(listed))
	for i, m := range listed {
		keys[i] = inventory.Key{
			ID:        aws.ToString(m.AccessKeyId),
			Active:    m.Status == types.StatusTypeActive,
			CreatedAt: aws.ToTime(m.CreateDate).UTC(),
		}
	}
	matchSlots(keys, u.Keys)
	u.Keys = keys
	return nil
}

// matchSlots gives each listed key (in creation order) its credential
// report slot and last use. The report's last_rotated is the key's creation
// or its latest activation, whichever came last (Trusted Advisor's
// definition), so a key switched off and on again shows a later date than
// its CreateDate: a slot fits a key when last_rotated is at or after the
// key's creation. Exact dates are matched first, then the rest in order,
// a slot of the same status before another.
func matchSlots(keys, slots []inventory.Key) {
	taken := make([]bool, len(slots))
	give := func(k *inventory.Key, i int) {
		taken[i] = true
		k.Slot, k.LastUsed = slots[i].Slot, slots[i].LastUsed
	}
	// The report keeps second precision; so does CreateDate.
	created := func(k *inventory.Key) time.Time { return k.CreatedAt.Truncate(time.Second) }
	for k := range keys {
		for i := range slots {
			if !taken[i] && slots[i].CreatedAt.Equal(created(&keys[k])) {
				give(&keys[k], i)
				break
			}
		}
	}
	for k := range keys {
		if keys[k].Slot != 0 {
			continue
		}
		best := -1
		for i := range slots {
			if taken[i] || slots[i].CreatedAt.Before(created(&keys[k])) {
				continue
			}
			if best < 0 || (slots[i].Active == keys[k].Active && slots[best].Active != keys[k].Active) {
				best = i
			}
		}
		if best >= 0 {
			give(&keys[k], best)
		}
	}
}

// Confirm reads GetAccessKeyLastUsed for the given keys: the credential
// report can be four hours old, so findings that accuse a key of being
// unused are confirmed before they are reported.
func (c *Collector) Confirm(ctx context.Context, client lastUseReader, acct *inventory.Account, keyIDs []string) error {
	want := make(map[string]bool, len(keyIDs))
	for _, id := range keyIDs {
		want[id] = true
	}
	var keys []*inventory.Key
	for _, u := range acct.Principals() {
		for i := range u.Keys {
			if want[u.Keys[i].ID] && u.Keys[i].ID != "" {
				keys = append(keys, &u.Keys[i])
			}
		}
	}
	return c.forEach(ctx, len(keys), func(ctx context.Context, i int) error {
		k := keys[i]
		out, err := client.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: aws.String(k.ID)})
		if err != nil {
			return fmt.Errorf("confirm last use of key %s: %w", inventory.MaskKeyID(k.ID), Explain(err))
		}
		k.LastUsed = lastUse(out.AccessKeyLastUsed)
		return nil
	})
}

// lastUseReader reads a key's last use.
type lastUseReader interface {
	GetAccessKeyLastUsed(ctx context.Context, in *iam.GetAccessKeyLastUsedInput, optFns ...func(*iam.Options)) (*iam.GetAccessKeyLastUsedOutput, error)
}

func lastUse(u *types.AccessKeyLastUsed) inventory.LastUse {
	if u == nil || u.LastUsedDate == nil {
		return inventory.LastUse{Known: true, Never: true, Confirmed: true}
	}
	na := func(s *string) string {
		if v := aws.ToString(s); v != "N/A" {
			return v
		}
		return ""
	}
	return inventory.LastUse{Known: true, At: u.LastUsedDate.UTC(), Service: na(u.ServiceName), Region: na(u.Region), Confirmed: true}
}

// forEach runs fn for 0..n-1 with at most c.Parallel calls at once and
// returns the first error, cancelling the rest.
func (c *Collector) forEach(parent context.Context, n int, fn func(context.Context, int) error) error {
	g, ctx := errgroup.WithContext(parent)
	g.SetLimit(max(1, c.Parallel))
	for i := 0; i < n && ctx.Err() == nil; i++ {
		g.Go(func() error { return fn(ctx, i) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return parent.Err()
}
