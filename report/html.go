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
	Coverage   string // what the CIS ids shown do not cover
	Suppressed []rules.Finding
	// Oldest are the keys over the rotation limit and the root user's,
	// oldest first; NeverUsed the keys never used, from the findings and
	// the ranking (an active key that broke no rule yet is ranked).
	Oldest    []keyRow
	NeverUsed []keyRow
	Accounts  []string // for the account filter
	RuleIDs   []string
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

// riskPoint is one key on the chart; Rank is shown for the top ten. Label
// holds the ranks of the top keys on this very spot ("5, 7, 8") on the
// first of them, drawn at LabelX, LabelY (the text's baseline), with a
// line to the dot when Leader: the label had to move away from it.
type riskPoint struct {
	X, Y           int
	Rank           int
	Top            bool
	Title          string
	Label          string
	LabelX, LabelY int
	Leader         bool
}

// box is a rectangle on the chart: left, top, right, bottom.
type box struct{ x0, y0, x1, y1 int }

func (a box) overlaps(b box) bool { return a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1 }

// labelBox is where a rank label drawn at x, y (its baseline) falls: the
// chart's 12px text, at most about 7px a character, from 10px above the
// baseline to 3px below.
func labelBox(x, y int, text string) box {
	return box{x - 1, y - 10, x + 7*len(text) + 1, y + 3}
}

// The chart's plotting area, which a label must stay inside.
const chartLeft, chartTop, chartRight, chartBottom = 120, 0, 600, 200

// placeLabels puts each top point's rank label beside its dot where it
// overlaps no other label and, if it can, no other numbered dot: the first
// free place of rings of candidates, nearest first. Points are in rank
// order, so the riskiest keys keep the nearest places.
func placeLabels(points []riskPoint) {
	var dots, placed []box
	first := map[[2]int]int{} // the first top point on each spot
	for i, p := range points {
		if !p.Top {
			continue
		}
		dots = append(dots, box{p.X - 6, p.Y - 6, p.X + 6, p.Y + 6})
		spot := [2]int{p.X, p.Y}
		if j, ok := first[spot]; ok {
			points[j].Label += fmt.Sprintf(", %d", p.Rank)
			continue
		}
		first[spot] = i
		points[i].Label = fmt.Sprint(p.Rank)
	}
	free := func(b box, avoidDots bool) bool {
		if b.x0 < chartLeft || b.x1 > chartRight || b.y0 < chartTop || b.y1 > chartBottom {
			return false
		}
		for _, o := range placed {
			if b.overlaps(o) {
				return false
			}
		}
		if avoidDots {
			for _, d := range dots {
				if b.overlaps(d) {
					return false
				}
			}
		}
		return true
	}
	for i := range points {
		p := &points[i]
		if p.Label == "" {
			continue
		}
		text := p.Label
		w := 7 * len(text)
		// Right above (the usual place), right below, left above, left
		// below, above, below; then the same, further out.
		offsets := [][2]int{{8, -6}, {8, 14}, {-8 - w, -6}, {-8 - w, 14}, {-w / 2, -10}, {-w / 2, 22}}
	search:
		for _, avoidDots := range []bool{true, false} {
			for ring := 1; ring <= 12; ring++ {
				for _, o := range offsets {
					x, y := p.X+o[0]*ring, p.Y+o[1]*ring
					if ring > 1 {
						// Further rings step by half a label's size, not by a multiple.
						x, y = p.X+o[0]+sign(o[0])*(ring-1)*(w/2+4), p.Y+o[1]+sign(o[1])*(ring-1)*8
					}
					if b := labelBox(x, y, text); free(b, avoidDots) {
						p.LabelX, p.LabelY, p.Leader = x, y, ring > 1
						placed = append(placed, b)
						break search
					}
				}
			}
		}
	}
}

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
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
	placeLabels(v.RiskPoints)
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

// keyRow is one key in a short list: Days is its age, or for a key never
// used the days since it was created.
type keyRow struct {
	AccountID, AccountName, Principal, AccessKeyID string
	KeySlot, Days                                  int
	Root                                           bool
}

// keyList collects keys once each, in the order first added.
type keyList struct {
	rows []keyRow
	seen map[keyRef]bool
}

func (l *keyList) add(account, name, principal, key string, slot, days int) {
	ref := keyOf(account, principal, key, slot)
	if l.seen == nil {
		l.seen = map[keyRef]bool{}
	}
	if l.seen[ref] {
		return
	}
	l.seen[ref] = true
	l.rows = append(l.rows, keyRow{AccountID: account, AccountName: name, Principal: principal, AccessKeyID: key, KeySlot: slot, Days: days, Root: principal == inventory.RootName})
}

// top returns the ten with the most days, most first.
func (l *keyList) top() []keyRow {
	sort.SliceStable(l.rows, func(i, j int) bool { return l.rows[i].Days > l.rows[j].Days })
	return l.rows[:min(10, len(l.rows))]
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
	v.Coverage = CoverageNote(v.CISVersion)
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
	ruleSet := map[string]bool{}
	var oldest, never keyList
	for _, f := range r.Findings {
		if f.Suppressed != nil {
			v.Suppressed = append(v.Suppressed, f)
			continue
		}
		label := accountLabel(f.AccountID, f.AccountName, "")
		perAccount[label]++
		accountSet[label] = true
		ruleSet[f.Rule] = true
		if age := f.Details.KeyAgeDays; age != nil && (f.Rule == rules.KeyRotation || f.Rule == rules.RootAccessKey) {
			oldest.add(f.AccountID, f.AccountName, f.Principal, f.AccessKeyID, f.KeySlot, *age)
		}
		if age := f.Details.KeyAgeDays; age != nil && f.Details.NeverUsed {
			never.add(f.AccountID, f.AccountName, f.Principal, f.AccessKeyID, f.KeySlot, *age)
		}
	}
	for _, k := range r.Risk {
		if k.StaleDays != nil && slices.ContainsFunc(k.Factors, func(f rules.Factor) bool { return f.ID == rules.FactorNeverUsed }) {
			never.add(k.AccountID, k.AccountName, k.Principal, k.AccessKeyID, k.KeySlot, *k.StaleDays)
		}
	}
	v.Oldest, v.NeverUsed = oldest.top(), never.top()

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
