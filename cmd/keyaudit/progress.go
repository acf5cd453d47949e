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
// done of those listed (with a + while the organization is still being
// listed), failures, findings so far, elapsed time. It draws nothing
// when standard error is not a terminal (or a dumb one) or with --quiet.
type progress struct {
	w       io.Writer
	on      bool
	verbose bool // --verbose: say how many accounts are audited at once
	total   int
	more    bool   // more accounts may be listed
	planned bool   // a plan was noted
	pending string // the latest plan, held back while accounts are listed
	start   time.Time
	mu      sync.Mutex
	count   int
	failed  int
	finding int
}

func newProgress(e *env, quiet, verbose bool) *progress {
	p := &progress{w: e.stderr, on: !quiet && isTerminal(e.stderr) && e.getenv("TERM") != "dumb", verbose: verbose, more: true, start: time.Now()}
	p.draw()
	return p
}

// listed sets the accounts listed so far, and whether more may come.
func (p *progress) listed(accounts int, more bool) {
	if !p.on {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.total, p.more = accounts, more
	if !more && p.pending != "" {
		p.noteLocked(p.pending)
		p.pending = ""
	}
	p.drawLocked()
}

// plan notes, with --verbose, how many accounts are audited at once when
// that was derived and is more than one: the first plan, then, while the
// organization is listed and each page raises it, only the latest once the
// listing is complete. Why that many is in the log (--verbose), in the
// scheduler's terms; the line says it plainly.
func (p *progress) plan(n int, _ string) {
	if !p.on || !p.verbose || n <= 1 {
		return
	}
	line := fmt.Sprintf("Auditing up to %d accounts at a time (--concurrency sets how many).", n)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.planned && p.more {
		p.pending = line
		return
	}
	p.planned = true
	p.noteLocked(line)
	p.drawLocked()
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
	if p.more && p.total == 0 {
		fmt.Fprintf(p.w, "\r\033[Klisting the accounts · %s", time.Since(p.start).Round(time.Second))
		return
	}
	filled := width * p.count / max(1, p.total)
	bar := strings.Repeat("█", filled) + strings.Repeat("░", width-filled)
	plus := ""
	if p.more {
		plus = "+"
	}
	fmt.Fprintf(p.w, "\r\033[K%s %d/%d%s accounts · %d failed · %d findings · %s",
		bar, p.count, p.total, plus, p.failed, p.finding, time.Since(p.start).Round(time.Second))
}

// noteLocked writes line above the bar, once (p.mu held).
func (p *progress) noteLocked(line string) {
	fmt.Fprintf(p.w, "\r\033[K%s\n", line)
}

// finish clears the line so the report starts on a clean screen.
func (p *progress) finish() {
	if p.on {
		fmt.Fprint(p.w, "\r\033[K")
	}
}
