package rules

import (
	"cmp"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/keyaudit/keyaudit/audit/inventory"
)

// The kill-first ranking: every active long-term key gets a score, the sum
// of the weights of the factors that apply to it, and a rank across the
// organization. Each factor says why it applies, so the order explains
// itself. Weights are tunable in the config file (risk.weights).

// Factor ids are a public contract, like rule ids; Factors gives their
// default weights. Blast radius counts once (the user's class); age and
// last use once each; findings once (the worst open severity on the key).
const (
	FactorAdmin      = "blast-administrator"
	FactorEscalation = "blast-privilege-escalation"
	FactorData       = "blast-broad-data"
	FactorWrite      = "blast-write"
	FactorReadOnly   = "blast-read-only"
	FactorBlastGuess = "blast-unknown"
	FactorViaGroup   = "blast-via-group"
	FactorAgeYear    = "key-age-over-1y"
	FactorAge90      = "key-age-over-90d"
	FactorNeverUsed  = "never-used"
	FactorUnused     = "unused-over-90d"
	FactorCritical   = "finding-critical"
	FactorHigh       = "finding-high"
	FactorMedium     = "finding-medium"
	FactorLow        = "finding-low"
	FactorNewIPs     = "new-public-ips"
	FactorManyIPs    = "many-public-ips"
	FactorHuman      = "human-use"
	FactorRegions    = "many-regions"
	FactorUnprofiled = "usage-unread"
)

// FactorInfo describes one factor, for `keyaudit rules`-style listings and the README.
type FactorInfo struct {
	ID          string
	Weight      int // the default
	Description string
}

// Factors lists every factor with its default weight, blast radius first.
func Factors() []FactorInfo {
	return []FactorInfo{
		{FactorAdmin, 40, `blast radius: "*" on "*", or the root user`},
		{FactorEscalation, 32, "blast radius: can grant itself more (iam:CreateAccessKey, iam:Put*Policy, iam:PassRole with compute, sts:AssumeRole on *, ...)"},
		{FactorData, 22, "blast radius: reads S3 objects, decrypts with KMS or reads secrets on every resource"},
		{FactorWrite, 12, "blast radius: changes something"},
		{FactorReadOnly, 4, "blast radius: only reads"},
		{FactorBlastGuess, 16, "blast radius unknown: the user's policies were not read"},
		{FactorViaGroup, 2, "the power comes only through group membership, easily overlooked"},
		{FactorAgeYear, 10, "the key is older than a year"},
		{FactorAge90, 5, "the key is older than 90 days"},
		{FactorNeverUsed, 12, "the key was never used: nobody needs it, killing it costs nothing"},
		{FactorUnused, 8, "the key has not been used for over 90 days"},
		{FactorCritical, 20, "the worst open finding on the key is critical"},
		{FactorHigh, 10, "the worst open finding on the key is high"},
		{FactorMedium, 4, "the worst open finding on the key is medium"},
		{FactorLow, 1, "the worst open finding on the key is low"},
		{FactorNewIPs, 15, "CloudTrail: used from public IPs first seen in the last 7 days"},
		{FactorManyIPs, 8, "CloudTrail: used from 3 or more public IPs"},
		{FactorHuman, 5, "CloudTrail: used by a person (console, CLI from a laptop), not a workload"},
		{FactorRegions, 3, "CloudTrail: used in 3 or more regions"},
		{FactorUnprofiled, 0, "CloudTrail: outside the budget, or read in part (says what was left unread)"},
	}
}

// DefaultWeights are the weights of every factor when the config sets none.
func DefaultWeights() map[string]int {
	w := map[string]int{}
	for _, f := range Factors() {
		w[f.ID] = f.Weight
	}
	return w
}

var classFactor = map[inventory.Class]string{
	inventory.ClassAdmin: FactorAdmin, inventory.ClassEscalation: FactorEscalation, inventory.ClassData: FactorData,
	inventory.ClassWrite: FactorWrite, inventory.ClassReadOnly: FactorReadOnly,
}

// RiskConfig tunes the ranking.
type RiskConfig struct {
	Weights map[string]int
	// TrailKeys is K: only the top K keys by the other factors get a
	// CloudTrail usage profile; TrailPages is N: the newest N pages (50
	// events each) per key.
	TrailKeys  int
	TrailPages int
}

// DefaultRisk is the ranking's configuration when the config file sets none.
func DefaultRisk() RiskConfig {
	return RiskConfig{Weights: DefaultWeights(), TrailKeys: 20, TrailPages: 2}
}

// Factor is one reason a key ranks where it does.
type Factor struct {
	ID     string `json:"id"`
	Weight int    `json:"weight"`
	Detail string `json:"detail"`
}

// Risk is one key's place in the kill-first ranking. Its JSON form is part
// of the report contract (the top-level risk array).
type Risk struct {
	Rank        int    `json:"rank"`
	AccountID   string `json:"account_id"`
	AccountName string `json:"account_name,omitempty"`
	Principal   string `json:"principal"`
	AccessKeyID string `json:"access_key_id"`
	KeySlot     int    `json:"key_slot,omitempty"`
	Score       int    `json:"score"`
	// BlastRadius is the user's class; empty when its policies were not read.
	BlastRadius inventory.Class `json:"blast_radius,omitempty"`
	// StaleDays is days since last use (or since creation, never used);
	// nil when last use is unknown.
	StaleDays *int     `json:"stale_days,omitempty"`
	Factors   []Factor `json:"factors"`
	// Profiled: the key's CloudTrail usage profile was read.
	Profiled bool `json:"usage_profiled"`
}

// Reason is the key's top factors in one line, for the table and Slack.
func (r Risk) Reason() string {
	fs := append([]Factor(nil), r.Factors...)
	sort.SliceStable(fs, func(i, j int) bool { return fs[i].Weight > fs[j].Weight })
	var parts []string
	for _, f := range fs {
		if f.Weight > 0 && len(parts) < 3 {
			parts = append(parts, f.Detail)
		}
	}
	if len(parts) == 0 {
		return "no risk factor"
	}
	return strings.Join(parts, "; ")
}

// Rank scores every active long-term key of the accounts audited ok and
// orders them, worst first; ties by account, principal and key. actions
// give the worst open finding on each key.
func Rank(env Env, rc RiskConfig, accounts []inventory.Account, actions []Action) []Risk {
	worst := map[keyIdent]Severity{}
	for _, a := range actions {
		if !a.Suppressed {
			worst[keyIdent{a.AccountID, a.Principal, a.AccessKeyID, a.KeySlot}] = a.Severity
		}
	}
	var out []Risk
	for i := range accounts {
		acct := &accounts[i]
		if acct.Status != inventory.StatusOK {
			continue
		}
		for _, u := range acct.Principals() {
			for k := range u.Keys {
				key := &u.Keys[k]
				if !key.Active {
					continue
				}
				r := Risk{AccountID: acct.ID, AccountName: acct.Name, Principal: u.Name, AccessKeyID: key.ID, KeySlot: key.Slot}
				sev := worst[keyIdent{acct.ID, u.Name, key.ID, key.Slot}]
				r.Factors = factors(env.Now, rc.Weights, u, key, sev, &r)
				for _, f := range r.Factors {
					r.Score += f.Weight
				}
				out = append(out, r)
			}
		}
	}
	Order(out)
	return out
}

// Order sorts ranked keys worst first (ties: root keys first, then by
// account, principal and key)
// and numbers them: keys ranked account by account, merged, rank as one.
// The order is total (a key is its account, principal, ID and slot), so an
// unstable sort gives the one answer, and fast: a ranking of 10,000
// accounts holds hundreds of thousands of keys.
func Order(out []Risk) {
	// Among equals a root key goes first: nothing limits what it can do.
	notRoot := func(r Risk) int {
		if r.Principal == inventory.RootName {
			return 0
		}
		return 1
	}
	slices.SortFunc(out, func(a, b Risk) int {
		return cmp.Or(
			cmp.Compare(b.Score, a.Score),
			cmp.Compare(notRoot(a), notRoot(b)),
			strings.Compare(a.AccountID, b.AccountID),
			strings.Compare(a.Principal, b.Principal),
			strings.Compare(a.AccessKeyID, b.AccessKeyID),
			cmp.Compare(a.KeySlot, b.KeySlot),
		)
	})
	for i := range out {
		out[i].Rank = i + 1
	}
}

// openFinding is the detail of each severity's factor.
var openFinding = map[Severity]string{Critical: "open critical finding", High: "open high finding", Medium: "open medium finding", Low: "open low finding"}

func factors(now time.Time, weights map[string]int, u *inventory.User, key *inventory.Key, sev Severity, r *Risk) []Factor {
	fs := factorList(now, weights, u, key, sev, r)
	// Exactly as long as it is, and never null in JSON: the schema wants an array.
	return append(make([]Factor, 0, len(fs)), fs...)
}

func factorList(now time.Time, weights map[string]int, u *inventory.User, key *inventory.Key, sev Severity, r *Risk) []Factor {
	var fs []Factor
	// A ranking holds every key: its texts are shared, not one per key.
	add := func(id, detail string) { fs = append(fs, Factor{ID: id, Weight: weights[id], Detail: shared(detail)}) }
	addf := func(id, format string, args ...any) { add(id, fmt.Sprintf(format, args...)) }

	switch p := u.Permissions; {
	case u.Root:
		r.BlastRadius = inventory.ClassAdmin
		add(FactorAdmin, "root user: every action, no IAM policy limits it")
	case p == nil:
		add(FactorBlastGuess, "IAM policies not read")
	default:
		r.BlastRadius = p.Class
		if id := classFactor[p.Class]; id != "" {
			detail := string(p.Class)
			if len(p.Grants) > 0 {
				detail += ": " + p.Grants[0]
			}
			if p.Conditions > 0 {
				detail += " (conditions not evaluated)"
			}
			add(id, detail)
			if p.FromGroups {
				addf(FactorViaGroup, "%s only through group membership", p.Class)
			}
		}
	}

	if !key.CreatedAt.IsZero() {
		switch age := days(now, key.CreatedAt); {
		case age > 365:
			addf(FactorAgeYear, "key %d days old", age)
		case age > 90:
			addf(FactorAge90, "key %d days old", age)
		}
	}
	switch lu := key.LastUsed; {
	case !lu.Known:
	case lu.Never:
		if !key.CreatedAt.IsZero() {
			d := days(now, key.CreatedAt)
			r.StaleDays = &d
		}
		add(FactorNeverUsed, "never used")
	default:
		d := days(now, lu.At)
		r.StaleDays = &d
		if d > 90 {
			addf(FactorUnused, "unused for %d days", d)
		}
	}
	if id := map[Severity]string{Critical: FactorCritical, High: FactorHigh, Medium: FactorMedium, Low: FactorLow}[sev]; id != "" {
		add(id, openFinding[sev])
	}

	p := key.Profile
	if p == nil {
		switch {
		case key.ID == "":
			add(FactorUnprofiled, "usage not profiled: the key ID is not known (credential report only)")
		default:
			add(FactorUnprofiled, "usage not profiled: CloudTrail was not read for this key (outside the budget, not asked, or not readable)")
		}
		return fs
	}
	r.Profiled = true
	if len(p.NewIPs) > 0 {
		addf(FactorNewIPs, "%d public IP(s) first seen in the last %d days", len(p.NewIPs), inventory.NewIPDays)
	}
	if len(p.PublicIPs) >= 3 {
		addf(FactorManyIPs, "used from %d public IPs", len(p.PublicIPs))
	}
	if len(p.Human) > 0 {
		addf(FactorHuman, "used by a person (%s)", agentName(p.Human[0]))
	}
	if len(p.Regions) >= 3 {
		addf(FactorRegions, "used in %d regions", len(p.Regions))
	}
	if p.MoreUnread || len(p.UnreadRegions) > 0 || p.NewIPsUnknown {
		detail := fmt.Sprintf("read %d page(s), %d events", p.Pages, p.Events)
		if !p.Oldest.IsZero() {
			detail += " back to " + p.Oldest.Format(time.DateOnly)
		}
		if len(p.UnreadRegions) > 0 {
			detail += "; not read in " + strings.Join(p.UnreadRegions, ", ")
		}
		add(FactorUnprofiled, detail+"; older events unread")
	}
	return fs
}

// agentName is the product in a user agent: "aws-cli", "Boto3".
func agentName(ua string) string {
	name, _, _ := strings.Cut(ua, "/")
	if i := strings.IndexByte(name, ' '); i > 0 {
		name = name[:i]
	}
	return name
}

// ProfileCandidates returns, per account, the IDs of the keys the
// CloudTrail budget covers: the top k of a ranking made without profiles
// that have a key ID and no profile yet, in rank order (the shape of
// KeysToConfirm).
func ProfileCandidates(ranked []Risk, k int) map[string][]string {
	out := map[string][]string{}
	n := 0
	for _, r := range ranked {
		if n >= k {
			break
		}
		if r.AccessKeyID != "" && !r.Profiled {
			out[r.AccountID] = append(out[r.AccountID], r.AccessKeyID)
			n++
		}
	}
	return out
}

// RiskNotes say what the ranking does not cover, for every output that
// shows it: the scope of the policy analysis, and what the CloudTrail
// budget left unread.
func RiskNotes(ranked []Risk, rc RiskConfig) []string {
	notes := []string{"Blast radius: " + inventory.PermissionsScope + "."}
	profiled, partial := 0, 0
	for _, r := range ranked {
		if r.Profiled {
			profiled++
			for _, f := range r.Factors {
				if f.ID == FactorUnprofiled {
					partial++
				}
			}
		}
	}
	if len(ranked) > 0 {
		notes = append(notes, fmt.Sprintf("Usage: CloudTrail profiled %d of %d keys (risk.trail_keys %d, the newest %d page(s) each: risk.trail_pages); %d profile(s) stopped before the key's older events; %d key(s) were not profiled.",
			profiled, len(ranked), rc.TrailKeys, rc.TrailPages, partial, len(ranked)-profiled))
	}
	return notes
}
