package remediate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
)

// IAM is what remediation calls in an account: the reads that decide
// whether a change may be made and what it replaces, and the changes.
// The real *iam.Client satisfies it.
type IAM interface {
	iam.ListAccessKeysAPIClient
	iam.ListUserTagsAPIClient
	iam.ListAttachedUserPoliciesAPIClient
	GetAccessKeyLastUsed(ctx context.Context, in *iam.GetAccessKeyLastUsedInput, optFns ...func(*iam.Options)) (*iam.GetAccessKeyLastUsedOutput, error)
	UpdateAccessKey(ctx context.Context, in *iam.UpdateAccessKeyInput, optFns ...func(*iam.Options)) (*iam.UpdateAccessKeyOutput, error)
	AttachUserPolicy(ctx context.Context, in *iam.AttachUserPolicyInput, optFns ...func(*iam.Options)) (*iam.AttachUserPolicyOutput, error)
	DetachUserPolicy(ctx context.Context, in *iam.DetachUserPolicyInput, optFns ...func(*iam.Options)) (*iam.DetachUserPolicyOutput, error)
	DeleteAccessKey(ctx context.Context, in *iam.DeleteAccessKeyInput, optFns ...func(*iam.Options)) (*iam.DeleteAccessKeyOutput, error)
}

// DefaultExemptTag is the user tag that keeps keyaudit's hands off a user's keys.
const DefaultExemptTag = "keyaudit:exempt"

// States a record names besides a key's Active and Inactive.
const (
	stateDeleted  = "deleted"
	stateAttached = "attached"
	stateDetached = "detached"
)

// Remediator makes changes in accounts, journaling each one first.
type Remediator struct {
	Journal   Journal
	Connect   func(ctx context.Context, accountID string) (IAM, error)
	JournalID string // this run's ID in the journal
	Actor     string // who runs it, as the journal records
	// Clock is the run's clock: the journal's times, and the in-use and
	// wait decisions, are read from it.
	Clock func() time.Time
	// UnusedDays is the rules' unused_days: a key used more recently is in use.
	UnusedDays int
	ExemptTag  string
	// Yes makes the changes; without it nothing is changed.
	Yes bool

	seq int
}

// Outcome is what became of one change.
type Outcome string

const (
	WouldChange Outcome = "would change" // a dry run
	Changed     Outcome = "changed"
	Unchanged   Outcome = "unchanged" // already in the new state
	Refused     Outcome = "refused"
	Failure     Outcome = "failed"
	// NotRestored: undo found the key deleted or changed by hand since.
	NotRestored Outcome = "not restored"
)

// Result is one change and its outcome; Reason says why, for refusals,
// failures and what was left as it was.
type Result struct {
	Change  Change
	Outcome Outcome
	Reason  string
}

// Apply checks and makes each change in turn. A change is refused when its
// user is exempt, or its key was used within UnusedDays and the plan does
// not deactivate keys in use; the key's state is read at the moment, not
// taken from the report, which may be hours old.
func (r *Remediator) Apply(ctx context.Context, changes []Change) []Result {
	out := make([]Result, 0, len(changes))
	for _, c := range changes {
		out = append(out, r.apply(ctx, c))
	}
	return out
}

func (r *Remediator) apply(ctx context.Context, c Change) Result {
	client, err := r.Connect(ctx, c.AccountID)
	if err != nil {
		return Result{c, Failure, fmt.Sprintf("reach account %s: %v", c.AccountID, err)}
	}
	if why, err := r.exempt(ctx, client, c.User, c.AccessKeyID); err != nil {
		return Result{c, Failure, err.Error()}
	} else if why != "" {
		return Result{c, Refused, why}
	}
	status, err := keyStatus(ctx, client, c.User, c.AccessKeyID)
	if err != nil {
		return Result{c, Failure, err.Error()}
	}
	if status == stateDeleted {
		return Result{c, Refused, "the key no longer exists"}
	}
	var prev, next string
	switch c.Op {
	case Deactivate:
		prev, next = status, string(types.StatusTypeInactive)
		if !c.InUseAllowed {
			if why, err := r.inUse(ctx, client, c.AccessKeyID, status); err != nil {
				return Result{c, Failure, err.Error()}
			} else if why != "" {
				return Result{c, Refused, why}
			}
		}
	case Quarantine:
		prev, err = policyState(ctx, client, c.User, c.PolicyARN)
		if err != nil {
			return Result{c, Failure, err.Error()}
		}
		next = stateAttached
	default:
		return Result{c, Failure, fmt.Sprintf("apply makes no %s change", c.Op)}
	}
	if prev == next {
		return Result{c, Unchanged, "already " + strings.ToLower(next)}
	}
	if !r.Yes {
		return Result{c, WouldChange, ""}
	}
	return r.journaled(ctx, Record{Op: c.Op, AccountID: c.AccountID, Principal: c.User, AccessKeyID: c.AccessKeyID, PolicyARN: c.PolicyARN,
		Previous: prev, New: next, Finding: &c.Finding}, c, func() error { return call(ctx, client, c.Op, c.User, c.AccessKeyID, c.PolicyARN, next) })
}

// journaled writes rec as Started, makes the change, then writes how it
// ended. No journal, no change: a change nobody can undo is not made.
func (r *Remediator) journaled(ctx context.Context, rec Record, c Change, change func() error) Result {
	r.seq++
	rec.JournalID, rec.Seq, rec.Actor, rec.Time, rec.Status = r.JournalID, r.seq, r.Actor, r.Clock().UTC(), Started
	if err := r.Journal.Append(ctx, rec); err != nil {
		return Result{c, Failure, fmt.Sprintf("not changed, the journal could not be written: %v", err)}
	}
	callErr := change()
	rec.Time, rec.Status = r.Clock().UTC(), Complete
	res := Result{c, Changed, ""}
	if callErr != nil {
		rec.Status, rec.Error = Failed, callErr.Error()
		res = Result{c, Failure, callErr.Error()}
	}
	if err := r.Journal.Append(ctx, rec); err != nil {
		// The record stays Started: undo reads the key to know.
		res.Reason = strings.TrimPrefix(res.Reason+"; ", "; ") + fmt.Sprintf("the journal could not record the outcome (journal %s, change %d left incomplete): %v", rec.JournalID, rec.Seq, err)
		if callErr == nil {
			res.Outcome = Failure
		}
	}
	return res
}

// call makes one change: a key to status next, or the policy attached
// or detached.
func call(ctx context.Context, client IAM, op Op, user, keyID, policyARN, next string) error {
	var err error
	switch {
	case op == Delete:
		_, err = client.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String(user), AccessKeyId: aws.String(keyID)})
	case next == stateAttached:
		_, err = client.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String(user), PolicyArn: aws.String(policyARN)})
	case next == stateDetached:
		_, err = client.DetachUserPolicy(ctx, &iam.DetachUserPolicyInput{UserName: aws.String(user), PolicyArn: aws.String(policyARN)})
	default:
		_, err = client.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String(user), AccessKeyId: aws.String(keyID), Status: types.StatusType(next)})
	}
	if err != nil {
		return fmt.Errorf("%s for user %q: %w", op, user, err)
	}
	return nil
}

// exempt says why the user's tag exempts the key, or "". The tag's value
// is empty or "true" for every key of the user, else the key IDs it
// exempts (IAM access keys carry no tags of their own).
func (r *Remediator) exempt(ctx context.Context, client IAM, user, keyID string) (string, error) {
	tag := r.ExemptTag
	if tag == "" {
		tag = DefaultExemptTag
	}
	p := iam.NewListUserTagsPaginator(client, &iam.ListUserTagsInput{UserName: aws.String(user)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return "", fmt.Errorf("read the tags of user %q: %w", user, err)
		}
		for _, t := range page.Tags {
			if aws.ToString(t.Key) != tag {
				continue
			}
			v := strings.TrimSpace(aws.ToString(t.Value))
			if v == "" || strings.EqualFold(v, "true") || slices.Contains(strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '/' }), keyID) {
				return fmt.Sprintf("user %q is tagged %s=%s", user, tag, v), nil
			}
		}
	}
	return "", nil
}

// keyStatus is the key's status now: Active, Inactive, or deleted.
func keyStatus(ctx context.Context, client IAM, user, keyID string) (string, error) {
	p := iam.NewListAccessKeysPaginator(client, &iam.ListAccessKeysInput{UserName: aws.String(user)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		var missing *types.NoSuchEntityException
		if errors.As(err, &missing) {
			return stateDeleted, nil // the user is gone, and its keys with it
		}
		if err != nil {
			return "", fmt.Errorf("list the access keys of user %q: %w", user, err)
		}
		for _, k := range page.AccessKeyMetadata {
			if aws.ToString(k.AccessKeyId) == keyID {
				return string(k.Status), nil
			}
		}
	}
	return stateDeleted, nil
}

// policyState says whether the managed policy is attached to the user.
func policyState(ctx context.Context, client IAM, user, policyARN string) (string, error) {
	p := iam.NewListAttachedUserPoliciesPaginator(client, &iam.ListAttachedUserPoliciesInput{UserName: aws.String(user)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return "", fmt.Errorf("list the policies attached to user %q: %w", user, err)
		}
		for _, a := range page.AttachedPolicies {
			if aws.ToString(a.PolicyArn) == policyARN {
				return stateAttached, nil
			}
		}
	}
	return stateDetached, nil
}

// lastUsed is the key's last use, zero when it was never used.
func lastUsed(ctx context.Context, client IAM, keyID string) (time.Time, error) {
	out, err := client.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: aws.String(keyID)})
	if err != nil {
		return time.Time{}, fmt.Errorf("read the last use of key %s: %w", keyID, err)
	}
	if out.AccessKeyLastUsed == nil {
		return time.Time{}, nil
	}
	return aws.ToTime(out.AccessKeyLastUsed.LastUsedDate), nil
}

// inUse says why an active key counts as in use (docs/advice.md,
// invariant 1), or "".
func (r *Remediator) inUse(ctx context.Context, client IAM, keyID, status string) (string, error) {
	if status != string(types.StatusTypeActive) {
		return "", nil
	}
	used, err := lastUsed(ctx, client, keyID)
	if err != nil {
		return "", err
	}
	if used.IsZero() {
		return "", nil
	}
	if days := int(r.Clock().Sub(used).Hours() / 24); days < r.UnusedDays {
		return fmt.Sprintf("the key is in use: last used %s, %d days ago, within unused_days (%d); move its applications first", used.UTC().Format(time.RFC3339), days, r.UnusedDays), nil
	}
	return "", nil
}

// Through makes a Remediator's Connect of a function that reaches an
// account's IAM (pipeline.Conn.IAM through a role): the client it returns
// must make changes too.
func Through[C any](iamOf func(ctx context.Context, accountID string) (C, error)) func(context.Context, string) (IAM, error) {
	return func(ctx context.Context, account string) (IAM, error) {
		c, err := iamOf(ctx, account)
		if err != nil {
			return nil, err
		}
		client, ok := any(c).(IAM)
		if !ok {
			return nil, fmt.Errorf("the IAM client of account %s cannot make changes", account)
		}
		return client, nil
	}
}
