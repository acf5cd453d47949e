package report

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/keyaudit/keyaudit/rules"
)

// OCSFVersion is the OCSF schema version of --format ocsf: the version
// Security Hub ingests (docs.aws.amazon.com/securityhub/latest/userguide/securityhub-ocsf.html).
const OCSFVersion = "1.6.0"

// Detection Finding (class 2004 in category 2, Findings): the class
// Prowler and Security Hub use for posture findings. Its activity is
// Create for a finding first seen by this run, Update for one an earlier
// run reported, Close for one the previous run had and this one no longer
// has (Report.Resolved).
const (
	ocsfCategory = 2
	ocsfClass    = 2004
	ocsfCreate   = 1
	ocsfUpdate   = 2
	ocsfClose    = 3
)

var ocsfActivity = map[int]string{ocsfCreate: "Create", ocsfUpdate: "Update", ocsfClose: "Close"}

// OCSFWriter writes one OCSF Detection Finding per finding, as one JSON
// array: the form Prowler's .ocsf.json takes, which Security Lake custom
// sources and the Prowler tooling read. An empty report is [].
type OCSFWriter struct{}

func (OCSFWriter) Write(w io.Writer, r *Report) error {
	actions := actionsByKey(r.Actions)
	// One event at a time: "<root_account>" stays readable (no HTML escaping).
	n := len(r.Findings)
	return writeJSONArray(w, list{n: n + len(r.Resolved), elem: func(i int) any {
		if i >= n {
			return newOCSFEvent(r, &r.Resolved[i-n], &rules.Action{}, true)
		}
		f := &r.Findings[i]
		a := actions[keyOf(f.AccountID, f.Principal, f.AccessKeyID, f.KeySlot)]
		return newOCSFEvent(r, f, &a, false)
	}})
}

// ocsfEvent holds the attributes of Detection Finding keyaudit fills;
// testdata/ocsf holds the class's JSON Schema the tests check it against.
type ocsfEvent struct {
	ActivityID   int    `json:"activity_id"`
	ActivityName string `json:"activity_name"`
	CategoryUID  int    `json:"category_uid"`
	CategoryName string `json:"category_name"`
	ClassUID     int    `json:"class_uid"`
	ClassName    string `json:"class_name"`
	TypeUID      int    `json:"type_uid"`
	TypeName     string `json:"type_name"`
	Time         int64  `json:"time"`
	Message      string `json:"message"`
	SeverityID   int    `json:"severity_id"`
	Severity     string `json:"severity"`
	StatusID     int    `json:"status_id"`
	Status       string `json:"status"`
	StatusDetail string `json:"status_detail,omitempty"`

	Metadata    ocsfMetadata    `json:"metadata"`
	Cloud       ocsfCloud       `json:"cloud"`
	FindingInfo ocsfFindingInfo `json:"finding_info"`
	Resources   []ocsfResource  `json:"resources"`
	Remediation ocsfRemediation `json:"remediation"`
	Unmapped    ocsfUnmapped    `json:"unmapped"`
}

type ocsfMetadata struct {
	Version   string      `json:"version"`
	Product   ocsfProduct `json:"product"`
	Profiles  []string    `json:"profiles"`
	EventCode string      `json:"event_code"`
	// CorrelationUID is the run ID: the events of one run share it.
	CorrelationUID string `json:"correlation_uid,omitempty"`
}

type ocsfProduct struct {
	Name       string `json:"name"`
	UID        string `json:"uid"`
	VendorName string `json:"vendor_name"`
}

type ocsfCloud struct {
	Provider  string      `json:"provider"`
	Partition string      `json:"cloud_partition"`
	Account   ocsfAccount `json:"account"`
}

type ocsfAccount struct {
	UID    string `json:"uid"`
	Name   string `json:"name,omitempty"`
	TypeID int    `json:"type_id"`
	Type   string `json:"type"`
}

type ocsfFindingInfo struct {
	UID         string       `json:"uid"`
	Title       string       `json:"title"`
	Desc        string       `json:"desc"`
	Types       []string     `json:"types"`
	CreatedTime int64        `json:"created_time"`
	Analytic    ocsfAnalytic `json:"analytic"`
}

// ocsfAnalytic names the rule that produced the finding (type 1: Rule).
type ocsfAnalytic struct {
	UID    string `json:"uid"`
	Name   string `json:"name"`
	TypeID int    `json:"type_id"`
	Type   string `json:"type"`
}

type ocsfResource struct {
	Type        string         `json:"type"`
	UID         string         `json:"uid"`
	Name        string         `json:"name"`
	Partition   string         `json:"cloud_partition"`
	CreatedTime int64          `json:"created_time,omitempty"`
	Owner       *ocsfUser      `json:"owner,omitempty"`
	Data        map[string]any `json:"data,omitempty"`
}

type ocsfUser struct {
	Name    string      `json:"name"`
	UID     string      `json:"uid"`
	Account ocsfAccount `json:"account"`
}

type ocsfRemediation struct {
	Desc string `json:"desc"`
}

// ocsfUnmapped carries what Detection Finding 1.6 has no attribute for:
// the CIS ids by benchmark version (compliance belongs to Compliance
// Finding; Prowler puts it here too) and the plan's steps as data.
type ocsfUnmapped struct {
	Compliance map[string][]string `json:"compliance,omitempty"`
	Plan       []rules.Step        `json:"plan,omitempty"`
}

var ocsfSeverity = map[rules.Severity]struct {
	id   int
	name string
}{
	rules.Low: {2, "Low"}, rules.Medium: {3, "Medium"}, rules.High: {4, "High"}, rules.Critical: {5, "Critical"},
}

// newOCSFEvent is f as a Detection Finding; closed says the finding is
// one of the previous run's that this run no longer has.
func newOCSFEvent(r *Report, f *rules.Finding, a *rules.Action, closed bool) ocsfEvent {
	sev, ok := ocsfSeverity[f.Severity]
	if !ok {
		sev.name = "Unknown"
	}
	status, statusID, detail := "New", 1, ""
	if f.Suppressed != nil {
		status, statusID, detail = "Suppressed", 3, SuppressionText(f.Suppressed)
	}
	activity, created := ocsfCreate, r.AsOf
	switch {
	case closed:
		activity, status, statusID, detail = ocsfClose, "Resolved", 4, "no longer found by this run"
		created = f.FirstSeen
	case !f.FirstSeen.IsZero() && f.FirstSeen.Before(r.AsOf):
		activity, created = ocsfUpdate, f.FirstSeen
	}
	asOf := r.AsOf.UnixMilli()
	account := ocsfAccount{UID: f.AccountID, Name: f.AccountName, TypeID: 10, Type: "AWS Account"}
	partition := PartitionOf(f.PrincipalARN)
	user := ocsfResource{Type: "AwsIamUser", UID: f.PrincipalARN, Name: f.Principal, Partition: partition}
	resources := []ocsfResource{user}
	if f.AccessKeyID != "" {
		key := ocsfResource{Type: "AwsIamAccessKey", UID: f.AccessKeyID, Name: f.AccessKeyID, Partition: partition,
			Owner: &ocsfUser{Name: f.Principal, UID: f.PrincipalARN, Account: account}, Data: keyData(f)}
		if !f.Details.KeyCreated.IsZero() {
			key.CreatedTime = f.Details.KeyCreated.UnixMilli()
		}
		resources = []ocsfResource{key, user}
	} else if f.KeySlot != 0 {
		resources[0].Data = map[string]any{"key_slot": f.KeySlot}
	}
	compliance := map[string][]string{}
	for _, v := range rules.CISVersions {
		if id := f.CIS.In(v); id != "" {
			compliance["CIS-"+strings.TrimPrefix(string(v), "v")] = []string{id}
		}
	}
	return ocsfEvent{
		ActivityID: activity, ActivityName: ocsfActivity[activity],
		CategoryUID: ocsfCategory, CategoryName: "Findings",
		ClassUID: ocsfClass, ClassName: "Detection Finding",
		TypeUID: ocsfClass*100 + activity, TypeName: "Detection Finding: " + ocsfActivity[activity],
		Time: asOf, Message: f.Message,
		SeverityID: sev.id, Severity: sev.name,
		StatusID: statusID, Status: status, StatusDetail: detail,
		Metadata: ocsfMetadata{Version: OCSFVersion, Profiles: []string{"cloud"}, EventCode: f.Rule, CorrelationUID: r.RunID,
			Product: ocsfProduct{Name: "keyaudit", UID: "keyaudit", VendorName: "keyaudit"}},
		Cloud: ocsfCloud{Provider: "AWS", Partition: partition, Account: account},
		FindingInfo: ocsfFindingInfo{UID: FindingUID(f), Title: RuleTitle(f.Rule), Desc: f.Message,
			Types: FindingTypes(f), CreatedTime: created.UnixMilli(),
			Analytic: ocsfAnalytic{UID: f.Rule, Name: f.Rule, TypeID: 1, Type: "Rule"}},
		Resources:   resources,
		Remediation: ocsfRemediation{Desc: remediationText(f, a)},
		Unmapped:    ocsfUnmapped{Compliance: compliance, Plan: a.Plan},
	}
}

// keyData is what the report knows of a key's state.
func keyData(f *rules.Finding) map[string]any {
	d := map[string]any{}
	if f.KeySlot != 0 {
		d["key_slot"] = f.KeySlot
	}
	if f.Details.KeyActive != nil {
		d["status"] = KeyStatus(*f.Details.KeyActive)
	}
	if len(d) == 0 {
		return nil
	}
	return d
}

// KeyStatus is a key's status as IAM words it.
func KeyStatus(active bool) string {
	if active {
		return "Active"
	}
	return "Inactive"
}

// SuppressionText says why and until when a finding is suppressed.
func SuppressionText(s *rules.Suppress) string {
	text := "suppressed: " + s.Reason
	if !s.Expires.IsZero() {
		text += " (until " + s.Expires.UTC().Format(time.DateOnly) + ")"
	}
	return text
}

// FindingUID identifies a finding in OCSF and Security Hub: stable across
// runs because the fingerprint is.
func FindingUID(f *rules.Finding) string { return "keyaudit-" + f.Fingerprint }

// Finding types in the ASFF taxonomy (namespace/category), which OCSF
// finding_info.types reuses as Prowler's does.
const (
	typeBestPractices = "Software and Configuration Checks/AWS Security Best Practices"
	typeCIS           = "Industry and Regulatory Standards/CIS AWS Foundations Benchmark"
)

// FindingTypes are a finding's ASFF types (also OCSF's).
func FindingTypes(f *rules.Finding) []string {
	if len(f.CIS) == 0 {
		return []string{typeBestPractices}
	}
	return []string{typeBestPractices, typeCIS}
}

// RuleTitle is the rule's one-line description from the catalogue, as a
// title: "An active IAM user key is older than the limit: rotate it".
func RuleTitle(id string) string {
	for _, rule := range rules.Catalogue() {
		if rule.ID == id && rule.Description != "" {
			return strings.ToUpper(rule.Description[:1]) + rule.Description[1:]
		}
	}
	return id
}

// remediationText is the recommendation followed by the key's plan.
func remediationText(f *rules.Finding, a *rules.Action) string {
	if plan := PlanText(a); plan != "" {
		return f.Recommendation + "\n\n" + plan
	}
	return f.Recommendation
}

// PlanText is the action's summary and its plan, one numbered step a line
// with its command below.
func PlanText(a *rules.Action) string {
	var b strings.Builder
	b.WriteString(a.Summary)
	for i, s := range a.Plan {
		fmt.Fprintf(&b, "\n%d. %s", i+1, s.Action)
		if s.Command != "" {
			fmt.Fprintf(&b, "\n   %s", s.Command)
		}
	}
	return strings.TrimSpace(b.String())
}

// PartitionOf reads the partition from an ARN ("aws" when there is none).
func PartitionOf(arn string) string {
	if parts := strings.SplitN(arn, ":", 3); len(parts) == 3 && parts[0] == "arn" && parts[1] != "" {
		return parts[1]
	}
	return "aws"
}
