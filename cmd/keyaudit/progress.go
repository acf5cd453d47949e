package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/keyaudit/keyaudit/audit/inventory"
	"github.com/keyaudit/keyaudit/internal/pipeline"
	"github.com/keyaudit/keyaudit/rules"
)

// progress draws one status line on a terminal's standard error: accounts
// done of total, failures, findings so far, elapsed time. It draws nothing
// when standard error is not a terminal or with --quiet.
type progress struct {
	w       io.Writer
	on      bool
	total   int
	env     rules.Env
	start   time.Time
	mu      sync.Mutex
	count   int
	failed  int
	finding int
}

func newProgress(w io.Writer, total int, quiet bool, opts pipeline.Options) *progress {
	p := &progress{w: w, on: !quiet && isTerminal(w), total: total, env: rules.Env{Now: opts.Now, Config: opts.Config}, start: time.Now()}
	p.draw()
	return p
}

func (p *progress) done(a inventory.Account) {
	if !p.on {
		return
	}
	n := 0
	for _, f := range rules.Evaluate(p.env, []inventory.Account{a}, nil).Findings {
		if f.Suppressed == nil {
			n++
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.count++
	if a.Status != inventory.StatusOK {
		p.failed++
	}
	p.finding += n
	p.drawLocked()
}

func (p *progress) draw() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.drawLocked()
}

func (p *progress) drawLocked() {
	if !p.on {
		return
	}
	const width = 24
	filled := width * p.count / max(1, p.total)
	bar := strings.Repeat("█", filled) + strings.Repeat("░", width-filled)
	fmt.Fprintf(p.w, "\r\033[K%s %d/%d accounts · %d failed · %d findings · %s",
		bar, p.count, p.total, p.failed, p.finding, time.Since(p.start).Round(time.Second))
}

// finish clears the line so the report starts on a clean screen.
func (p *progress) finish() {
	if p.on {
		fmt.Fprint(p.w, "\r\033[K")
	}
}
