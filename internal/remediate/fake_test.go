package remediate

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
)

// fakeKey is one key of fakeIAM.
type fakeKey struct {
	status   string
	lastUsed time.Time
}

// fakeIAM is one account's users, keys, tags and attached policies. Every
// change is appended to log, which the journal's appends share, so a test
// sees their order.
type fakeIAM struct {
	mu       sync.Mutex
	keys     map[string]map[string]*fakeKey // user -> key ID -> key
	tags     map[string]map[string]string
	attached map[string][]string
	log      *[]string
	fail     error // returned by every change
}

func newFakeIAM(log *[]string) *fakeIAM {
	return &fakeIAM{keys: map[string]map[string]*fakeKey{}, tags: map[string]map[string]string{}, attached: map[string][]string{}, log: log}
}

func (f *fakeIAM) addKey(user, id, status string, lastUsed time.Time) {
	if f.keys[user] == nil {
		f.keys[user] = map[string]*fakeKey{}
	}
	f.keys[user][id] = &fakeKey{status: status, lastUsed: lastUsed}
}

func (f *fakeIAM) status(user, id string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if k := f.keys[user][id]; k != nil {
		return k.status
	}
	return stateDeleted
}

func (f *fakeIAM) key(user, id string) (*fakeKey, error) {
	k := f.keys[user][id]
	if k == nil {
		return nil, &types.NoSuchEntityException{Message: aws.String("no key " + id)}
	}
	return k, f.fail
}

func (f *fakeIAM) ListAccessKeys(_ context.Context, in *iam.ListAccessKeysInput, _ ...func(*iam.Options)) (*iam.ListAccessKeysOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := &iam.ListAccessKeysOutput{}
	for id, k := range f.keys[aws.ToString(in.UserName)] {
		out.AccessKeyMetadata = append(out.AccessKeyMetadata, types.AccessKeyMetadata{AccessKeyId: aws.String(id), Status: types.StatusType(k.status), UserName: in.UserName})
	}
	return out, nil
}

func (f *fakeIAM) ListUserTags(_ context.Context, in *iam.ListUserTagsInput, _ ...func(*iam.Options)) (*iam.ListUserTagsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := &iam.ListUserTagsOutput{}
	for k, v := range f.tags[aws.ToString(in.UserName)] {
		out.Tags = append(out.Tags, types.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	return out, nil
}

func (f *fakeIAM) ListAttachedUserPolicies(_ context.Context, in *iam.ListAttachedUserPoliciesInput, _ ...func(*iam.Options)) (*iam.ListAttachedUserPoliciesOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := &iam.ListAttachedUserPoliciesOutput{}
	for _, p := range f.attached[aws.ToString(in.UserName)] {
		out.AttachedPolicies = append(out.AttachedPolicies, types.AttachedPolicy{PolicyArn: aws.String(p)})
	}
	return out, nil
}

func (f *fakeIAM) GetAccessKeyLastUsed(_ context.Context, in *iam.GetAccessKeyLastUsedInput, _ ...func(*iam.Options)) (*iam.GetAccessKeyLastUsedOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, keys := range f.keys {
		if k := keys[aws.ToString(in.AccessKeyId)]; k != nil {
			out := &iam.GetAccessKeyLastUsedOutput{AccessKeyLastUsed: &types.AccessKeyLastUsed{}}
			if !k.lastUsed.IsZero() {
				out.AccessKeyLastUsed.LastUsedDate = aws.Time(k.lastUsed)
			}
			return out, nil
		}
	}
	return nil, &types.NoSuchEntityException{Message: aws.String("no key")}
}

func (f *fakeIAM) UpdateAccessKey(_ context.Context, in *iam.UpdateAccessKeyInput, _ ...func(*iam.Options)) (*iam.UpdateAccessKeyOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k, err := f.key(aws.ToString(in.UserName), aws.ToString(in.AccessKeyId))
	if err != nil {
		return nil, err
	}
	k.status = string(in.Status)
	*f.log = append(*f.log, fmt.Sprintf("call update %s %s", aws.ToString(in.AccessKeyId), in.Status))
	return &iam.UpdateAccessKeyOutput{}, nil
}

func (f *fakeIAM) AttachUserPolicy(_ context.Context, in *iam.AttachUserPolicyInput, _ ...func(*iam.Options)) (*iam.AttachUserPolicyOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return nil, f.fail
	}
	u := aws.ToString(in.UserName)
	f.attached[u] = append(f.attached[u], aws.ToString(in.PolicyArn))
	*f.log = append(*f.log, "call attach "+u)
	return &iam.AttachUserPolicyOutput{}, nil
}

func (f *fakeIAM) DetachUserPolicy(_ context.Context, in *iam.DetachUserPolicyInput, _ ...func(*iam.Options)) (*iam.DetachUserPolicyOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return nil, f.fail
	}
	u := aws.ToString(in.UserName)
	f.attached[u] = nil
	*f.log = append(*f.log, "call detach "+u)
	return &iam.DetachUserPolicyOutput{}, nil
}

func (f *fakeIAM) DeleteAccessKey(_ context.Context, in *iam.DeleteAccessKeyInput, _ ...func(*iam.Options)) (*iam.DeleteAccessKeyOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	u, id := aws.ToString(in.UserName), aws.ToString(in.AccessKeyId)
	if _, err := f.key(u, id); err != nil {
		return nil, err
	}
	delete(f.keys[u], id)
	*f.log = append(*f.log, "call delete "+id)
	return &iam.DeleteAccessKeyOutput{}, nil
}

// loggedJournal is a file journal that logs each append to the shared log
// and fails the appends failAt names (1-based).
type loggedJournal struct {
	File
	log    *[]string
	n      int
	failAt map[int]bool
}

func (j *loggedJournal) Append(ctx context.Context, r Record) error {
	j.n++
	if j.failAt[j.n] {
		return fmt.Errorf("disk full")
	}
	*j.log = append(*j.log, fmt.Sprintf("journal %s %s %s", r.Status, r.Op, r.AccessKeyID))
	return j.File.Append(ctx, r)
}

// testClock is a clock a test moves.
type testClock struct{ now time.Time }

func (c *testClock) Now() time.Time { return c.now }

// setup is one account's fake IAM, a journal in a temporary file, and a
// remediator acting on them.
func setup(t *testing.T) (*fakeIAM, *loggedJournal, *Remediator, *testClock) {
	log := &[]string{}
	f := newFakeIAM(log)
	j := &loggedJournal{File: File{Path: filepath.Join(t.TempDir(), "journal.jsonl")}, log: log, failAt: map[int]bool{}}
	clock := &testClock{now: time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC)}
	r := &Remediator{Journal: j, JournalID: "J1", Actor: "tester", Clock: clock.Now, UnusedDays: 45, Yes: true,
		Connect: func(context.Context, string) (IAM, error) { return f, nil }}
	return f, j, r, clock
}
