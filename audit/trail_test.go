package audit

import (
	"context"
	"testing"
	"time"

	"github.com/keyaudit/keyaudit/audit/inventory"
	"github.com/keyaudit/keyaudit/internal/awssim"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var traceNow = time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)

func traceWorld(events int, throttle float64) *awssim.World {
	acct := awssim.Account{ID: "222222222222", Name: "prod", Management: true, CreatedDaysAgo: 900,
		Users:  []awssim.User{{Name: "ci", CreatedDaysAgo: 400, Keys: []awssim.Key{{Status: "Active", CreatedDaysAgo: 300}}}},
		Faults: awssim.Faults{ThrottleRate: throttle}}
	ips := []string{"203.0.113.10", "198.51.100.7"}
	agents := []string{"terraform/1.7.5", "aws-cli/2.15.0"}
	for i := range events {
		acct.Events = append(acct.Events, awssim.Event{DaysAgo: float64(i%25) + 0.5, User: "ci", Key: 1, Name: "PutObject", Source: "s3.amazonaws.com",
			Region: "us-east-1", SourceIP: ips[i%2], UserAgent: agents[i%2]})
	}
	acct.Events = append(acct.Events, awssim.Event{DaysAgo: 40, User: "ci", Key: 1, Name: "ListBuckets", Source: "s3.amazonaws.com", Region: "us-east-1", SourceIP: "192.0.2.99", UserAgent: "old-agent"})
	acct.Events = append(acct.Events, awssim.Event{DaysAgo: 1, User: "ci", Key: 1, Name: "AssumeRole", Source: "sts.amazonaws.com", Region: "us-east-1", SourceIP: "203.0.113.10", UserAgent: "aws-cli/2.15.0"})
	return &awssim.World{Accounts: []awssim.Account{acct}}
}

func TestTraceUsageWithPagingAndThrottling(t *testing.T) {
	w := traceWorld(120, 0.5)
	srv, cfg := simConfig(t, w, "222222222222", awssim.WithClock(func() time.Time { return traceNow }))
	key := w.Accounts[0].Users[0].Keys[0].ID

	u, err := NewTracer(cfg, 30).Usage(context.Background(), key, []string{"us-east-1"}, traceNow)
	require.NoError(t, err)
	// 120 uses and the AssumeRole call, within 30 days; the 40-day-old event is outside.
	assert.Equal(t, 121, u.Events, "events across pages")
	assert.False(t, u.Truncated)
	assert.Equal(t, []string{"198.51.100.7", "203.0.113.10"}, u.SourceIPs)
	assert.Len(t, u.UserAgents, 2)
	assert.Equal(t, []string{"s3.amazonaws.com", "sts.amazonaws.com"}, u.Services)
	assert.True(t, u.LastSeen.After(u.FirstSeen), "first %s, last %s", u.FirstSeen, u.LastSeen)

	// Every request, retries of throttled ones included, kept to the
	// documented 2 per second per account and region.
	times := srv.CloudTrailRequests("222222222222", "us-east-1")
	require.GreaterOrEqual(t, len(times), 4, "paging and throttling were exercised")
	// The limiter spaces requests 500 ms apart; allow for scheduling jitter
	// on a loaded machine, but not for a second request sent at once.
	for i := 1; i < len(times); i++ {
		assert.GreaterOrEqual(t, times[i].Sub(times[i-1]), 350*time.Millisecond, "requests %d and %d: over 2 per second", i-1, i)
	}
	rate := float64(len(times)-1) / times[len(times)-1].Sub(times[0]).Seconds()
	assert.LessOrEqual(t, rate, 2.1, "requests per second, over CloudTrail's 2")

	bounded := NewTracer(cfg, 30)
	bounded.MaxEvents = 50
	u, err = bounded.Usage(context.Background(), key, []string{"us-east-1"}, traceNow)
	require.NoError(t, err)
	assert.True(t, u.Truncated, "bounded usage is marked truncated")
	assert.LessOrEqual(t, u.Events, 100)
}

// issuedBy is the ASIA key awssim hands out in the response of the
// account's i-th event.
func issuedBy(i int) string { return awssim.KeyID("ASIA", "222222222222", 1<<38+i) }

func TestTraceIssuerOfTemporaryKey(t *testing.T) {
	w := traceWorld(3, 0)
	base := len(w.Accounts[0].Events)
	w.Accounts[0].Events = append(w.Accounts[0].Events,
		// A regional STS endpoint logs in its own region.
		awssim.Event{DaysAgo: 2, User: "ci", Key: 1, Name: "AssumeRole", Source: "sts.amazonaws.com", Region: "eu-west-1", SourceIP: "198.51.100.7"},
		// A role of this account assumed from another: no caller ARN here.
		awssim.Event{DaysAgo: 3, CallerAccount: "333333333333", Name: "AssumeRole", Source: "sts.amazonaws.com", Region: "us-east-1", SourceIP: "192.0.2.1"},
		awssim.Event{DaysAgo: 4, User: "ci", Key: 1, Name: "AssumeRoot", Source: "sts.amazonaws.com", Region: "us-east-1", SourceIP: "192.0.2.2"},
	)
	_, cfg := simConfig(t, w, "222222222222", awssim.WithClock(func() time.Time { return traceNow }))
	tests := []struct {
		name          string
		key           string
		regions       []string
		event         string
		principal     string
		callerAccount string
		region        string
	}{
		{"AssumeRole in the home region", issuedBy(base - 1), inventory.TrailRegions("aws", ""), "AssumeRole", "arn:aws:iam::222222222222:user/ci", "", "us-east-1"},
		{"AssumeRole at a regional endpoint", issuedBy(base), inventory.TrailRegions("eu-west-1", ""), "AssumeRole", "arn:aws:iam::222222222222:user/ci", "", "eu-west-1"},
		{"cross-account AssumeRole", issuedBy(base + 1), inventory.TrailRegions("us-east-1", ""), "AssumeRole", "", "333333333333", "us-east-1"},
		{"AssumeRoot", issuedBy(base + 2), inventory.TrailRegions("aws", ""), "AssumeRoot", "arn:aws:iam::222222222222:user/ci", "", "us-east-1"},
	}
	for _, tt := range tests {
		is, err := NewTracer(cfg, 30).Issuer(context.Background(), tt.key, tt.regions, traceNow)
		require.NoError(t, err, "case %s", tt.name)
		if !assert.NotNil(t, is, "case %s: issuer found", tt.name) {
			continue
		}
		assert.Equal(t, tt.event, is.EventName, "case %s", tt.name)
		assert.Equal(t, tt.principal, is.Principal, "case %s", tt.name)
		assert.Equal(t, tt.callerAccount, is.CallerAccount, "case %s", tt.name)
		assert.Equal(t, tt.region, is.Region, "case %s", tt.name)
		if tt.callerAccount != "" {
			assert.Equal(t, awssim.KeyID("AIDA", tt.callerAccount, 1), is.CallerPrincipalID, "case %s", tt.name)
			assert.Contains(t, is.Note, "names no caller ARN", "case %s: says so", tt.name)
		}
	}

	none, err := NewTracer(cfg, 30).Issuer(context.Background(), awssim.KeyID("ASIA", "222222222222", 7), inventory.TrailRegions("aws", ""), traceNow)
	assert.NoError(t, err, "an unknown key")
	assert.Nil(t, none, "an unknown key has no issuer")
}

// Not found among as many events as the bound allows is not "not found".
func TestTraceIssuerSearchBoundIsReported(t *testing.T) {
	w := traceWorld(0, 0)
	for range 60 {
		w.Accounts[0].Events = append(w.Accounts[0].Events,
			awssim.Event{DaysAgo: 1, User: "ci", Key: 1, Name: "AssumeRole", Source: "sts.amazonaws.com", Region: "us-east-1"})
	}
	_, cfg := simConfig(t, w, "222222222222", awssim.WithClock(func() time.Time { return traceNow }))
	tr := NewTracer(cfg, 30)
	tr.MaxEvents = 50
	is, err := tr.Issuer(context.Background(), awssim.KeyID("ASIA", "222222222222", 7), []string{"us-east-1"}, traceNow)
	assert.Nil(t, is)
	require.ErrorIs(t, err, ErrTruncated)
	assert.Contains(t, err.Error(), "AssumeRole in us-east-1")
}

func TestTraceProfileBudget(t *testing.T) {
	w := traceWorld(120, 0)
	srv, cfg := simConfig(t, w, "222222222222", awssim.WithClock(func() time.Time { return traceNow }))
	key := w.Accounts[0].Users[0].Keys[0].ID
	tests := []struct {
		name       string
		pages      int
		wantPages  int
		wantEvents int
		more       bool
		unread     []string
	}{
		{"budget spent in the first region", 2, 2, 100, true, []string{"eu-west-1"}},
		{"budget enough for all", 5, 4, 121, false, nil},
	}
	for _, tt := range tests {
		before := len(srv.CloudTrailRequests("222222222222", "us-east-1")) + len(srv.CloudTrailRequests("222222222222", "eu-west-1"))
		p, err := NewTracer(cfg, 30).Profile(context.Background(), key, []string{"us-east-1", "eu-west-1"}, traceNow, tt.pages)
		require.NoError(t, err, "case %s", tt.name)
		after := len(srv.CloudTrailRequests("222222222222", "us-east-1")) + len(srv.CloudTrailRequests("222222222222", "eu-west-1"))
		assert.Equal(t, tt.wantPages, p.Pages, "case %s: pages", tt.name)
		assert.Equal(t, tt.wantPages, after-before, "case %s: LookupEvents calls", tt.name)
		assert.Equal(t, tt.wantEvents, p.Events, "case %s: events", tt.name)
		assert.Equal(t, tt.more, p.MoreUnread, "case %s: more unread", tt.name)
		assert.Equal(t, tt.unread, p.UnreadRegions, "case %s: unread regions", tt.name)
		assert.Equal(t, []string{"198.51.100.7", "203.0.113.10"}, p.PublicIPs, "case %s: public IPs", tt.name)
		assert.Equal(t, []string{"aws-cli/2.15.0"}, p.Human, "case %s: human agents", tt.name)
		assert.Equal(t, []string{"terraform/1.7.5"}, p.Workload, "case %s: workload agents", tt.name)
	}
}

func TestProfileRegions(t *testing.T) {
	assert.Equal(t, []string{"eu-west-1", "us-east-1"}, ProfileRegions("aws", "eu-west-1"), "case last used elsewhere")
	assert.Equal(t, []string{"us-east-1"}, ProfileRegions("aws", "us-east-1"), "case last used in the home region")
	assert.Equal(t, []string{"us-east-1"}, ProfileRegions("aws", ""), "case never used")
	assert.Equal(t, []string{"us-gov-west-1"}, ProfileRegions("aws-us-gov", "eu-west-1"), "case another partition's region")
}

func TestTraceProfileKeys(t *testing.T) {
	w := traceWorld(3, 0)
	w.Accounts[0].Users = append(w.Accounts[0].Users, awssim.User{Name: "other", CreatedDaysAgo: 10, Keys: []awssim.Key{{Status: "Active", CreatedDaysAgo: 5}}})
	_, cfg := simConfig(t, w, "222222222222", awssim.WithClock(func() time.Time { return traceNow }))
	ci, other := w.Accounts[0].Users[0].Keys[0].ID, w.Accounts[0].Users[1].Keys[0].ID
	acct := &inventory.Account{ID: "222222222222", Users: []inventory.User{
		{Name: "ci", Keys: []inventory.Key{{ID: ci, Active: true}}},
		{Name: "other", Keys: []inventory.Key{{ID: other, Active: true}}},
	}}
	require.NoError(t, NewTracer(cfg, 30).ProfileKeys(context.Background(), acct, []string{ci}, "aws", traceNow, 1))
	require.NotNil(t, acct.Users[0].Keys[0].Profile, "case asked: profiled")
	assert.Equal(t, 1, acct.Users[0].Keys[0].Profile.Pages, "case asked: one page")
	assert.Nil(t, acct.Users[1].Keys[0].Profile, "case not asked: not profiled")

	w.Accounts[0].Faults.Deny = []string{"cloudtrail:LookupEvents"}
	_, cfg = simConfig(t, w, "222222222222", awssim.WithClock(func() time.Time { return traceNow }))
	acct.Users[0].Keys[0].Profile = nil
	require.NoError(t, NewTracer(cfg, 30).ProfileKeys(context.Background(), acct, []string{ci}, "aws", traceNow, 1), "case denied: not an error")
	assert.Nil(t, acct.Users[0].Keys[0].Profile, "case denied: no profile")
	require.Len(t, acct.Warnings, 1, "case denied: warned")
	assert.Contains(t, acct.Warnings[0], "kill-first ranking without the usage of key AKIA…", "case denied: warning")
}
