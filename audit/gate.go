package audit

import (
	"context"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"
)

// The pace of a throttled account+service: after a throttle its calls,
// retries included, start one per interval: first gateFirst apart (20 a
// second; AWS does not publish IAM's rates per account, this is a start,
// not a limit), twice as far apart on each throttle of an attempt made at
// the current pace (up to maxBackoff, so a call throttled again and again
// is as patient as the retryer alone), closer by a twentieth on each
// success, and unpaced again once closer than gateFree.
const (
	gateFirst = 50 * time.Millisecond
	gateFree  = 5 * time.Millisecond
)

// WithThrottleGate returns a copy of cfg whose clients share one throttle
// gate per service and region: when a call is throttled, the other calls of
// that service and region made with cfg (one account's credentials) wait
// too, instead of each spending its own retries against the same exhausted
// quota. Other accounts, with their own configs and quotas, go on.
func WithThrottleGate(cfg aws.Config) aws.Config {
	g := &gate{by: map[string]*hold{}}
	cfg = cfg.Copy()
	if retryer := cfg.Retryer; retryer != nil {
		cfg.Retryer = func() aws.Retryer { return gatedRetryer{retryer()} }
	}
	cfg.APIOptions = append(cfg.APIOptions[:len(cfg.APIOptions):len(cfg.APIOptions)], func(st *middleware.Stack) error {
		// After the retry middleware: every attempt, retries included, passes the gate.
		return st.Finalize.Insert(g, "Retry", middleware.After)
	})
	return cfg
}

// gate holds back the calls of one account, by service and region.
type gate struct {
	mu sync.Mutex
	by map[string]*hold
}

// hold is one service and region's pace: no attempt starts before next;
// while interval is not zero, each attempt moves next on by interval.
// throttles counts the throttles heard of: an attempt booked at the count
// it ends at was sent at the current pace. A count, not the time of the
// last throttle: under the gate's lock it orders a booking and a throttle
// exactly, where two readings of a clock can be equal.
type hold struct {
	next      time.Time
	interval  time.Duration
	throttles int
}

func (g *gate) ID() string { return "keyauditThrottleGate" }

func (g *gate) HandleFinalize(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
	h := g.hold(awsmiddleware.GetServiceID(ctx) + "/" + awsmiddleware.GetRegion(ctx))
	booked, err := g.wait(ctx, h)
	if err != nil {
		return middleware.FinalizeOutput{}, middleware.Metadata{}, err
	}
	out, md, err := next.HandleFinalize(ctx, in)
	g.mu.Lock()
	defer g.mu.Unlock()
	// Attempts booked before the last throttle was heard of were sent at
	// the old pace: their outcome says nothing of the new one.
	current := booked == h.throttles
	switch {
	case Classify(err) == ClassThrottled:
		if h.interval == 0 || current {
			h.interval = min(max(2*h.interval, gateFirst), maxBackoff)
		}
		h.throttles++
		if next := time.Now().Add(h.interval); next.After(h.next) {
			h.next = next
		}
	case err == nil && h.interval > 0 && current:
		if h.interval -= h.interval / 20; h.interval < gateFree {
			h.interval = 0
		}
	}
	return out, md, err
}

func (g *gate) hold(key string) *hold {
	g.mu.Lock()
	defer g.mu.Unlock()
	h, ok := g.by[key]
	if !ok {
		h = &hold{}
		g.by[key] = h
	}
	return h
}

// wait books h's next slot and returns there, with the throttles heard of
// at booking, or when ctx is done.
func (g *gate) wait(ctx context.Context, h *hold) (int, error) {
	g.mu.Lock()
	booked := h.throttles
	now := time.Now()
	slot := now
	if h.next.After(now) {
		slot = h.next
	}
	if h.interval > 0 {
		h.next = slot.Add(h.interval)
	}
	g.mu.Unlock()
	if !slot.After(now) {
		return booked, nil
	}
	t := time.NewTimer(slot.Sub(now))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return booked, ctx.Err()
	case <-t.C:
		return booked, nil
	}
}

// gatedRetryer leaves the wait before retrying a throttled call to the
// gate, which paces it with the account's other calls of that service: the
// retryer's own backoff would idle the call for seconds after the quota has
// refilled. It still counts the attempts and tells its notice; the
// notice hears of the backoff the call would have waited alone.
type gatedRetryer struct{ aws.Retryer }

func (r gatedRetryer) RetryDelay(attempt int, err error) (time.Duration, error) {
	wait, err2 := r.Retryer.RetryDelay(attempt, err)
	if err2 == nil && Classify(err) == ClassThrottled {
		return 0, nil
	}
	return wait, err2
}
