package audit

import (
	"context"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"
)

// The pace of a throttled account+service: after a throttle its calls
// start one per interval, first gateFirst apart (20 a second: AWS does not
// publish IAM's rates per account; this is a start, not a limit), twice as
// far apart on each throttle that follows a call gone through at the
// current pace, closer by a twentieth on each success, and unpaced again
// once closer than gateFree.
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
// closed is when the last throttle came; paced, whether a call sent after
// it went through.
type hold struct {
	next, closed time.Time
	interval     time.Duration
	paced        bool
}

func (g *gate) ID() string { return "keyauditThrottleGate" }

func (g *gate) HandleFinalize(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
	h := g.hold(awsmiddleware.GetServiceID(ctx) + "/" + awsmiddleware.GetRegion(ctx))
	if err := g.wait(ctx, h); err != nil {
		return middleware.FinalizeOutput{}, middleware.Metadata{}, err
	}
	sent := time.Now()
	out, md, err := next.HandleFinalize(ctx, in)
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case Classify(err) == ClassThrottled:
		// A throttle slows the pace only if calls went through at this
		// pace since the last one: those sent before it, or while the
		// quota refills, were throttled in the same breath.
		if h.interval == 0 || h.paced && sent.After(h.closed) {
			h.interval = min(max(2*h.interval, gateFirst), maxBackoff)
		}
		h.closed, h.paced = time.Now(), false
		if next := h.closed.Add(h.interval); next.After(h.next) {
			h.next = next
		}
	case err == nil && h.interval > 0 && sent.After(h.closed):
		h.paced = true
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

// wait returns at h's next slot, or when ctx is done.
func (g *gate) wait(ctx context.Context, h *hold) error {
	g.mu.Lock()
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
		return nil
	}
	t := time.NewTimer(slot.Sub(now))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
