package deliver

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/slack-go/slack"

	"github.com/keyaudit/keyaudit/audit/inventory"
	"github.com/keyaudit/keyaudit/internal/event"
	"github.com/keyaudit/keyaudit/report"
	"github.com/keyaudit/keyaudit/rules"
)

// The channels an event is delivered to, as its record names them.
const (
	ChannelSlack       = "slack"
	ChannelSecurityHub = "security_hub"
)

// EventRecord is PREFIX/events/YYYY/MM/DD/ID.json: the one delivery of an
// event (docs/design.md, real time). It is created before anything is
// sent, only if it does not exist yet, so that a duplicate of the event
// posts nothing; it is rewritten once the delivery ends, with what went.
type EventRecord struct {
	Event event.Event `json:"event"`
	// Claimed is when a delivery started; Sent the channels it delivered to.
	Claimed time.Time `json:"claimed"`
	Sent    []string  `json:"sent,omitempty"`
	// Done: every channel was delivered to. Failed says why not: a retry
	// of the event takes the delivery over and sends what is missing.
	Done   bool   `json:"done"`
	Failed string `json:"failed,omitempty"`
	// Rank is the key's place in the organization, as Slack said it.
	Rank string `json:"rank,omitempty"`
	// Report is what was judged: the one principal's findings and plans.
	Report *report.Report `json:"report,omitempty"`
}

// EventDelivery is where the judgement of one event goes: its record, and
// the last nightly ranking, in Store; Slack and Security Hub when set.
// The nightly run's latest.json, announced.json and securityhub.json are
// only ever read, so that the next night's diff stays true.
type EventDelivery struct {
	Store       *S3Sink
	SecurityHub *SecurityHub
	Slack       *Slack
	// Lease is how long a delivery that never ended (its invocation
	// stopped) holds the event before a retry takes it over (default 15
	// minutes, beyond a Lambda's longest invocation).
	Lease time.Duration
	// RankTime bounds the read of the last nightly ranking (default 10 s):
	// the rank is one line of the message, and a large organization's
	// latest.json takes long to read (docs/event.md); past it the key is
	// sent not ranked rather than not at all.
	RankTime time.Duration
}

// EventOutcome is what one event's delivery did.
type EventOutcome struct {
	// Duplicate: the event was delivered already, or is being delivered
	// by another invocation; nothing was sent.
	Duplicate bool
	Record    string // the record's s3:// URL
	Sent      []string
	Rank      string
	// Warnings are what did not stop the delivery: an unreadable ranking.
	Warnings []string
}

// Deliver sends the judgement r of ev, now: it claims the event's record
// (a duplicate ends there), reads the key's rank from the last nightly
// ranking, then tells Slack and imports into Security Hub, side by side,
// and records what went. An error means the event should be delivered
// again: what went is recorded, and only the rest is sent next time.
func (d *EventDelivery) Deliver(ctx context.Context, ev event.Event, r *report.Report, now time.Time) (EventOutcome, error) {
	key := d.Store.eventKey(ev)
	out := EventOutcome{Record: "s3://" + d.Store.Bucket + "/" + key}
	rec, dup, err := d.Store.claim(ctx, key, &EventRecord{Event: ev, Claimed: now, Report: r}, now, cmp.Or(d.Lease, 15*time.Minute))
	if err != nil || dup {
		out.Duplicate = dup
		return out, err
	}
	focus := focusOn(ev, r)
	rankCtx, cancel := context.WithTimeout(ctx, cmp.Or(d.RankTime, 10*time.Second))
	nightly, err := d.Store.Ranking(rankCtx, ev.Account, focus)
	cancel()
	if err != nil {
		out.Warnings = append(out.Warnings, fmt.Sprintf("last nightly ranking unreadable, the key is not ranked: %v", err))
	}
	report.CarryOver(nightly, r)
	out.Rank = rankText(nightly, r, focus)

	var mu sync.Mutex
	var wg sync.WaitGroup
	var errs []error
	sent := slices.Clone(rec.Sent) // what a failed delivery sent already
	send := func(channel string, f func() error) {
		if slices.Contains(sent, channel) {
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := f()
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			rec.Sent = append(rec.Sent, channel)
		}()
	}
	if d.Slack != nil {
		send(ChannelSlack, func() error {
			return d.Slack.post(ctx, eventHeadline(ev, r, focus), eventBlocks(ev, r, focus, out.Rank, out.Record))
		})
	}
	if d.SecurityHub != nil {
		send(ChannelSecurityHub, func() error { return d.SecurityHub.importEvent(ctx, r, focus) })
	}
	wg.Wait()
	slices.Sort(rec.Sent)
	out.Sent = rec.Sent
	failed := errors.Join(errs...)
	rec.Done, rec.Rank, rec.Report, rec.Failed = failed == nil, out.Rank, r, ""
	if failed != nil {
		rec.Failed = failed.Error()
	}
	if err := d.Store.putEvent(ctx, key, rec, false); err != nil {
		// The claim stays: a retry takes it over once its lease ends.
		failed = errors.Join(failed, fmt.Errorf("record the delivery of event %s: %w", ev.ID, err))
	}
	return out, failed
}

// eventKey is the event's record: PREFIX/events/YYYY/MM/DD/ID.json, by
// when it happened, so that every copy of it names the same object.
func (s *S3Sink) eventKey(ev event.Event) string {
	return path.Join(s.Prefix, "events", ev.Time.UTC().Format("2006/01/02"), url.PathEscape(ev.ID)+".json")
}

// claim creates the record at key with rec unless it exists
// (If-None-Match: *). An existing record is a duplicate, unless its
// delivery failed or has held it longer than lease: then it is taken over
// and returned, with what it sent already.
func (s *S3Sink) claim(ctx context.Context, key string, rec *EventRecord, now time.Time, lease time.Duration) (*EventRecord, bool, error) {
	err := s.putEvent(ctx, key, rec, true)
	if err == nil || !preconditionFailed(err) {
		return rec, false, err
	}
	var was EventRecord
	if err := s.get(ctx, strings.TrimPrefix(key, s.Prefix+"/"), func(rd io.Reader) error { return json.NewDecoder(rd).Decode(&was) }); err != nil {
		return nil, false, err
	}
	if was.Done || (was.Failed == "" && now.Sub(was.Claimed) < lease) {
		return nil, true, nil
	}
	rec.Sent = was.Sent
	return rec, false, s.putEvent(ctx, key, rec, false)
}

// putEvent writes rec at key; onlyNew fails with 412 when it exists.
func (s *S3Sink) putEvent(ctx context.Context, key string, rec *EventRecord, onlyNew bool) error {
	data, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode the record of event %s: %w", rec.Event.ID, err)
	}
	in := &s3.PutObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String(key), Body: bytes.NewReader(data), ContentType: aws.String("application/json")}
	if onlyNew {
		in.IfNoneMatch = aws.String("*")
	}
	Encrypt(in, s.KMSKeyID)
	if _, err := s.Client.PutObject(ctx, in); err != nil {
		return fmt.Errorf("write s3://%s/%s (the role needs s3:PutObject on the bucket): %w", s.Bucket, key, err)
	}
	return nil
}

// preconditionFailed: S3 refused a conditional write, the object exists.
func preconditionFailed(err error) bool {
	var re *awshttp.ResponseError
	return errors.As(err, &re) && re.HTTPStatusCode() == http.StatusPreconditionFailed
}

// Ranking reads of the last nightly latest.json the ranking and the
// findings of the keys focus names in account (report.ReadRanking); nil
// when there is no nightly report yet.
func (s *S3Sink) Ranking(ctx context.Context, account string, focus func(*rules.Finding) bool) (*report.Report, error) {
	var r *report.Report
	return r, s.get(ctx, "latest.json", func(rd io.Reader) (err error) {
		r, err = report.ReadRanking(rd, func(f *rules.Finding) bool { return f.AccountID == account && focus(f) })
		return err
	})
}

// focusOn selects the findings an event is about, among the one
// principal's r holds: those of the key it names, else (no key named, or
// a root key the report knows by its slot only) all of them.
func focusOn(ev event.Event, r *report.Report) func(*rules.Finding) bool {
	principals := map[string]bool{}
	for _, f := range r.Findings {
		principals[f.Principal] = true
	}
	for _, k := range r.Risk {
		principals[k.Principal] = true
	}
	mine := func(f *rules.Finding) bool { return principals[f.Principal] }
	if ev.KeyID != "" && slices.ContainsFunc(r.Findings, func(f rules.Finding) bool { return f.AccessKeyID == ev.KeyID }) {
		return func(f *rules.Finding) bool { return mine(f) && f.AccessKeyID == ev.KeyID }
	}
	return mine
}

// rankText places the event's worst-ranked key among the organization's
// keys of the nightly ranking: its own entry there (if any) replaced by
// tonight's score, ordered as rules.Order orders a night.
func rankText(nightly, r *report.Report, focus func(*rules.Finding) bool) string {
	var mine []rules.Risk
	for _, k := range r.Risk {
		if focus(&rules.Finding{AccountID: k.AccountID, Principal: k.Principal, AccessKeyID: k.AccessKeyID, KeySlot: k.KeySlot}) {
			mine = append(mine, k)
		}
	}
	switch {
	case len(mine) == 0:
		return "not ranked: no active key"
	case nightly == nil || len(nightly.Risk) == 0:
		return "not ranked yet: no nightly ranking to compare with"
	}
	rules.Order(mine)
	k := mine[0]
	same := func(n rules.Risk) bool {
		return n.AccountID == k.AccountID && n.Principal == k.Principal && n.AccessKeyID == k.AccessKeyID && n.KeySlot == k.KeySlot
	}
	all := append(slices.DeleteFunc(slices.Clone(nightly.Risk), same), k)
	rules.Order(all)
	at := slices.IndexFunc(all, same)
	return fmt.Sprintf("#%d of %d keys in the organization (score %d; the nightly ranking of %s)", all[at].Rank, len(all), k.Score, nightly.AsOf.UTC().Format("2006-01-02 15:04 MST"))
}

// importEvent imports the event's findings into Security Hub, each under
// the ID the nightly import gives it, first seen as the nightly run saw
// it (r carried over). It neither reads nor writes the nightly baseline,
// and archives nothing: the principal's other findings stay as they are.
func (s *SecurityHub) importEvent(ctx context.Context, r *report.Report, focus func(*rules.Finding) bool) error {
	one := *r
	one.Findings = slices.DeleteFunc(slices.Clone(r.Findings), func(f rules.Finding) bool { return !focus(&f) })
	if len(one.Findings) == 0 {
		return nil
	}
	// A baseline of these findings alone, as first seen: every one is
	// sent (no digest matches), none is resolved.
	base := &Imported{Accounts: map[string]map[string]ImportedFinding{}}
	for _, f := range one.Findings {
		if !f.FirstSeen.IsZero() {
			base.set(hubItem{account: f.AccountID, fingerprint: f.Fingerprint, record: &ImportedFinding{Finding: f, FirstSeen: f.FirstSeen}})
		}
	}
	_, res, err := s.Import(ctx, &one, base, "")
	if err == nil && res.Carried > 0 {
		err = fmt.Errorf("security Hub: %d of %d findings not sent in the time there was", res.Carried, len(one.Findings))
	}
	if err != nil {
		return fmt.Errorf("import into Security Hub %s in %s: %w", s.Account, s.Region, err)
	}
	return nil
}

// What each kind of event changed, for people.
var changed = map[event.Kind]string{
	event.KeyCreated:          "access key created",
	event.KeyActivated:        "access key made active again",
	event.LoginProfileCreated: "console password created",
	event.MFARemoved:          "MFA device removed",
	event.PermissionsChanged:  "permissions changed",
	event.RootKeyCreated:      "root access key created",
	event.KeyExposed:          "access key exposed in public (AWS Health)",
}

// eventHeadline is the message's header and notification text.
func eventHeadline(ev event.Event, r *report.Report, focus func(*rules.Finding) bool) string {
	sev := "no finding"
	for _, f := range r.Findings {
		if focus(&f) && f.Suppressed == nil && (sev == "no finding" || f.Severity.Rank() > rules.Severity(sev).Rank()) {
			sev = string(f.Severity)
		}
	}
	return fmt.Sprintf("keyaudit, real time: %s · %s", sev, cmp.Or(changed[ev.Kind], string(ev.Kind)))
}

// eventBlocks is the Block Kit message of one event: who (account, user,
// key), what changed and who did it from where, the key's findings with
// the first steps of its plan, its rank, and where the record is (its
// s3:// URL).
func eventBlocks(ev event.Event, r *report.Report, focus func(*rules.Finding) bool, rank, record string) []slack.Block {
	m := newMessage(r, report.Changes{})
	section := func(s string) slack.Block { return slack.NewSectionBlock(mrkdwnText(fit(s, maxSectionText)), nil, nil) }
	who := ev.User
	for _, f := range r.Findings {
		if focus(&f) {
			who = f.Principal
		}
	}
	if ev.Root || who == inventory.RootName {
		who = "the root user"
	}
	name := ""
	for _, a := range r.Accounts {
		if a.ID == ev.Account {
			name = a.Name
		}
	}
	lines := []string{fmt.Sprintf("*Who:* %s in %s%s", m.esc(cmp.Or(who, "the key's user (not found)")), m.esc(report.AccountLabel(ev.Account, name)), m.keyText(ev.KeyID, 0))}
	lines = append(lines, fmt.Sprintf("*What changed:* %s (%s at %s)", m.esc(cmp.Or(changed[ev.Kind], string(ev.Kind))), m.esc(ev.Name), ev.Time.UTC().Format("2006-01-02 15:04:05 MST")))
	if ev.Actor != "" || ev.SourceIP != "" {
		lines = append(lines, fmt.Sprintf("*By:* %s from %s", m.esc(cmp.Or(ev.Actor, "unknown")), m.esc(cmp.Or(ev.SourceIP, "an unknown address"))))
	}
	blocks := []slack.Block{
		slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType, fit(eventHeadline(ev, r, focus), maxHeaderText), false, false)),
		section(strings.Join(lines, "\n")),
	}
	var fs []rules.Finding
	for _, f := range r.Findings {
		if focus(&f) && f.Suppressed == nil {
			fs = append(fs, f)
		}
	}
	if len(fs) == 0 {
		blocks = append(blocks, section("*Findings:* none open on this key as judged now"))
	}
	listed := map[findingKey]bool{}
	for _, f := range bySeverity(fs) {
		if listed[keyOfFinding(f)] {
			continue
		}
		text := m.keyList("*Findings:*", slices.DeleteFunc(slices.Clone(fs), func(g rules.Finding) bool { return keyOfFinding(g) != keyOfFinding(f) }), listed, true)
		a := m.action(&f)
		for i, st := range a.Plan[:min(firstSteps, len(a.Plan))] {
			text += fmt.Sprintf("\n%d. %s", i+1, m.esc(st.Action))
		}
		if len(a.Plan) > firstSteps {
			text += fmt.Sprintf("\n…%d more steps, with the commands: in the record", len(a.Plan)-firstSteps)
		}
		blocks = append(blocks, section(text))
	}
	blocks = append(blocks, section("*Rank:* "+m.esc(rank)))
	blocks = append(blocks, slack.NewContextBlock("", mrkdwnText(fit("Event "+m.esc(ev.ID)+" · record "+m.code(record), maxSectionText))))
	return blocks[:min(len(blocks), maxBlocks)]
}

// code shows a location we name (bucket, prefix, date, event ID) in a
// code span, where Slack neither links nor formats, so that no part of it
// needs esc's defanging ("ID.json" is host-like): only Slack's three
// escapes apply, key IDs are masked, and a backtick, which would end the
// span, is swapped for a look-alike.
func (m *message) code(s string) string {
	return "`" + codeText.Replace(keyIDs.ReplaceAllStringFunc(s, m.mask)) + "`"
}

var codeText = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "`", "\u02cb")

// firstSteps is how many steps of a plan the event's message shows.
const firstSteps = 3
