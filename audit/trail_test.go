package audit

import (
	"context"
	"testing"
	"time"

	"github.com/keyaudit/keyaudit/internal/awssim"
)

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
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	now := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	w := traceWorld(120, 0.5)
	srv := awssim.NewServer(w, awssim.WithClock(func() time.Time { return now }))
	defer srv.Close()
	cfg, err := srv.AWSConfig(context.Background(), "222222222222", "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Retryer = Retryer
	key := w.Accounts[0].Users[0].Keys[0].ID

	tr := NewTracer(cfg, 30)
	u, err := tr.Usage(context.Background(), key, []string{"us-east-1"}, now)
	if err != nil {
		t.Fatal(err)
	}
	// 120 uses and the AssumeRole call, within 30 days; the 40-day-old event is outside.
	if u.Events != 121 || u.Truncated {
		t.Errorf("events = %d (truncated %v), want 121 across pages", u.Events, u.Truncated)
	}
	if len(u.SourceIPs) != 2 || u.SourceIPs[0] != "198.51.100.7" || len(u.UserAgents) != 2 || u.Services[0] != "s3.amazonaws.com" {
		t.Errorf("usage = %+v", u)
	}
	if !u.LastSeen.After(u.FirstSeen) {
		t.Errorf("first %s, last %s", u.FirstSeen, u.LastSeen)
	}

	// Every request, retries of throttled ones included, kept to the
	// documented 2 per second per account and region.
	times := srv.CloudTrailRequests("222222222222", "us-east-1")
	if len(times) < 4 {
		t.Fatalf("%d requests: paging and throttling were not exercised", len(times))
	}
	// The limiter spaces requests 500 ms apart; allow for scheduling jitter
	// on a loaded machine, but not for a second request sent at once.
	for i := 1; i < len(times); i++ {
		if gap := times[i].Sub(times[i-1]); gap < 350*time.Millisecond {
			t.Errorf("requests %d and %d came %s apart: over 2 per second", i-1, i, gap)
		}
	}
	if rate := float64(len(times)-1) / times[len(times)-1].Sub(times[0]).Seconds(); rate > 2.1 {
		t.Errorf("%.2f requests per second, over CloudTrail's 2", rate)
	}

	bounded := NewTracer(cfg, 30)
	bounded.MaxEvents = 50
	if u, err := bounded.Usage(context.Background(), key, []string{"us-east-1"}, now); err != nil || !u.Truncated || u.Events > 100 {
		t.Errorf("bounded usage = %+v, %v; want truncated", u, err)
	}
}

func TestTraceIssuerOfTemporaryKey(t *testing.T) {
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	now := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	w := traceWorld(3, 0)
	srv := awssim.NewServer(w, awssim.WithClock(func() time.Time { return now }))
	defer srv.Close()
	cfg, _ := srv.AWSConfig(context.Background(), "222222222222", "us-east-1")
	issued := awssim.KeyID("ASIA", "222222222222", 1<<38+4) // the AssumeRole event, index 4
	is, err := NewTracer(cfg, 30).Issuer(context.Background(), issued, []string{"us-east-1"}, now)
	if err != nil {
		t.Fatal(err)
	}
	if is == nil || is.EventName != "AssumeRole" || is.Principal != "arn:aws:iam::222222222222:user/ci" || is.SourceIP != "203.0.113.10" {
		t.Errorf("issuer = %+v", is)
	}
	if none, err := NewTracer(cfg, 30).Issuer(context.Background(), awssim.KeyID("ASIA", "222222222222", 7), []string{"us-east-1"}, now); err != nil || none != nil {
		t.Errorf("an unknown key has issuer %+v, %v", none, err)
	}
}
