package report

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/keyaudit/keyaudit/audit/inventory"
	"github.com/keyaudit/keyaudit/rules"
)

// HTMLWriter writes one self-contained HTML page: no external scripts,
// fonts or styles, so it opens offline and from an S3 link. Every value
// from AWS goes through html/template's escaping.
type HTMLWriter struct{}

//go:embed html.tmpl
var htmlSource string

var htmlTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"date": func(t interface{ Format(string) string }) string { return t.Format("2006-01-02 15:04 MST") },
}).Parse(htmlSource))

func (HTMLWriter) Write(w io.Writer, r *Report) error {
	return htmlTemplate.Execute(w, newHTMLView(r))
}

// htmlView is what the template shows, computed once here so the
// template stays declarative.
type htmlView struct {
	*Report
	Severities []severityCount
	Rules      []ruleCount
	AgeBands   []bar
	AgeMax     int
	ByAccount  []bar
	AccountMax int
	// AccountChartHeight is the per-account chart's height: a row per account.
	AccountChartHeight int
	// Open are the keys to act on, most severe first; CISVersion is the
	// benchmark version their CIS ids are shown in.
	Open       []actionView
	CISVersion rules.CISVersion
	Suppressed []rules.Finding
	Oldest     []rules.Finding
	NeverUsed  []rules.Finding
	Accounts   []string // for the account filter
	RuleIDs    []string
	// Risk is the top of the kill-first ranking; RiskPoints the chart of
	// blast radius against staleness, RiskAxis its ticks and rows.
	Risk       []riskRow
	RiskPoints []riskPoint
	RiskTicks  []riskTick
	RiskRows   []riskTick
}

// HTMLRiskRows is how many ranked keys the HTML table lists; the chart shows all.
const HTMLRiskRows = 50

type riskRow struct {
	rules.Risk
	Reason string
}

// riskPoint is one key on the chart; Rank is shown for the top ten.
type riskPoint struct {
	X, Y  int
	Rank  int
	Top   bool
	Title string
}

type riskTick struct {
	Label string
	At    int
}

// riskClasses are the chart's rows, worst at the top; "" is unknown.
var riskClasses = []inventory.Class{inventory.ClassAdmin, inventory.ClassEscalation, inventory.ClassData, inventory.ClassWrite, inventory.ClassReadOnly, inventory.ClassNone, ""}

// staleX places days since last use on a logarithmic axis: a week and a
// year both stay readable. Unknown goes to its own column on the right.
func staleX(days *int) int {
	if days == nil {
		return 560
	}
	return 130 + int(380*math.Log1p(float64(max(0, min(*days, 1000))))/math.Log1p(1000))
}

func riskChart(v *htmlView, ranked []rules.Risk) {
	for i, c := range riskClasses {
		label := string(c)
		if c == "" {
			label = "unknown"
		}
		v.RiskRows = append(v.RiskRows, riskTick{Label: label, At: 24 + i*26})
	}
	for _, d := range []int{0, 7, 30, 90, 365, 1000} {
		v.RiskTicks = append(v.RiskTicks, riskTick{Label: fmt.Sprint(d), At: staleX(&d)})
	}
	v.RiskTicks = append(v.RiskTicks, riskTick{Label: "unknown", At: staleX(nil)})
	for _, r := range ranked {
		row := slices.Index(riskClasses, r.BlastRadius)
		v.RiskPoints = append(v.RiskPoints, riskPoint{X: staleX(r.StaleDays), Y: 24 + row*26, Rank: r.Rank, Top: r.Rank <= KillFirstRows,
			Title: fmt.Sprintf("#%d %s (%s): score %d", r.Rank, r.Principal, accountLabel(r.AccountID, r.AccountName, ""), r.Score)})
		if len(v.Risk) < HTMLRiskRows {
			v.Risk = append(v.Risk, riskRow{Risk: r, Reason: r.Reason()})
		}
	}
}

type severityCount struct {
	Name  string
	Count int
}

type ruleCount struct {
	ID    string
	CIS   string // in the version shown
	Count int
}

// actionView is one key to act on: its action, the messages of its open
// findings, and its rules with their CIS ids.
type actionView struct {
	rules.Action
	Label    string // the account, for the filter
	Messages []string
	RuleRefs []ruleCount
	RuleList string // the rule ids, space-separated, for the filter
}

// bar is one bar of an SVG chart; X, Y, W, H are in the chart's units.
type bar struct {
	Label      string
	Count      int
	X, Y, W, H int
	Threshold  string // a threshold drawn at this band's start, e.g. "45 d"
}

// ageBands are the key-age chart's bands; the 45- and 90-day thresholds
// (unused_days, max_key_age_days) fall on band edges.
var ageBands = []struct {
	label     string
	upTo      int
	threshold string
}{{"0–30", 30, ""}, {"31–45", 45, ""}, {"46–90", 90, "45 d"}, {"91–180", 180, "90 d"}, {"181–365", 365, ""}, {"> 365", 1 << 30, ""}}

func newHTMLView(r *Report) htmlView {
	v := htmlView{Report: r}
	for _, s := range rules.Severities {
		v.Severities = append(v.Severities, severityCount{string(s), r.Summary.BySeverity[string(s)]})
	}
	v.CISVersion = r.cisVersion()
	cis := cisByRule()
	for _, rule := range rules.Catalogue() {
		if n := r.Summary.ByRule[rule.ID]; n > 0 {
			v.Rules = append(v.Rules, ruleCount{rule.ID, rule.CIS.In(v.CISVersion), n})
		}
	}
	messages := openMessages(r.Findings)
	for _, a := range urgentFirst(r.Actions) {
		av := actionView{Action: a, Label: accountLabel(a.AccountID, a.AccountName, ""), RuleList: strings.Join(a.Rules, " "),
			Messages: inRuleOrder(messages[keyOf(a.AccountID, a.Principal, a.AccessKeyID, a.KeySlot)], a.Rules)}
		for _, id := range a.Rules {
			av.RuleRefs = append(av.RuleRefs, ruleCount{ID: id, CIS: cis[id].In(v.CISVersion)})
		}
		v.Open = append(v.Open, av)
	}

	counts := make([]int, len(ageBands))
	for _, age := range r.KeyAges {
		for i, b := range ageBands {
			if age <= b.upTo {
				counts[i]++
				break
			}
		}
	}
	v.AgeMax = maxOf(counts)
	for i, b := range ageBands {
		h := scale(counts[i], v.AgeMax, 140)
		v.AgeBands = append(v.AgeBands, bar{Label: b.label, Count: counts[i], X: 40 + i*90, Y: 170 - h, W: 70, H: h, Threshold: b.threshold})
	}

	perAccount := map[string]int{}
	accountSet := map[string]bool{}
	neverSeen := map[string]bool{}
	ruleSet := map[string]bool{}
	for _, f := range r.Findings {
		if f.Suppressed != nil {
			v.Suppressed = append(v.Suppressed, f)
			continue
		}
		label := accountLabel(f.AccountID, f.AccountName, "")
		perAccount[label]++
		accountSet[label] = true
		ruleSet[f.Rule] = true
		if f.Rule == "key-rotation" {
			v.Oldest = append(v.Oldest, f)
		}
		if key := f.AccountID + f.Principal + f.AccessKeyID + fmt.Sprint(f.KeySlot); f.Details.NeverUsed && !neverSeen[key] {
			neverSeen[key] = true
			v.NeverUsed = append(v.NeverUsed, f)
		}
	}
	sort.SliceStable(v.Oldest, func(i, j int) bool {
		return deref(v.Oldest[i].Details.KeyAgeDays) > deref(v.Oldest[j].Details.KeyAgeDays)
	})
	v.Oldest = v.Oldest[:min(10, len(v.Oldest))]
	v.NeverUsed = v.NeverUsed[:min(10, len(v.NeverUsed))]

	for label := range accountSet {
		v.Accounts = append(v.Accounts, label)
	}
	sort.Strings(v.Accounts)
	for id := range ruleSet {
		v.RuleIDs = append(v.RuleIDs, id)
	}
	sort.Strings(v.RuleIDs)
	values := make([]int, 0, len(v.Accounts))
	for _, a := range v.Accounts {
		values = append(values, perAccount[a])
	}
	v.AccountMax = maxOf(values)
	for i, a := range v.Accounts {
		v.ByAccount = append(v.ByAccount, bar{Label: a, Count: perAccount[a], X: 0, Y: i * 26, W: scale(perAccount[a], v.AccountMax, 300), H: 18})
	}
	v.AccountChartHeight = len(v.Accounts)*26 + 4
	riskChart(&v, r.Risk)
	return v
}

func scale(n, top, size int) int {
	if top == 0 {
		return 0
	}
	return n * size / top
}

func maxOf(xs []int) int {
	m := 0
	for _, x := range xs {
		m = max(m, x)
	}
	return m
}

func deref(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}
