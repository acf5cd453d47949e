// Package pipeline is the audit pipeline both entrypoints share: settings
// → targets → credentials → collect → inventory → rules → findings →
// report, and the whois and local answers (docs/design.md). The CLI and
// the Lambda only translate flags or an environment and event into
// Settings, and hand the report to internal/deliver.
package pipeline

import (
	"cmp"
	"context"
	"fmt"
	"iter"
	"log/slog"
	"os"
	"slices"
	"time"

	"github.com/keyaudit/keyaudit/audit"
	"github.com/keyaudit/keyaudit/audit/inventory"
	"github.com/keyaudit/keyaudit/report"
	"github.com/keyaudit/keyaudit/rules"
)

// Options configure one run: its settings, the hooks that hear of its
// progress, and what it depends on.
type Options struct {
	Settings
	Hooks
	Deps
	// audited, when set, are the accounts of the audited set or
	// organization (whois and local know them before any inventory); keys
	// found belonging to any other account are foreign. When nil, the
	// accounts of the inventory are the set.
	audited map[string]bool
}

// Hooks hear of a run as it goes; each may be nil.
type Hooks struct {
	// Planned hears how many accounts are audited at once and why, when
	// Concurrency is derived (see audit.Scheduler).
	Planned func(n int, why string)
	// Progress hears of each account as it finishes, with the number of
	// its findings that are not suppressed; one call at a time.
	Progress func(a inventory.Account, findings int)
	// Listed hears how many accounts are listed so far, and whether more
	// may come, as a live run's pages of accounts arrive.
	Listed func(accounts int, more bool)
}

// Deps are what a run reads AWS and logs through; each may be nil.
type Deps struct {
	Logger *slog.Logger
	// Collector reads each account; nil means audit.NewCollector().
	Collector *audit.Collector
	// Connect, when set, lets the Merger name (ListAccessKeys) the keys the
	// ranking's CloudTrail budget covers that no finding had named; Live
	// sets it to the run's own.
	Connect Connect
	// Tracer, when set, traces in CloudTrail who uses each key that a
	// finding says must be replaced or removed (Settings.Trail).
	Tracer TracerFunc
	// RiskTracer, when set, reads in CloudTrail the usage profiles of the
	// keys the kill-first ranking's budget covers (risk.trail_keys keys,
	// risk.trail_pages pages each). When nil, Tracer serves; with neither,
	// the ranking goes without usage and its notes say so.
	RiskTracer TracerFunc
}

// TracerFunc returns a CloudTrail tracer acting in one account.
type TracerFunc func(ctx context.Context, accountID string) (*audit.Tracer, error)

func (o *Options) env(audited map[string]bool) rules.Env {
	if o.audited != nil {
		audited = o.audited
	}
	return rules.Env{Now: o.Now, Config: o.Config, Audited: audited}
}

// collector is the run's collector, naming every key when AllKeyIDs says so.
func (o *Options) collector() *audit.Collector {
	c := o.Collector
	if c == nil {
		c = audit.NewCollector()
	}
	c.AllKeyIDs = c.AllKeyIDs || o.AllKeyIDs
	return c
}

func (o *Options) logger() *slog.Logger {
	if o.Logger != nil {
		return o.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (o *Options) hint(err error) error { return o.Names.Hint(err) }

// Offline audits downloaded credential reports. A file that cannot be read
// or parsed is an input error: the caller exits 2 rather than report an
// audit of half the files as complete.
func Offline(opts Options, files []string) (*report.Report, error) {
	accounts := make([]inventory.Account, 0, len(files))
	seen := map[string]string{}
	for _, name := range files {
		acct, err := parseFile(name)
		if err != nil {
			return nil, err
		}
		if prev, ok := seen[acct.ID]; ok {
			return nil, fmt.Errorf("%s: account %s is already audited from %s: give one credential report per account", name, acct.ID, prev)
		}
		seen[acct.ID] = name
		accounts = append(accounts, *acct)
	}
	r := Build(opts, accounts, nil)
	if len(r.Risk) > 0 {
		r.RiskNotes = []string{"Blast radius and usage not read: credential reports hold neither IAM policies nor CloudTrail events; keys rank by age, last use and findings."}
	}
	return r, nil
}

func parseFile(name string) (*inventory.Account, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("open credential report: %w", err)
	}
	defer f.Close()
	return inventory.ParseCredentialReport(name, f)
}

// Build evaluates the rules over the inventory, ranks its keys without
// reading anything more, and assembles the report.
func Build(opts Options, accounts []inventory.Account, sightings []inventory.Sighting) *report.Report {
	audited := make(map[string]bool, len(accounts))
	for _, a := range accounts {
		audited[a.ID] = true
	}
	env := opts.env(audited)
	res := rules.Evaluate(env, accounts, sightings)
	ranked := rules.Rank(env, opts.Config.Risk, accounts, res.Actions)
	lines := make([]line, len(accounts))
	for i := range accounts {
		lines[i] = lineOf(opts.Now, &accounts[i])
	}
	return assemble(opts, lines, res, ranked, riskNotes(ranked, opts.Config.Risk, "this run read no CloudTrail"))
}

// riskNotes are rules.RiskNotes; when unprofiled says why no key was
// profiled, its usage note is that reason instead. Nothing is noted when
// nothing was ranked.
func riskNotes(ranked []rules.Risk, rc rules.RiskConfig, unprofiled string) []string {
	switch {
	case len(ranked) == 0:
		return nil
	case unprofiled == "":
		return rules.RiskNotes(ranked, rc)
	}
	// Of no ranking, RiskNotes notes the blast radius alone.
	return append(rules.RiskNotes(nil, rc), "Usage: no key was profiled in CloudTrail: "+unprofiled+".")
}

// line is an account's line in the report: its counts, warnings and the
// ages of its active keys (the report's age histogram).
type line struct {
	account  report.Account
	keyAges  []int
	warnings []string
}

func lineOf(now time.Time, a *inventory.Account) line {
	l := line{account: report.Account{ID: a.ID, Name: a.Name, Status: a.Status, Error: a.Error}, warnings: a.Warnings}
	for _, u := range a.Principals() {
		if !u.Root {
			l.account.Users++
		}
		l.account.Keys += len(u.Keys)
		for _, k := range u.Keys {
			if k.Active && !k.CreatedAt.IsZero() {
				l.keyAges = append(l.keyAges, max(0, int(now.Sub(k.CreatedAt)/(24*time.Hour))))
			}
		}
	}
	return l
}

// assemble builds the report from the accounts' lines, what the rules
// found and the kill-first ranking.
func assemble(opts Options, lines []line, res rules.Result, ranked []rules.Risk, notes []string) *report.Report {
	r := &report.Report{
		SchemaVersion: report.SchemaVersion,
		RunID:         opts.RunID,
		GeneratedAt:   opts.Started.UTC(),
		AsOf:          opts.Now.UTC(),
		Demo:          opts.Demo,
		Accounts:      make([]report.Account, 0, len(lines)),
		Findings:      res.Findings,
		Actions:       res.Actions,
		Warnings:      res.Warnings,
		CISVersion:    opts.Config.CISVersion,
		Risk:          ranked,
		RiskNotes:     notes,
	}
	if r.Findings == nil {
		r.Findings = []rules.Finding{}
	}
	if r.Risk == nil {
		r.Risk = []rules.Risk{}
	}
	for _, l := range lines {
		r.Accounts = append(r.Accounts, l.account)
		r.KeyAges = append(r.KeyAges, l.keyAges...)
		for _, w := range l.warnings {
			r.Warnings = append(r.Warnings, fmt.Sprintf("account %s: %s", l.account.ID, w))
		}
	}
	slices.SortStableFunc(r.Accounts, func(a, b report.Account) int { return cmp.Compare(a.ID, b.ID) })
	slices.Sort(r.KeyAges)
	r.Summary = report.Summarize(r.Findings, r.Accounts)
	return r
}

// Connect returns the IAM client that acts in one account.
type Connect func(ctx context.Context, accountID string) (audit.IAM, error)

// AccountResult is one account audited: its inventory and what the rules
// found in it. It is what the batch step of the Distributed Map
// stores, and what a Merger assembles the report from.
type AccountResult struct {
	Account inventory.Account `json:"account"`
	Result  rules.Result      `json:"result"`
}

// Auditor audits one account at a time. Live runs it over many accounts at
// once, and Batch a batch of the Distributed Map the same way.
type Auditor struct {
	opts      Options
	connect   Connect
	collector *audit.Collector
}

// NewAuditor returns an Auditor acting in each account through connect.
func NewAuditor(opts Options, connect Connect) *Auditor {
	return &Auditor{opts: opts, connect: connect, collector: opts.collector()}
}

// Lister lists the accounts to audit a page at a time, an error ending
// the listing (Conn.Targets).
type Lister func(ctx context.Context) iter.Seq2[[]audit.Target, error]

// Live audits the targets through the AWS APIs, each page of them as it is
// listed, at most opts.Concurrency accounts at once, and reports every
// target as ok, error or skipped; a listing cut short leaves the report
// incomplete, saying so. The catalogue runs once per account as it
// finishes (once more only when GetAccessKeyLastUsed or CloudTrail changed
// what it judges), and that result is what the progress and the report
// show.
func Live(ctx context.Context, opts Options, targets Lister, connect Connect) *report.Report {
	if opts.Connect == nil {
		opts.Connect = connect
	}
	merger := NewMerger(opts)
	s, auditOne := schedule(opts, connect, merger.Add)
	listed, listErr := 0, error(nil) // Run returns after the pages
	pages := func(yield func([]audit.Target) bool) {
		if opts.Listed != nil {
			defer func() { opts.Listed(listed, false) }()
		}
		for page, err := range targets(ctx) {
			if err != nil {
				listErr = err
				return
			}
			listed += len(page)
			if opts.Listed != nil {
				opts.Listed(listed, true)
			}
			if !yield(page) {
				return
			}
		}
	}
	s.Run(ctx, pages, auditOne)
	r := merger.Report(ctx)
	if listErr != nil {
		opts.logger().Warn("account listing cut short", "listed", listed, "error", listErr)
		r.SetIncomplete(fmt.Sprintf("listing the accounts stopped after %d: %v; the accounts not listed are not in this report", listed, opts.hint(listErr)))
	}
	return r
}

// Batch audits the targets as Live does, and hands each account's result
// (ok, error or skipped) to done, one call at a time, as it finishes. It
// is the Distributed Map's batch step: done stores the result for merge.
func Batch(ctx context.Context, opts Options, targets []audit.Target, connect Connect, done func(AccountResult)) {
	s, auditOne := schedule(opts, connect, done)
	s.Run(ctx, slices.Values([][]audit.Target{targets}), auditOne)
}

// schedule is the scheduler of a live run's accounts, each audited by an
// Auditor, its result heard by the progress hook and then by done.
func schedule(opts Options, connect Connect, done func(AccountResult)) (*audit.Scheduler[rules.Result], audit.AuditFunc[rules.Result]) {
	s := &audit.Scheduler[rules.Result]{Concurrency: opts.Concurrency, MinTime: cmp.Or(opts.MinTime, audit.AccountTime)}
	s.Planned = func(n int, why string) {
		opts.logger().Info("accounts audited at once", "concurrency", n, "why", why)
		if opts.Planned != nil {
			opts.Planned(n, why)
		}
	}
	s.Done = func(a inventory.Account, res rules.Result) {
		if opts.Progress != nil {
			opts.Progress(a, open(res.Findings))
		}
		done(AccountResult{Account: a, Result: res})
	}
	auditor := NewAuditor(opts, connect)
	return s, func(ctx context.Context, t audit.Target) (inventory.Account, rules.Result) {
		r := auditor.Audit(ctx, t)
		return r.Account, r.Result
	}
}

// Failed is the result of an account that could not be audited, and why.
func Failed(t audit.Target, err error) AccountResult {
	return AccountResult{Account: audit.Failed(t, err)}
}

// Audit audits one account and evaluates the rules over it. Failure is
// recorded in the result (status error), never returned.
func (a *Auditor) Audit(ctx context.Context, t audit.Target) AccountResult {
	log := a.opts.logger()
	start := time.Now()
	client, err := a.connect(ctx, t.AccountID)
	if err != nil {
		log.Info("account not audited", "account", t.AccountID, "error", err)
		return Failed(t, a.opts.hint(err))
	}
	// The blast radius needs nothing from the credential report: its
	// policies are read while IAM generates the report.
	pr, canRead := client.(audit.PolicyReader)
	authCtx, stopAuth := context.WithCancel(ctx)
	var auth *audit.Authorization
	var authErr error
	authRead := make(chan struct{})
	defer func() { stopAuth(); <-authRead }() // an account that fails leaves no read behind
	go func() {
		defer close(authRead)
		if canRead {
			auth, authErr = audit.ReadAuthorization(authCtx, pr)
		}
	}()
	acct, err := a.collector.Collect(ctx, client, t.AccountID)
	if err != nil {
		log.Info("account not audited", "account", t.AccountID, "error", err)
		return Failed(t, a.opts.hint(err))
	}
	acct.Name = t.Name
	env := a.opts.env(nil)
	res := rules.Evaluate(env, []inventory.Account{*acct}, nil)
	// The report names key slots: name the keys the findings are about,
	// and judge again by their real creation dates and status.
	if users := principals(res.Findings); len(users) > 0 {
		if err := a.collector.ListKeys(ctx, client, acct, users); err != nil {
			log.Info("account not audited", "account", t.AccountID, "error", err)
			return Failed(t, a.opts.hint(err))
		}
		res = rules.Evaluate(env, []inventory.Account{*acct}, nil)
	}
	changed := false
	// Confirm, with GetAccessKeyLastUsed, the keys that the (possibly
	// hours old) credential report would have us accuse of disuse.
	if ids := rules.KeysToConfirm(res.Findings)[acct.ID]; len(ids) > 0 {
		if err := a.collector.Confirm(ctx, client, acct, ids); err != nil {
			acct.Warnings = append(acct.Warnings, fmt.Sprintf("last use not confirmed, judged by the credential report: %v", a.opts.hint(err)))
		}
		changed = true
	}
	// The kill-first ranking's blast radius; the audit stands without it.
	<-authRead
	switch {
	case !canRead:
		acct.Warnings = append(acct.Warnings, "kill-first ranking without blast radius: this IAM client cannot read policies")
	case authErr != nil:
		acct.Warnings = append(acct.Warnings, fmt.Sprintf("kill-first ranking without blast radius: %v", a.opts.hint(authErr)))
	default:
		a.collector.Classify(ctx, pr, acct, auth)
	}
	if a.opts.Tracer != nil {
		traced, err := trace(ctx, a.opts, acct, res.Actions)
		if err != nil {
			acct.Warnings = append(acct.Warnings, fmt.Sprintf("key use not traced in CloudTrail: %v", a.opts.hint(err)))
		}
		changed = changed || traced
	}
	if changed {
		res = rules.Evaluate(env, []inventory.Account{*acct}, nil)
	}
	log.Info("account audited", "account", t.AccountID, "users", len(acct.Users), "took", time.Since(start).Round(time.Millisecond))
	return AccountResult{Account: *acct, Result: res}
}

// principals are the principals the findings are about, each once.
func principals(findings []rules.Finding) []string {
	var out []string
	for i, f := range findings {
		if i == 0 || f.Principal != findings[i-1].Principal {
			out = append(out, f.Principal)
		}
	}
	return out
}

// open counts the findings not suppressed.
func open(findings []rules.Finding) int {
	n := 0
	for _, f := range findings {
		if f.Suppressed == nil {
			n++
		}
	}
	return n
}

// NewID names a run by its start time, which sorts and reads well in S3
// keys and logs.
func NewID(started time.Time) string {
	return started.UTC().Format("20060102T150405Z")
}

// trace reads CloudTrail for every key whose action replaces or retires it,
// so its plan can name the applications to move. It reports whether it
// traced any key.
func trace(ctx context.Context, opts Options, acct *inventory.Account, actions []rules.Action) (bool, error) {
	tracer, err := opts.Tracer(ctx, acct.ID)
	if err != nil {
		return false, err
	}
	traced := false
	for _, u := range acct.Principals() {
		for i := range u.Keys {
			k := &u.Keys[i]
			moves := slices.ContainsFunc(actions, func(a rules.Action) bool { return a.AccessKeyID == k.ID && a.MovesApplications() })
			if k.ID == "" || k.Usage != nil || !moves {
				continue
			}
			if k.Usage, err = tracer.Usage(ctx, k.ID, inventory.TrailRegions(tracer.Region(), k.LastUsed.Region), opts.Now); err != nil {
				return traced, err
			}
			traced = true
		}
	}
	return traced, nil
}
