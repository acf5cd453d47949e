package audit

import (
	"context"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"
)

// gateBase is how long a throttled account+service first holds its calls
// back; each throttle after the gate reopened doubles it, up to maxBackoff.
// AWS refills its request buckets every second.
const gateBase = 500 * time.Millisecond

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

// hold is one service and region's backoff: no attempt starts before
// until; strikes counts the throttles since calls last went through.
type hold struct {
	until, closed time.Time
	strikes       int
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
		// Attempts sent before the gate last closed were throttled in the
		// same breath: one strike for them all.
		if sent.After(h.closed) {
			h.strikes++
			h.closed = time.Now()
			h.until = h.closed.Add(min(gateBase<<min(h.strikes-1, 6), maxBackoff))
		}
	case err == nil && sent.After(h.closed):
		h.strikes = 0
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

// wait returns when h is open, or ctx is done.
func (g *gate) wait(ctx context.Context, h *hold) error {
	for {
		g.mu.Lock()
		d := time.Until(h.until)
		g.mu.Unlock()
		if d <= 0 {
			return nil
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}
