package inventory

import (
	"net/netip"
	"slices"
	"sort"
	"strings"
	"time"
)

// NewIPDays is how recent a source IP's first event must be for the IP to
// count as new.
const NewIPDays = 7

// Profile is how a key is used, from a budgeted read of its newest
// CloudTrail management events (LookupEvents by AccessKeyId). What the
// budget left unread is said, not guessed.
type Profile struct {
	Pages  int `json:"pages_read"`
	Events int `json:"events_read"`
	// Oldest is the oldest event read: the profile covers Oldest to now.
	Oldest time.Time `json:"oldest_event_read,omitzero"`
	// MoreUnread: older events exist that the page budget left unread.
	MoreUnread bool `json:"more_unread,omitempty"`
	// UnreadRegions were not read at all: the budget ran out first.
	UnreadRegions []string `json:"unread_regions,omitempty"`
	// PublicIPs are the distinct public source IPs; AWSSources are the
	// AWS-internal ones (a service principal such as ec2.amazonaws.com,
	// "AWS Internal", or a private address behind a VPC endpoint).
	PublicIPs  []string `json:"public_ips,omitempty"`
	AWSSources []string `json:"aws_sources,omitempty"`
	// NewIPs are public IPs first seen in the last NewIPDays days. When
	// the read does not reach back that far NewIPsUnknown is set instead:
	// an IP could be old and its first events unread.
	NewIPs        []string `json:"new_ips,omitempty"`
	NewIPsUnknown bool     `json:"new_ips_unknown,omitempty"`
	Regions       []string `json:"regions,omitempty"`
	// Human and Workload are the user agents of each kind (see AgentKind).
	Human    []string `json:"human_agents,omitempty"`
	Workload []string `json:"workload_agents,omitempty"`
}

// TrailEvent is the part of a CloudTrail event a profile reads.
type TrailEvent struct {
	Time      time.Time
	SourceIP  string
	Region    string
	UserAgent string
}

// BuildProfile summarises the events read. more says whether older events
// were left unread, and unreadRegions which regions were not read at all.
func BuildProfile(now time.Time, events []TrailEvent, pages int, more bool, unreadRegions []string) *Profile {
	p := &Profile{Pages: pages, Events: len(events), MoreUnread: more, UnreadRegions: unreadRegions}
	first := map[string]time.Time{}
	public, internal, regions, human, workload := map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, e := range events {
		if p.Oldest.IsZero() || e.Time.Before(p.Oldest) {
			p.Oldest = e.Time.UTC()
		}
		if e.Region != "" {
			regions[e.Region] = true
		}
		switch {
		case e.SourceIP == "":
		case PublicIP(e.SourceIP):
			public[e.SourceIP] = true
			if t, ok := first[e.SourceIP]; !ok || e.Time.Before(t) {
				first[e.SourceIP] = e.Time
			}
		default:
			internal[e.SourceIP] = true
		}
		switch AgentKind(e.UserAgent) {
		case AgentHuman:
			human[e.UserAgent] = true
		case AgentWorkload:
			workload[e.UserAgent] = true
		}
	}
	since := now.AddDate(0, 0, -NewIPDays)
	// New is knowable when the read reaches back past the window, or read everything.
	if len(events) > 0 && (p.MoreUnread || len(unreadRegions) > 0) && !p.Oldest.Before(since) {
		p.NewIPsUnknown = true
	} else {
		for ip, t := range first {
			if !t.Before(since) {
				p.NewIPs = append(p.NewIPs, ip)
			}
		}
		sort.Strings(p.NewIPs)
	}
	p.PublicIPs, p.AWSSources, p.Regions, p.Human, p.Workload = keys(public), keys(internal), keys(regions), keys(human), keys(workload)
	return p
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	if len(out) == 0 {
		return nil
	}
	return out
}

// PublicIP says whether a CloudTrail sourceIPAddress is a public internet
// address. AWS services calling on a principal's behalf appear as their
// service name ("ec2.amazonaws.com") or "AWS Internal"; calls through a VPC
// endpoint carry a private address.
func PublicIP(source string) bool {
	addr, err := netip.ParseAddr(source)
	if err != nil {
		return false
	}
	return !(addr.IsPrivate() || addr.IsLoopback() || addr.IsLinkLocalUnicast() || addr.IsUnspecified())
}

// Agent is who is behind a user agent: a person, or a program.
type Agent string

const (
	AgentHuman    Agent = "human"
	AgentWorkload Agent = "workload"
	AgentUnknown  Agent = "unknown"
)

var (
	// ciMarkers in a user agent name a CI system, a managed runtime, or a
	// cloud VM's kernel (GitHub's hosted runners run "Linux/…-azure").
	ciMarkers = []string{"exec-env/", "github", "gitlab", "jenkins", "circleci", "buildkite", "codebuild", "md/ci", "-azure", "-aws", "amzn", "-gcp"}
	// workloadMarkers name SDKs and infrastructure tools.
	workloadMarkers = []string{"aws-sdk-", "boto3/", "botocore/", "terraform", "hashicorp", "pulumi", "cdk/", "aws-cdk", "cloudformation", "apn/", "s3fs", "rclone", "aws-internal"}
	// humanMarkers name the console and browsers.
	humanMarkers = []string{"console.amazonaws.com", "signin.amazonaws.com", "mozilla/", "aws-toolkit", "aws-powertools-interactive"}
)

// AgentKind classifies a CloudTrail userAgent. The AWS CLI counts as a
// person unless it names a CI system or execution environment: a CLI
// from a laptop is someone at a keyboard.
func AgentKind(ua string) Agent {
	s := strings.ToLower(ua)
	has := func(list []string) bool {
		return slices.ContainsFunc(list, func(m string) bool { return strings.Contains(s, m) })
	}
	switch {
	case s == "":
		return AgentUnknown
	case has(ciMarkers):
		return AgentWorkload
	case has(humanMarkers):
		return AgentHuman
	case strings.HasPrefix(s, "aws-cli/"):
		return AgentHuman
	case has(workloadMarkers):
		return AgentWorkload
	}
	return AgentUnknown
}
