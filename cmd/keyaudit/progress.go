package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/keyaudit/keyaudit/audit/inventory"
)

// progress draws one status line on a terminal's standard error: accounts
// done of total, failures, findings so far, elapsed time. It draws nothing
// when standard error is not a terminal (or a dumb one) or with --quiet.
type progress struct {
	w       io.Writer
	on      bool
	total   int
	start   time.Time
	mu      sync.Mutex
	count   int
	failed  int
	finding int
}

func newProgress(e *env, total int, quiet bool) *progress {
	p := &progress{w: e.stderr, on: !quiet && isTerminal(e.stderr) && e.getenv("TERM") != "dumb", total: total, start: time.Now()}
	p.draw()
	return p
}

// done counts one finished account and its findings (not suppressed).
func (p *progress) done(a inventory.Account, findings int) {
	if !p.on {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.count++
	if a.Status != inventory.StatusOK {
		p.failed++
	}
	p.finding += findings
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

// note writes line above the bar, once, and draws the bar again.
func (p *progress) note(line string) {
	if !p.on {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "\r\033[K%s\n", line)
	p.drawLocked()
}

// finish clears the line so the report starts on a clean screen.
func (p *progress) finish() {
	if p.on {
		fmt.Fprint(p.w, "\r\033[K")
	}
}
