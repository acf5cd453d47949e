package rules

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/keyaudit/keyaudit/audit/inventory"
	"github.com/keyaudit/keyaudit/internal/awssim"
	"github.com/stretchr/testify/require"
)

// The rules know nothing of AWS (deps_test.go); their tests may. Here the
// plans of a representative part of the grid are followed against the
// simulator, through the real IAM and STS clients: IAM's key calls are
// the simulator's, its clock is moved by the waits, and an application's
// call signed with its key is what records the key's last use.

// simKeys is one IAM user's keys in the simulator.
type simKeys struct {
	t     *testing.T
	srv   *awssim.Server
	iam   *iam.Client
	user  string
	clock *atomic.Int64          // the simulator's clock, in Unix nanoseconds
	apps  map[string]*sts.Client // clients signing with each key, made once
}

func (s *simKeys) at(t time.Time) { s.clock.Store(t.UnixNano()) }

func (s *simKeys) keys() []simKey {
	ctx := context.Background()
	var out []simKey
	p := iam.NewListAccessKeysPaginator(s.iam, &iam.ListAccessKeysInput{UserName: aws.String(s.user)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		require.NoError(s.t, err, "list the keys of %s", s.user)
		for _, m := range page.AccessKeyMetadata {
			used, err := s.iam.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: m.AccessKeyId})
			require.NoError(s.t, err, "last use of %s", aws.ToString(m.AccessKeyId))
			out = append(out, simKey{id: aws.ToString(m.AccessKeyId), active: m.Status == types.StatusTypeActive,
				created: aws.ToTime(m.CreateDate), lastUsed: aws.ToTime(used.AccessKeyLastUsed.LastUsedDate)})
		}
	}
	slices.SortStableFunc(out, func(a, b simKey) int { return a.created.Compare(b.created) })
	return out
}

func (s *simKeys) create(at time.Time) (string, error) {
	s.at(at)
	out, err := s.iam.CreateAccessKey(context.Background(), &iam.CreateAccessKeyInput{UserName: aws.String(s.user)})
	if err != nil {
		return "", err
	}
	return aws.ToString(out.AccessKey.AccessKeyId), nil
}

func (s *simKeys) update(id string, active bool, at time.Time) error {
	s.at(at)
	status := types.StatusTypeInactive
	if active {
		status = types.StatusTypeActive
	}
	_, err := s.iam.UpdateAccessKey(context.Background(), &iam.UpdateAccessKeyInput{UserName: aws.String(s.user), AccessKeyId: aws.String(id), Status: status})
	return err
}

func (s *simKeys) remove(id string) error {
	_, err := s.iam.DeleteAccessKey(context.Background(), &iam.DeleteAccessKeyInput{UserName: aws.String(s.user), AccessKeyId: aws.String(id)})
	return err
}

// use calls STS signed with the key, as an application does; an inactive
// or deleted key is refused, and its last use stays as it was.
func (s *simKeys) use(id string, at time.Time) {
	s.at(at)
	client := s.apps[id]
	if client == nil {
		cfg, err := s.srv.AWSConfig(context.Background(), "123456789012", "us-east-1")
		require.NoError(s.t, err, "simulator config")
		cfg.Credentials = credentials.StaticCredentialsProvider{Value: aws.Credentials{AccessKeyID: id, SecretAccessKey: "the-application-holds-it"}}
		cfg.RetryMaxAttempts = 1
		client = sts.NewFromConfig(cfg)
		s.apps[id] = client
	}
	_, err := client.GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	var refused interface{ ErrorCode() string }
	if err != nil && !(errors.As(err, &refused) && refused.ErrorCode() == "InvalidClientTokenId") {
		require.NoError(s.t, err, "a call with key %s", id)
	}
}

// onSimulator seeds the simulator with the keys build set up in its model
// and returns a build whose keys are the simulator's: the inventory and the
// applications name the simulator's key IDs, and its creation dates.
func onSimulator(t *testing.T, build func() (*inventory.Account, *iamUser, map[int]string)) func() (*inventory.Account, *iamUser, map[int]string) {
	return func() (*inventory.Account, *iamUser, map[int]string) {
		a, u, slotIDs := build()
		var keys []awssim.Key
		for _, k := range u.store.keys() {
			wk := awssim.Key{Status: "Inactive", CreatedDaysAgo: now.Sub(k.created).Hours() / 24}
			if k.active {
				wk.Status = "Active"
			}
			if !k.lastUsed.IsZero() {
				// The grid's "used the day it was created" is seconds
				// before the creation of a later slot; IAM has no such key.
				d := min(now.Sub(k.lastUsed).Hours()/24, wk.CreatedDaysAgo)
				wk.LastUsedDaysAgo = &d
			}
			keys = append(keys, wk)
		}
		w := &awssim.World{Accounts: []awssim.Account{{ID: "123456789012", Name: "prod", CreatedDaysAgo: 1000,
			Users: []awssim.User{{Name: u.name, CreatedDaysAgo: 1000, Keys: keys}}}}}
		clock := &atomic.Int64{}
		clock.Store(now.UnixNano())
		srv := awssim.NewServer(w, awssim.WithClock(func() time.Time { return time.Unix(0, clock.Load()).UTC() }))
		t.Cleanup(srv.Close)
		cfg, err := srv.AWSConfig(context.Background(), "123456789012", "us-east-1")
		require.NoError(t, err, "simulator config")
		store := &simKeys{t: t, srv: srv, iam: iam.NewFromConfig(cfg), user: u.name, clock: clock, apps: map[string]*sts.Client{}}

		// The simulator names the keys and dates them to the second, as IAM does.
		listed := store.keys()
		require.Len(t, listed, len(keys), "keys seeded")
		renamed := map[string]string{}
		for i, k := range listed {
			renamed[slotIDs[i+1]] = k.id
			slotIDs[i+1] = k.id
			ik := &a.Users[0].Keys[i]
			ik.CreatedAt = k.created
			if ik.ID != "" {
				ik.ID = k.id
			}
		}
		for app, id := range u.apps {
			u.apps[app] = renamed[id]
		}
		u.store = store
		return a, u, slotIDs
	}
}

// TestPlanInvariantsOnSimulator follows the plans of every 25th state of
// the grid, every fifth with fewer than two keys, and the half-done
// rotations of observation 1, against the
// simulator. (The model runs the whole grid in TestPlanInvariants; through
// HTTP and the SDK a state takes about as long as the grid does there.)
func TestPlanInvariantsOnSimulator(t *testing.T) {
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	var states []userState
	halfDones := 0
	for i, st := range userStates() {
		halfDone := len(st.keys) == 2 && !st.offline && st.keys[0].active && st.keys[1].active &&
			st.keys[0].used == 1 && st.keys[1].used == -1 && st.keys[1].created < st.keys[0].created
		if i%25 == 0 || (len(st.keys) < 2 && i%5 == 0) || halfDone {
			states = append(states, st)
		}
		if halfDone {
			halfDones++
		}
	}
	require.Positive(t, halfDones, "the half-done rotations (older key in use, newer never used)")
	require.Greater(t, len(states), 40, "a representative part of the grid")
	for _, st := range states {
		checkInvariants(t, st, onSimulator(t, st.build))
	}
}
