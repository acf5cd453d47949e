package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/smithy-go/middleware"
	"github.com/keyaudit/keyaudit/audit/inventory"
	"golang.org/x/time/rate"
)

// LookupEventsPerSecond is CloudTrail's documented limit for LookupEvents:
// two requests per second, per account, per region.
const LookupEventsPerSecond = 2

// Tracer finds who uses a key in one account's CloudTrail event history.
// Its clients are rate limited per region, so one Tracer serves one account.
type Tracer struct {
	cfg aws.Config
	// Days is the look-back window, at most 90 (what event history keeps).
	Days int
	// MaxEvents bounds the events read per key and region.
	MaxEvents int

	mu      sync.Mutex
	clients map[string]*cloudtrail.Client
}

// NewTracer returns a tracer acting with cfg, the credentials of one account.
func NewTracer(cfg aws.Config, days int) *Tracer {
	return &Tracer{cfg: cfg, Days: days, MaxEvents: 500, clients: map[string]*cloudtrail.Client{}}
}

// Region is the region of the tracer's session: where regional STS and the
// key's own callers most likely log.
func (t *Tracer) Region() string { return t.cfg.Region }

// client returns the region's CloudTrail client. Every HTTP attempt,
// retries included, waits for the region's limiter: a throttled page
// retried at once would break the documented limit.
func (t *Tracer) client(region string) *cloudtrail.Client {
	t.mu.Lock()
	defer t.mu.Unlock()
	if c, ok := t.clients[region]; ok {
		return c
	}
	limiter := rate.NewLimiter(LookupEventsPerSecond, 1)
	wait := middleware.FinalizeMiddlewareFunc("keyauditRateLimit", func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
		if err := limiter.Wait(ctx); err != nil {
			return middleware.FinalizeOutput{}, middleware.Metadata{}, err
		}
		return next.HandleFinalize(ctx, in)
	})
	c := cloudtrail.NewFromConfig(t.cfg, func(o *cloudtrail.Options) {
		o.Region = region
		o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
			return st.Finalize.Insert(wait, "Retry", middleware.After)
		})
	})
	t.clients[region] = c
	return c
}

// ctEvent is the part of a CloudTrail record keyaudit reads.
type ctEvent struct {
	EventTime       time.Time `json:"eventTime"`
	EventSource     string    `json:"eventSource"`
	EventName       string    `json:"eventName"`
	AWSRegion       string    `json:"awsRegion"`
	SourceIPAddress string    `json:"sourceIPAddress"`
	UserAgent       string    `json:"userAgent"`
	UserIdentity    struct {
		Type        string `json:"type"`
		PrincipalID string `json:"principalId"`
		ARN         string `json:"arn"`
		AccountID   string `json:"accountId"`
		AccessKeyID string `json:"accessKeyId"`
	} `json:"userIdentity"`
	RequestParameters struct {
		RoleARN string `json:"roleArn"`
	} `json:"requestParameters"`
	ResponseElements struct {
		Credentials struct {
			AccessKeyID string `json:"accessKeyId"`
		} `json:"credentials"`
	} `json:"responseElements"`
}

// lookup reads the events matching attr in one region, newest first,
// paginated, rate limited and bounded to maxEvents events and (when above
// 0) maxPages pages, calling fn for each. It returns the pages read.
func (t *Tracer) lookup(ctx context.Context, region string, now time.Time, attr cttypes.LookupAttribute, maxEvents, maxPages int, fn func(ctEvent) bool) (pages int, truncated bool, err error) {
	in := &cloudtrail.LookupEventsInput{
		LookupAttributes: []cttypes.LookupAttribute{attr},
		StartTime:        aws.Time(now.AddDate(0, 0, -t.Days)),
		EndTime:          aws.Time(now),
		MaxResults:       aws.Int32(50),
	}
	p := cloudtrail.NewLookupEventsPaginator(t.client(region), in)
	read := 0
	for p.HasMorePages() {
		if read >= maxEvents || (maxPages > 0 && pages >= maxPages) {
			return pages, true, nil
		}
		page, err := p.NextPage(ctx)
		if err != nil {
			return pages, false, fmt.Errorf("look up CloudTrail events in %s: %w", region, Explain(err))
		}
		pages++
		for _, e := range page.Events {
			read++
			var ev ctEvent
			if json.Unmarshal([]byte(aws.ToString(e.CloudTrailEvent)), &ev) != nil {
				continue // a record we cannot read tells us nothing
			}
			if !fn(ev) {
				return pages, false, nil
			}
		}
	}
	return pages, false, nil
}

// Usage summarises the events made with keyID in the given regions over
// the look-back window ending at now.
func (t *Tracer) Usage(ctx context.Context, keyID string, regions []string, now time.Time) (*inventory.Usage, error) {
	u := &inventory.Usage{Since: now.AddDate(0, 0, -t.Days).UTC().Truncate(time.Second)}
	ips, agents, services, names, seenRegions := set{}, set{}, set{}, set{}, set{}
	for _, region := range regions {
		_, truncated, err := t.lookup(ctx, region, now, cttypes.LookupAttribute{
			AttributeKey: cttypes.LookupAttributeKeyAccessKeyId, AttributeValue: aws.String(keyID),
		}, t.MaxEvents, 0, func(ev ctEvent) bool {
			u.Events++
			if u.FirstSeen.IsZero() || ev.EventTime.Before(u.FirstSeen) {
				u.FirstSeen = ev.EventTime.UTC()
			}
			if ev.EventTime.After(u.LastSeen) {
				u.LastSeen = ev.EventTime.UTC()
			}
			ips.add(ev.SourceIPAddress)
			agents.add(ev.UserAgent)
			services.add(ev.EventSource)
			names.add(ev.EventName)
			seenRegions.add(ev.AWSRegion)
			return true
		})
		if err != nil {
			return nil, err
		}
		u.Truncated = u.Truncated || truncated
	}
	u.SourceIPs, u.UserAgents, u.Services, u.EventNames, u.Regions = ips.sorted(), agents.sorted(), services.sorted(), names.sorted(), seenRegions.sorted()
	return u, nil
}

// Profile reads at most pages pages (50 events each) of the key's newest
// events for the kill-first ranking, spending the budget on regions in the
// order given (put the region the key was last used in first), and says
// what it left unread.
func (t *Tracer) Profile(ctx context.Context, keyID string, regions []string, now time.Time, pages int) (*inventory.Profile, error) {
	var events []inventory.TrailEvent
	read, more := 0, false
	var unread []string
	for _, region := range regions {
		if read >= pages {
			unread = append(unread, region)
			continue
		}
		n, truncated, err := t.lookup(ctx, region, now, cttypes.LookupAttribute{
			AttributeKey: cttypes.LookupAttributeKeyAccessKeyId, AttributeValue: aws.String(keyID),
		}, math.MaxInt, pages-read, func(ev ctEvent) bool {
			events = append(events, inventory.TrailEvent{Time: ev.EventTime, SourceIP: ev.SourceIPAddress, Region: ev.AWSRegion, UserAgent: ev.UserAgent})
			return true
		})
		if err != nil {
			return nil, fmt.Errorf("profile key %s: %w", inventory.MaskKeyID(keyID), err)
		}
		read += n
		more = more || truncated
	}
	return inventory.BuildProfile(now, events, read, more, unread), nil
}

// issuingEvents are the STS calls that hand out ASIA keys.
var issuingEvents = []string{"AssumeRole", "GetSessionToken", "GetFederationToken", "AssumeRoleWithSAML", "AssumeRoleWithWebIdentity", "AssumeRoot"}

// ErrTruncated marks a search that stopped at the per-key event bound
// (MaxEvents) before it found what it looked for: the answer is unknown,
// not "none".
var ErrTruncated = errors.New("search stopped at the event bound")

// Issuer finds the event that issued a temporary key: CloudTrail cannot be
// asked by the issued key, so it reads the issuing calls and matches the
// key in their response. STS logs a call in the region of the endpoint
// that answered it, regional by default in today's SDKs: search the regions
// TrailRegions gives. Not found is (nil, nil); not found within the event
// bound is an error wrapping ErrTruncated.
func (t *Tracer) Issuer(ctx context.Context, keyID string, regions []string, now time.Time) (*inventory.Issuer, error) {
	var found *inventory.Issuer
	var cut []string
	for _, region := range regions {
		for _, name := range issuingEvents {
			_, truncated, err := t.lookup(ctx, region, now, cttypes.LookupAttribute{
				AttributeKey: cttypes.LookupAttributeKeyEventName, AttributeValue: aws.String(name),
			}, t.MaxEvents, 0, func(ev ctEvent) bool {
				if ev.ResponseElements.Credentials.AccessKeyID != keyID {
					return true
				}
				found = issuer(ev)
				return false
			})
			if err != nil || found != nil {
				return found, err
			}
			if truncated {
				cut = append(cut, name+" in "+region)
			}
		}
	}
	if len(cut) > 0 {
		return nil, fmt.Errorf("no event issued key %s among the newest %d events of each of %s: %w; narrow the look-back window or raise the bound",
			inventory.MaskKeyID(keyID), t.MaxEvents, strings.Join(cut, ", "), ErrTruncated)
	}
	return nil, nil
}

func issuer(ev ctEvent) *inventory.Issuer {
	is := &inventory.Issuer{EventName: ev.EventName, Time: ev.EventTime.UTC(), Principal: ev.UserIdentity.ARN,
		RoleARN: ev.RequestParameters.RoleARN, SourceIP: ev.SourceIPAddress, Region: ev.AWSRegion}
	if is.Principal == "" {
		// A cross-account call as the role's account logs it: the caller's
		// ARN is in the caller's own account's trail only.
		is.CallerAccount, is.CallerPrincipalID = ev.UserIdentity.AccountID, ev.UserIdentity.PrincipalID
		is.Note = fmt.Sprintf("the event names no caller ARN (a call from account %s): look up principal ID %s in that account's CloudTrail",
			is.CallerAccount, is.CallerPrincipalID)
	}
	return is
}

// ProfileKeys sets the usage profile (Profile, pages pages each) of the
// account's keys named in keyIDs, one key after another: the Tracer's
// limiter is per account and region anyway. A key whose profile cannot be
// read is left without one, and the account's warnings say why; only a
// cancelled context is an error.
func (t *Tracer) ProfileKeys(ctx context.Context, acct *inventory.Account, keyIDs []string, partition string, now time.Time, pages int) error {
	for _, u := range acct.Principals() {
		for k := range u.Keys {
			key := &u.Keys[k]
			if key.ID == "" || !slices.Contains(keyIDs, key.ID) {
				continue
			}
			p, err := t.Profile(ctx, key.ID, ProfileRegions(partition, key.LastUsed.Region), now, pages)
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err != nil {
				acct.Warnings = append(acct.Warnings, fmt.Sprintf("kill-first ranking without the usage of key %s: %v", inventory.MaskKeyID(key.ID), err))
				continue
			}
			key.Profile = p
		}
	}
	return nil
}

// ProfileRegions are the regions Profile reads for a key, in the order its
// page budget is spent: the region the key was last used in (where its
// workload's events are), then the partition's home region (IAM, global STS).
func ProfileRegions(partition, lastUsedRegion string) []string {
	out := inventory.TrailRegions(partition, lastUsedRegion)
	slices.Reverse(out)
	return out
}

type set map[string]bool

func (s set) add(v string) {
	if v != "" {
		s[v] = true
	}
}

func (s set) sorted() []string {
	out := make([]string, 0, len(s))
	for v := range s {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}
