package audit

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/keyaudit/keyaudit/audit/inventory"
	"github.com/keyaudit/keyaudit/internal/awssim"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

var collectNow = time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)

func collectWorld(users ...awssim.User) *awssim.World {
	return &awssim.World{Accounts: []awssim.Account{{ID: "222222222222", Name: "prod", CreatedDaysAgo: 900, Users: users}}}
}

func collect(t *testing.T, w *awssim.World, opts ...awssim.Option) (*inventory.Account, *awssim.Server) {
	t.Helper()
	opts = append([]awssim.Option{awssim.WithClock(func() time.Time { return collectNow })}, opts...)
	srv, cfg := simConfig(t, w, "222222222222", opts...)
	c := NewCollector()
	c.ReportPoll, c.AllKeyIDs = 10*time.Millisecond, true
	acct, err := c.Collect(context.Background(), iam.NewFromConfig(cfg), "222222222222")
	require.NoError(t, err)
	return acct, srv
}

func ago(d float64) time.Time { return collectNow.Add(-time.Duration(d * float64(24*time.Hour))) }

// A key switched off and on again shows its reactivation, not its
// creation, as last_rotated in the credential report: it must still be
// matched to its slot, or its last use stays unknown and key-unused
// cannot judge it.
func TestCollectMatchesReactivatedKeys(t *testing.T) {
	w := collectWorld(
		awssim.User{Name: "ops", CreatedDaysAgo: 400, Keys: []awssim.Key{
			{Status: "Active", CreatedDaysAgo: 300, ReactivatedDaysAgo: days(10), LastUsedDaysAgo: days(60), LastUsedService: "s3", LastUsedRegion: "eu-west-1"},
			{Status: "Active", CreatedDaysAgo: 100, LastUsedDaysAgo: days(5), LastUsedService: "ec2", LastUsedRegion: "us-east-1"},
		}},
		awssim.User{Name: "both", CreatedDaysAgo: 400, Keys: []awssim.Key{
			{Status: "Active", CreatedDaysAgo: 300, ReactivatedDaysAgo: days(3)},
			{Status: "Inactive", CreatedDaysAgo: 200, ReactivatedDaysAgo: days(30), LastUsedDaysAgo: days(40), LastUsedService: "iam", LastUsedRegion: "us-east-1"},
		}},
		awssim.User{Name: "plain", CreatedDaysAgo: 400, Keys: []awssim.Key{{Status: "Inactive", CreatedDaysAgo: 70, LastUsedDaysAgo: days(69), LastUsedService: "sts", LastUsedRegion: "us-east-1"}}},
	)
	acct, _ := collect(t, w)
	users := map[string]inventory.User{}
	for _, u := range acct.Users {
		users[u.Name] = u
	}
	tests := []struct {
		name    string
		user    string
		key     int
		slot    int
		created time.Time
		used    time.Time
		never   bool
	}{
		{"reactivated key, the other one not", "ops", 0, 1, ago(300), ago(60), false},
		{"the other key", "ops", 1, 2, ago(100), ago(5), false},
		{"both reactivated: the older key", "both", 0, 1, ago(300), time.Time{}, true},
		{"both reactivated: the newer key", "both", 1, 2, ago(200), ago(40), false},
		{"never reactivated", "plain", 0, 1, ago(70), ago(69), false},
	}
	for _, tt := range tests {
		keys := users[tt.user].Keys
		require.Greater(t, len(keys), tt.key, "case %s", tt.name)
		k := keys[tt.key]
		assert.Equal(t, w.Accounts[0].Users[indexOf(w, tt.user)].Keys[tt.key].ID, k.ID, "case %s", tt.name)
		assert.Equal(t, tt.slot, k.Slot, "case %s: slot", tt.name)
		assert.Equal(t, tt.created, k.CreatedAt, "case %s: the real creation date", tt.name)
		assert.True(t, k.LastUsed.Known, "case %s: last use known", tt.name)
		assert.Equal(t, tt.never, k.LastUsed.Never, "case %s: never used", tt.name)
		assert.Equal(t, tt.used, k.LastUsed.At, "case %s: last used", tt.name)
	}
}

func indexOf(w *awssim.World, user string) int {
	for i, u := range w.Accounts[0].Users {
		if u.Name == user {
			return i
		}
	}
	return -1
}

// The credential report names key slots: Collect lists no key unless asked
// for every one, and ListKeys lists only the users asked for, once.
func TestCollectListsKeysOnlyWhenAsked(t *testing.T) {
	w := collectWorld(
		awssim.User{Name: "ops", CreatedDaysAgo: 400, Keys: []awssim.Key{{Status: "Active", CreatedDaysAgo: 300}}},
		awssim.User{Name: "dev", CreatedDaysAgo: 400, Keys: []awssim.Key{{Status: "Active", CreatedDaysAgo: 30}}},
		awssim.User{Name: "nokey", CreatedDaysAgo: 400},
	)
	srv, cfg := simConfig(t, w, "222222222222", awssim.WithClock(func() time.Time { return collectNow }))
	client := iam.NewFromConfig(cfg)
	c := &Collector{Parallel: 2, ReportWait: time.Minute, ReportPoll: 10 * time.Millisecond}
	acct, err := c.Collect(context.Background(), client, "222222222222")
	require.NoError(t, err, "collect")
	assert.Zero(t, srv.Calls().ByAccount["222222222222"]["iam:ListAccessKeys"], "ListAccessKeys calls while collecting")
	for _, u := range acct.Users {
		for _, k := range u.Keys {
			assert.Empty(t, k.ID, "%s: a slot, no key ID yet", u.Name)
			assert.NotZero(t, k.Slot, "%s: the report's slot", u.Name)
		}
	}
	for range 2 {
		require.NoError(t, c.ListKeys(context.Background(), client, acct, []string{"ops", "nokey"}), "list ops's keys")
	}
	assert.Equal(t, 1, srv.Calls().ByAccount["222222222222"]["iam:ListAccessKeys"], "ListAccessKeys calls: ops once, nokey has none")
	for _, u := range acct.Users {
		for _, k := range u.Keys {
			assert.Equal(t, u.Name == "ops", k.ID != "", "%s: key named only when asked", u.Name)
		}
	}
}

// A credential report generated minutes ago is as current as the per-key
// APIs: its last uses count as confirmed and the summary is not asked.
func TestCollectFreshReport(t *testing.T) {
	w := collectWorld(awssim.User{Name: "ops", CreatedDaysAgo: 400, Keys: []awssim.Key{{Status: "Active", CreatedDaysAgo: 300, LastUsedDaysAgo: days(60)}}})
	for _, tt := range []struct {
		name  string
		age   time.Duration
		fresh bool
	}{{"generated a minute ago", time.Minute, true}, {"generated an hour ago", time.Hour, false}} {
		srv, cfg := simConfig(t, w, "222222222222", awssim.WithClock(func() time.Time { return collectNow }))
		c := &Collector{Parallel: 1, ReportWait: time.Minute, ReportPoll: 10 * time.Millisecond, Clock: func() time.Time { return collectNow.Add(tt.age) }}
		acct, err := c.Collect(context.Background(), iam.NewFromConfig(cfg), "222222222222")
		require.NoError(t, err, "case %s", tt.name)
		require.Len(t, acct.Users, 1, "case %s", tt.name)
		assert.Equal(t, tt.fresh, acct.Users[0].Keys[0].LastUsed.Confirmed, "case %s: last use confirmed", tt.name)
		assert.Equal(t, tt.fresh, acct.RootKeysPresent == nil, "case %s: root keys from the summary only when stale", tt.name)
		want := 1
		if tt.fresh {
			want = 0
		}
		assert.Equal(t, want, srv.Calls().ByAccount["222222222222"]["iam:GetAccountSummary"], "case %s: GetAccountSummary calls", tt.name)
	}
}

// GenerateCredentialReport answers LimitExceeded while a report another
// caller asked for is being generated: wait and ask again, within
// ReportWait.
func TestCollectWaitsOutReportLimitExceeded(t *testing.T) {
	w := collectWorld(awssim.User{Name: "ci", CreatedDaysAgo: 100, Keys: []awssim.Key{{Status: "Active", CreatedDaysAgo: 10}}})
	w.Accounts[0].Faults.ReportLimitExceeded = 3
	acct, srv := collect(t, w)
	require.Len(t, acct.Users, 1)
	assert.Equal(t, "ci", acct.Users[0].Name)
	calls := srv.Calls().ByAccount["222222222222"]
	assert.Equal(t, 4, calls["iam:GenerateCredentialReport"], "GenerateCredentialReport: 3 refused, then STARTED")
	assert.Equal(t, 1, calls["iam:GetCredentialReport"], "GetCredentialReport: the report")
}

func TestCollectReportLimitExceededIsBounded(t *testing.T) {
	w := collectWorld()
	w.Accounts[0].Faults.ReportLimitExceeded = 1000
	srv, cfg := simConfig(t, w, "222222222222")
	c := &Collector{Parallel: 1, ReportWait: 200 * time.Millisecond, ReportPoll: 10 * time.Millisecond}
	start := time.Now()
	_, err := c.Collect(context.Background(), iam.NewFromConfig(cfg), "222222222222")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "credential report still not ready after 200ms")
	assert.Less(t, time.Since(start), 5*time.Second, "the wait is bounded by ReportWait")
	assert.Greater(t, srv.Calls().ByAccount["222222222222"]["iam:GenerateCredentialReport"], 2, "asked again while refused")
}

// forEach bounds the calls in flight, stops at the first error, cancels
// the calls still running, and leaves no goroutine behind.
func TestForEachBoundsAndCancels(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	c := &Collector{Parallel: 3}
	var mu sync.Mutex
	inFlight, most, started := 0, 0, 0
	boom := errors.New("boom")
	err := c.forEach(context.Background(), 50, func(ctx context.Context, i int) error {
		mu.Lock()
		inFlight++
		started++
		most = max(most, inFlight)
		mu.Unlock()
		defer func() {
			mu.Lock()
			inFlight--
			mu.Unlock()
		}()
		if i == 5 {
			return boom
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
			return nil
		}
	})
	require.ErrorIs(t, err, boom, "the first error is returned")
	assert.LessOrEqual(t, most, 3, "calls in flight")
	assert.Less(t, started, 50, "no new call starts after the error")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.ErrorIs(t, c.forEach(ctx, 5, func(context.Context, int) error { return nil }), context.Canceled, "a cancelled run is an error")
	assert.NoError(t, c.forEach(context.Background(), 0, nil), "nothing to do")
}
