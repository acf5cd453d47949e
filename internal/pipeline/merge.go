package pipeline

import (
	"cmp"
	"container/heap"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/keyaudit/keyaudit/audit"
	"github.com/keyaudit/keyaudit/audit/inventory"
	"github.com/keyaudit/keyaudit/report"
	"github.com/keyaudit/keyaudit/rules"
	"golang.org/x/sync/errgroup"
)

// Merger assembles a live run's report from its accounts' results, added
// in any order as they finish. Of each account it keeps what the report
// shows (its line, findings, actions and ranked keys), and its inventory
// only while one of its keys may be among the ranking's top keys that
// CloudTrail is read for: memory grows with the findings, not with the
// organization's users.
type Merger struct {
	opts      Options
	env       rules.Env
	collector *audit.Collector // names the top keys no finding named

	mu   sync.Mutex
	recs []*record
	kept []*record // records still holding their inventory
	// top holds the best IAM users' keys seen so far, at most reach of
	// them, in the ranking's order (score, then account): an inventory is
	// kept while its best key is not behind the last of them, once top is
	// full. Ties in score go by account, as rules.Order breaks them, so a
	// tie does not keep every account that shares the score.
	top   standings
	reach int
}

type record struct {
	acct inventory.Account // Users and Root dropped once out of the ranking's reach
	line *line             // set when the inventory is dropped
	res  rules.Result
	risk []rules.Risk
	best int // the best score of an IAM user's key; -1 when none
}

// standing is a key's place in the ranking's order, as far as the Merger
// needs it: within one account, the account keeps or drops all its keys.
type standing struct {
	score   int
	account string
}

// behind reports whether a comes after b in the ranking (rules.Order).
func (a standing) behind(b standing) bool {
	return a.score < b.score || a.score == b.score && a.account > b.account
}

// NewMerger returns an empty Merger for a run with these options.
func NewMerger(opts Options) *Merger {
	m := &Merger{opts: opts, env: opts.env(nil), collector: opts.collector()}
	if tracer(opts) != nil {
		// Twice the budget: naming keys may reorder the top a little.
		m.reach = 2 * opts.Config.Risk.TrailKeys
	}
	return m
}

func tracer(opts Options) TracerFunc {
	if opts.RiskTracer != nil {
		return opts.RiskTracer
	}
	return opts.Tracer
}

// Add takes one account's result; it is safe for concurrent use.
func (m *Merger) Add(r AccountResult) {
	rec := &record{acct: r.Account, best: -1}
	if r.Account.Status == inventory.StatusOK {
		rec.res = r.Result
		rec.risk = rules.Rank(m.env, m.opts.Config.Risk, []inventory.Account{r.Account}, r.Result.Actions)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.recs = append(m.recs, rec)
	for _, k := range rec.risk {
		if k.Principal == inventory.RootName {
			continue
		}
		rec.best = max(rec.best, k.Score)
		st := standing{k.Score, k.AccountID}
		if m.reach > 0 && len(m.top) < m.reach {
			heap.Push(&m.top, st)
		} else if m.reach > 0 && m.top[0].behind(st) {
			m.top[0] = st
			heap.Fix(&m.top, 0)
		}
	}
	m.kept = append(m.kept, rec)
	kept := m.kept[:0]
	for _, k := range m.kept {
		if m.inReach(k) {
			kept = append(kept, k)
		} else {
			m.drop(k)
		}
	}
	clear(m.kept[len(kept):])
	m.kept = kept
}

func (m *Merger) inReach(r *record) bool {
	return r.best >= 0 && m.reach > 0 && (len(m.top) < m.reach || !(standing{r.best, r.acct.ID}).behind(m.top[0]))
}

// drop keeps of an account's inventory its line in the report.
func (m *Merger) drop(r *record) {
	l := lineOf(m.opts.Now, &r.acct)
	r.line = &l
	r.acct.Users, r.acct.Root = nil, nil
}

// Report ranks the keys across every account, reading CloudTrail within
// its budget for the top ones, and assembles the report: accounts and
// findings in account order. It is called once: the results are handed
// over to the report as it is assembled.
func (m *Merger) Report(ctx context.Context) *report.Report {
	m.mu.Lock()
	defer m.mu.Unlock()
	byAccount := func(a, b *record) int { return cmp.Compare(a.acct.ID, b.acct.ID) }
	slices.SortStableFunc(m.recs, byAccount)
	slices.SortStableFunc(m.kept, byAccount)
	ranked, notes := m.rank(ctx)
	// One copy of the findings and actions at a time: each account's are
	// let go as they join the report's, which is sized once.
	var findings, actions int
	for _, r := range m.recs {
		findings += len(r.res.Findings)
		actions += len(r.res.Actions)
	}
	merged := rules.Result{Findings: make([]rules.Finding, 0, findings), Actions: make([]rules.Action, 0, actions)}
	seen := map[string]bool{}
	lines := make([]line, len(m.recs))
	for i, r := range m.recs {
		// Evaluate sorts by account first, so account order keeps the report's order.
		merged.Findings = append(merged.Findings, r.res.Findings...)
		merged.Actions = append(merged.Actions, r.res.Actions...)
		for _, w := range r.res.Warnings {
			// Warnings about the configuration (an expired suppression)
			// come with every account's result: report each once.
			if !seen[w] {
				seen[w] = true
				merged.Warnings = append(merged.Warnings, w)
			}
		}
		r.res = rules.Result{}
		if r.line == nil {
			m.drop(r)
		}
		lines[i] = *r.line
	}
	return assemble(m.opts, lines, merged, ranked, notes)
}

// profileBudget bounds the time the ranking spends reading CloudTrail.
const profileBudget = 2 * time.Minute

// rank orders every active long-term key by risk. The CloudTrail budget
// goes to the top risk.trail_keys keys of a ranking without usage: the
// keys no finding named are named (ListAccessKeys), their profiles read,
// as many accounts at once as the audit ran, and the keys ranked again. A
// profile not read is an account warning.
func (m *Merger) rank(ctx context.Context) ([]rules.Risk, []string) {
	rc := m.opts.Config.Risk
	tracers := tracer(m.opts)
	if tracers == nil || ctx.Err() != nil {
		why := "this run read no CloudTrail"
		if tracers != nil {
			why = "the run stopped before CloudTrail was read"
		}
		ranked := m.ranked(m.recs, true)
		return ranked, riskNotes(ranked, rc, why)
	}
	// Profiles enrich the ranking; they must not hold the report back when
	// CloudTrail is slow or failing (each call retries 5xx patiently).
	ctx, cancel := context.WithTimeout(ctx, profileBudget)
	defer cancel()
	// Which keys to name and profile is read off the top of the ranking:
	// the kept inventories hold every key within reach of it, so they alone
	// are ranked until the end.
	if unnamed := unnamedTop(m.ranked(m.kept, false), rc.TrailKeys); len(unnamed) > 0 && m.opts.Connect != nil {
		// CloudTrail is read by key ID: name the top keys no finding named.
		m.forKept(unnamed, func(acct *inventory.Account, users []string) error {
			client, err := m.opts.Connect(ctx, acct.ID)
			if err == nil {
				err = m.collector.ListKeys(ctx, client, acct, users)
			}
			return err
		})
	}
	m.forKept(rules.ProfileCandidates(m.ranked(m.kept, false), rc.TrailKeys), func(acct *inventory.Account, ids []string) error {
		t, err := tracers(ctx, acct.ID)
		if err == nil {
			err = t.ProfileKeys(ctx, acct, ids, t.Region(), m.opts.Now, rc.TrailPages)
		}
		return err
	})
	ranked := m.ranked(m.recs, true)
	return ranked, riskNotes(ranked, rc, "")
}

// ranked ranks the keys of recs, those of kept inventories again. final
// hands each record's keys over to the ranking, the report's: one copy of
// a ranking that holds every key in the organization.
func (m *Merger) ranked(recs []*record, final bool) []rules.Risk {
	n := 0
	for _, r := range recs {
		if r.line == nil {
			r.risk = rules.Rank(m.env, m.opts.Config.Risk, []inventory.Account{r.acct}, r.res.Actions)
		}
		n += len(r.risk)
	}
	out := make([]rules.Risk, 0, n)
	for _, r := range recs {
		out = append(out, r.risk...)
		if final {
			r.risk = nil
		}
	}
	rules.Order(out)
	return out
}

// forKept runs fn for each kept account that work names, as many accounts
// at once as the audit ran; an error is that account's warning: the
// ranking goes on without what it could not read. Work for an account
// whose inventory was dropped is not done: its keys were out of reach.
func (m *Merger) forKept(work map[string][]string, fn func(*inventory.Account, []string) error) {
	var g errgroup.Group
	limit := m.opts.Concurrency
	if limit == 0 { // derived, for the accounts with work
		limit, _ = audit.AutoConcurrency(context.Background(), len(work), 0)
	}
	g.SetLimit(limit)
	for _, r := range m.kept {
		acct := &r.acct
		if items := work[acct.ID]; len(items) > 0 {
			g.Go(func() error {
				if err := fn(acct, items); err != nil {
					acct.Warnings = append(acct.Warnings, fmt.Sprintf("kill-first ranking without usage profiles: %v", m.opts.hint(err)))
				}
				return nil
			})
		}
	}
	_ = g.Wait() // every error is an account warning
}

// unnamedTop returns, by account, the IAM users of the top k ranked keys
// whose key IDs are not known. Root keys have no ID to list.
func unnamedTop(ranked []rules.Risk, k int) map[string][]string {
	out := map[string][]string{}
	n := 0
	for _, r := range ranked {
		if n >= k {
			break
		}
		if r.Principal == inventory.RootName {
			continue
		}
		n++
		if r.AccessKeyID == "" && !slices.Contains(out[r.AccountID], r.Principal) {
			out[r.AccountID] = append(out[r.AccountID], r.Principal)
		}
	}
	return out
}

// standings is a heap of keys' standings, the last in the ranking first.
type standings []standing

func (s standings) Len() int           { return len(s) }
func (s standings) Less(i, j int) bool { return s[i].behind(s[j]) }
func (s standings) Swap(i, j int)      { s[i], s[j] = s[j], s[i] }
func (s *standings) Push(x any)        { *s = append(*s, x.(standing)) }
func (s *standings) Pop() any {
	old := *s
	x := old[len(old)-1]
	*s = old[:len(old)-1]
	return x
}

// Check says why r, read from where the result of account id is stored,
// cannot stand as that account's result: it names no account or another
// one, has no status a report knows, or holds another account's findings
// or actions. Merged as it is, it would list an account twice or with no
// ID, and drop the real one (docs/design.md, The Distributed Map).
func (r AccountResult) Check(id string) error {
	a := r.Account
	switch {
	case a.ID == "":
		return errors.New("result unreadable: it names no account")
	case a.ID != id:
		return fmt.Errorf("result of account %s stored under %s", shownID(a.ID), id)
	case a.Status != inventory.StatusOK && a.Status != inventory.StatusError && a.Status != inventory.StatusSkipped:
		return errors.New("result unreadable: its account has no status (ok, error or skipped)")
	}
	for _, f := range r.Result.Findings {
		if f.AccountID != id {
			return fmt.Errorf("result unreadable: it holds findings of account %s", shownID(f.AccountID))
		}
	}
	for _, act := range r.Result.Actions {
		if act.AccountID != id {
			return fmt.Errorf("result unreadable: it holds actions of account %s", shownID(act.AccountID))
		}
	}
	return nil
}

// shownID is an account ID read from a stored file, as an error may show
// it: what is not an account ID is not echoed.
func shownID(id string) string {
	if inventory.ValidAccountID(id) {
		return id
	}
	return "(not an account ID)"
}
