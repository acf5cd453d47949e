// Package report is the report of one run (its model and how two runs
// differ) and the formats people and machines read it in (JSON, CSV, the
// terminal table, HTML, Markdown, OCSF). Writers know only findings and
// actions; they own nothing: callers open and close. Sending a report
// anywhere is internal/deliver's.
package report

import (
	"io"
	"time"

	"github.com/keyaudit/keyaudit/audit/inventory"
	"github.com/keyaudit/keyaudit/rules"
)

// SchemaVersion is the version of the JSON report contract
// (report/schema.json). Bump it on any incompatible change.
//
// 2: one action per key (actions, with the plan); findings lose
// rotation_plan; cis is an object of ids by benchmark version.
const SchemaVersion = "2"

// Report is one audit run: what was covered and what was found.
type Report struct {
	SchemaVersion string          `json:"schema_version"`
	RunID         string          `json:"run_id,omitempty"`
	GeneratedAt   time.Time       `json:"generated_at"`
	AsOf          time.Time       `json:"as_of"`
	Demo          bool            `json:"demo,omitempty"`
	Accounts      []Account       `json:"accounts"`
	Findings      []rules.Finding `json:"findings"`
	// Actions are what to do: one per key with findings, each with one plan.
	Actions []rules.Action `json:"actions"`
	Summary Summary        `json:"summary"`
	// Incomplete says why the run is not whole (SetIncomplete): the
	// organization's listing failed part way, or in the Distributed Map a
	// Map failed or stored results were unusable.
	Incomplete string   `json:"incomplete,omitempty"`
	Warnings   []string `json:"warnings,omitempty"`
	// KeyAges are the ages in days of every active key audited, for the
	// age chart: findings alone would not show the healthy keys.
	KeyAges []int `json:"key_ages,omitempty"`
	// Keys are the keys whois and local were asked about, with whose they are.
	Keys []inventory.Sighting `json:"keys,omitempty"`
	// Risk is the kill-first ranking (rules.Rank), ordered by rank;
	// RiskNotes say what it does not cover (rules.RiskNotes).
	Risk      []rules.Risk `json:"risk"`
	RiskNotes []string     `json:"risk_notes,omitempty"`
	// Resolved are the previous run's open findings this run no longer
	// has, in accounts audited ok in both (report.CarryOver): OCSF closes
	// them. Not part of the JSON report, which lists what is open.
	Resolved []rules.Finding `json:"-"`
	// CISVersion is the benchmark version the table, HTML and Markdown
	// show (config cis_version); JSON and CSV carry every version.
	CISVersion rules.CISVersion `json:"-"`
}

// cisVersion is the version to show: the report's, or the default.
func (r *Report) cisVersion() rules.CISVersion {
	if r.CISVersion == "" {
		return rules.DefaultCISVersion
	}
	return r.CISVersion
}

// Account is one audited target's coverage: ok, error (with an actionable
// reason) or skipped.
type Account struct {
	ID     string           `json:"account_id"`
	Name   string           `json:"account_name,omitempty"`
	Status inventory.Status `json:"status"`
	Error  string           `json:"error,omitempty"`
	Users  int              `json:"users"`
	Keys   int              `json:"keys"`
}

// Summary counts findings that are not suppressed, and accounts by status.
type Summary struct {
	Findings   int            `json:"findings"`
	Suppressed int            `json:"suppressed"`
	BySeverity map[string]int `json:"by_severity"`
	ByRule     map[string]int `json:"by_rule"`
	Accounts   map[string]int `json:"accounts"`
}

// Writer renders a report in one format.
type Writer interface {
	Write(w io.Writer, r *Report) error
}
