package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/keyaudit/keyaudit/audit"
	"github.com/keyaudit/keyaudit/audit/inventory"
	"github.com/keyaudit/keyaudit/internal/deliver"
	"github.com/keyaudit/keyaudit/internal/event"
	"github.com/keyaudit/keyaudit/internal/pipeline"
	"golang.org/x/sync/errgroup"
)

// The event function (docs/design.md, real time) is this binary invoked
// by SQS: each record's body is one EventBridge event about a principal's
// keys, judged and delivered on its own. The answer names the records to
// retry (partial batch failures): a record that failed for a reason that
// may pass (throttling, S3 or Slack unreachable, the member role refused)
// is retried, and lands in the dead-letter queue when it keeps failing;
// a malformed event, one keyaudit does not act on, and one of an account
// outside the organization are acknowledged, each with a log line.

// sqsBatch reads raw as an SQS batch, when it is one.
func sqsBatch(raw json.RawMessage) (events.SQSEvent, bool) {
	var in events.SQSEvent
	if json.Unmarshal(raw, &in) != nil || len(in.Records) == 0 || in.Records[0].EventSource != "aws:sqs" {
		return in, false
	}
	return in, true
}

// eventWorkers is how many of a batch's events are judged at once.
const eventWorkers = 4

// memberTTL is how long a warm instance remembers whether an account is
// in the organization: an account joins or leaves rarely, and events
// come in bursts from one account.
const memberTTL = 5 * time.Minute

// members remembers organizations:DescribeAccount's answers. One call per
// account, where listing the organization takes one per 20 accounts on
// every cold start: minutes in a large organization.
type members struct {
	mu   sync.Mutex
	seen map[string]member
}

type member struct {
	name, skip string // skip: why the account is not judged
	at         time.Time
}

// judged is one record's events to judge, their accounts in the organization.
type judged struct {
	msg    events.SQSMessage
	events []event.Event
	names  map[string]string // account ID → name
}

// events judges the batch's events and answers which records to retry.
// A failure before any record is read (the configuration, AWS, Slack's
// secret) fails the invocation: SQS retries the whole batch.
func (h *handler) events(ctx context.Context, batch events.SQSEvent) (events.SQSEventResponse, error) {
	inv, err := h.begin(ctx, newRun(ctx, nil), "", nil)
	if err != nil {
		return events.SQSEventResponse{}, err
	}
	var resp events.SQSEventResponse
	retry := func(msg events.SQSMessage) {
		resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: msg.MessageId})
	}
	var work []judged
	var targets []audit.Target
	for _, msg := range batch.Records {
		j, err := h.admit(ctx, inv, msg)
		if err != nil {
			inv.log.Warn("event not judged, retried", "message_id", msg.MessageId, "error", err)
			retry(msg)
			continue
		}
		if len(j.events) > 0 {
			work = append(work, j)
		}
		for _, ev := range j.events {
			targets = append(targets, audit.Target{AccountID: ev.Account, Name: j.names[ev.Account]})
		}
	}
	if len(work) == 0 {
		return resp, nil
	}
	slices.SortFunc(targets, func(a, b audit.Target) int { return strings.Compare(a.AccountID, b.AccountID) })
	targets = slices.CompactFunc(targets, func(a, b audit.Target) bool { return a.AccountID == b.AccountID })
	d, err := h.eventDelivery(ctx, inv, targets)
	if err != nil {
		return events.SQSEventResponse{}, err
	}
	failed := make([]bool, len(work))
	var g errgroup.Group
	g.SetLimit(eventWorkers)
	for i := range work {
		g.Go(func() error {
			failed[i] = !h.judgeRecord(ctx, inv, d, work[i])
			return nil
		})
	}
	g.Wait()
	for i, f := range failed {
		if f {
			retry(work[i].msg)
		}
	}
	return resp, nil
}

// eventDelivery reaches the accounts to judge and the senders.
type eventDelivery struct {
	conn *pipeline.Conn
	out  *deliver.EventDelivery
}

func (h *handler) eventDelivery(ctx context.Context, inv *invocation, targets []audit.Target) (*eventDelivery, error) {
	conn, err := inv.connect(ctx, targets)
	if err != nil {
		return nil, err
	}
	out := &deliver.EventDelivery{Store: &deliver.S3Sink{Client: inv.s3, Bucket: h.settings.Bucket, Prefix: h.settings.Prefix, KMSKeyID: h.settings.KMSKeyARN}}
	if h.settings.SecurityHub {
		out.SecurityHub = conn.SecurityHub(h.settings.SecurityHubRegion)
	}
	if h.settings.SlackSecretARN != "" {
		if out.Slack, err = deliver.SlackFromSecret(ctx, secretsmanager.NewFromConfig(inv.cfg), h.settings.SlackSecretARN, h.settings.SlackChannel, "KEYAUDIT_SLACK_CHANNEL"); err != nil {
			return nil, err
		}
		out.Slack.APIURL = h.settings.SlackAPIURL
	}
	return &eventDelivery{conn: conn, out: out}, nil
}

// admit reads a record's events and keeps those to judge. A malformed or
// ignored event, or one of an account not to judge, is acknowledged and
// logged here; the error is a check that may pass when retried.
func (h *handler) admit(ctx context.Context, inv *invocation, msg events.SQSMessage) (judged, error) {
	j := judged{msg: msg, names: map[string]string{}}
	evs, err := event.ParseAll([]byte(msg.Body))
	switch {
	case errors.Is(err, event.ErrIgnored):
		inv.log.Info("event ignored", "message_id", msg.MessageId, "reason", err.Error())
		return j, nil
	case err != nil:
		// Parse's errors name the field, never a value that is not a key ID.
		inv.log.Warn("event malformed, acknowledged", "message_id", msg.MessageId, "error", err.Error())
		return j, nil
	}
	for _, ev := range evs {
		name, skip, err := h.member(ctx, inv, ev.Account)
		if err != nil {
			return j, err
		}
		if skip != "" {
			inv.log.Warn("event not judged: "+skip, eventAttrs(msg, ev)...)
			continue
		}
		j.names[ev.Account] = name
		j.events = append(j.events, ev)
	}
	return j, nil
}

// member says whether account is one to judge, and its name: an account
// of the organization (or of KEYAUDIT_ACCOUNTS, when set), active and not
// excluded. skip says why not.
func (h *handler) member(ctx context.Context, inv *invocation, account string) (name, skip string, err error) {
	sel := inv.settings.Selection()
	if slices.Contains(sel.Exclude, account) {
		return "", "account excluded (KEYAUDIT_EXCLUDE_ACCOUNTS)", nil
	}
	if !sel.Org {
		i := slices.IndexFunc(sel.Accounts, func(t audit.Target) bool { return t.AccountID == account })
		if i < 0 {
			return "", "account not among KEYAUDIT_ACCOUNTS", nil
		}
		return sel.Accounts[i].Name, "", nil
	}
	now := time.Now()
	h.members.mu.Lock()
	m, ok := h.members.seen[account]
	h.members.mu.Unlock()
	if ok && now.Sub(m.at) < memberTTL {
		return m.name, m.skip, nil
	}
	name, skip, err = pipeline.InOrganization(ctx, inv.cfg, account)
	if err != nil {
		return "", "", err
	}
	m = member{name: name, skip: skip}
	m.at = now
	h.members.mu.Lock()
	defer h.members.mu.Unlock()
	if h.members.seen == nil {
		h.members.seen = map[string]member{}
	}
	h.members.seen[account] = m
	return m.name, m.skip, nil
}

// judgeRecord judges and delivers a record's events, each logged in one
// line; it reports whether the record is done (false: retry it). A panic
// is the record's failure alone.
func (h *handler) judgeRecord(ctx context.Context, inv *invocation, d *eventDelivery, j judged) (done bool) {
	defer func() {
		if p := recover(); p != nil {
			inv.log.Error("event failed: panic, retried", "message_id", j.msg.MessageId, "panic", fmt.Sprint(p))
			done = false
		}
	}()
	done = true
	for _, ev := range j.events {
		attrs := eventAttrs(j.msg, ev)
		out, err := h.judgeEvent(ctx, inv, d, ev)
		if err != nil {
			inv.log.Error("event failed, retried", append(attrs, "error", err.Error())...)
			done = false
			continue
		}
		for _, w := range out.Warnings {
			inv.log.Warn(w, attrs...)
		}
		if out.Duplicate {
			inv.log.Info("event delivered already", append(attrs, "record", out.Record)...)
			continue
		}
		inv.log.Info("event judged", append(attrs, "record", out.Record, "sent", out.Sent, "rank", out.Rank)...)
	}
	return done
}

func (h *handler) judgeEvent(ctx context.Context, inv *invocation, d *eventDelivery, ev event.Event) (deliver.EventOutcome, error) {
	r, err := pipeline.Judge(ctx, inv.options(d.conn), d.conn, ev)
	if err != nil {
		return deliver.EventOutcome{}, err
	}
	for _, a := range r.Accounts {
		if a.ID == ev.Account && a.Status != inventory.StatusOK {
			return deliver.EventOutcome{}, fmt.Errorf("account %s not audited (%s): %s", a.ID, a.Status, a.Error)
		}
	}
	r.RunID = inv.run.ID
	return d.out.Deliver(ctx, ev, r, time.Now())
}

// eventAttrs name an event in a log line: its key ID masked, as logs show keys.
func eventAttrs(msg events.SQSMessage, ev event.Event) []any {
	attrs := []any{"message_id", msg.MessageId, "event_id", ev.ID, "kind", string(ev.Kind), "account", ev.Account}
	if ev.KeyID != "" {
		attrs = append(attrs, "key", inventory.MaskKeyID(ev.KeyID))
	}
	return attrs
}
