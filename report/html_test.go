package report_test

import (
	"encoding/xml"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/keyaudit/keyaudit/audit/inventory"
	"github.com/keyaudit/keyaudit/report"
	"github.com/keyaudit/keyaudit/rules"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHTMLEscapesHostileStrings(t *testing.T) {
	r := fixture()
	hostile := `<script>alert(1)</script>"'</style>{{.}}`
	long := strings.Repeat("x", 5000)
	require.NotEmpty(t, r.Actions)
	a := &r.Actions[0]
	a.Principal, a.AccountName, a.Summary = hostile, hostile, "summary "+hostile
	a.Plan = append(a.Plan, rules.Step{Action: "step " + hostile, Command: "aws iam create-access-key --user-name '" + hostile + "'"})
	r.Findings[0].Message = "message " + hostile
	r.Accounts[1].Error = long
	r.Accounts[0].Name = hostile
	require.NotEmpty(t, r.Risk)
	r.Risk[0].Principal, r.Risk[0].Factors[0].Detail = hostile, hostile
	fenced := regexp.MustCompile("(?s)```sh\n.*?```")
	for _, w := range []report.Writer{report.HTMLWriter{}, report.MarkdownWriter{}} {
		// Markdown shows commands verbatim, in code blocks, where markup does not render.
		out := fenced.ReplaceAllString(string(render(t, w, r)), "")
		assert.NotContains(t, out, "<script>alert", "%T lets markup through", w)
		assert.NotContains(t, out, "</style>{{", "%T lets markup through", w)
	}
	html := string(render(t, report.HTMLWriter{}, r))
	assert.Contains(t, html, "&lt;script&gt;alert(1)&lt;/script&gt;", "the hostile name does not appear escaped")
	assert.Contains(t, html, "overflow-wrap:anywhere", "long values are not wrapped")
	assert.Contains(t, html, long, "long values are not kept")
	// Still well-formed: every element closes in order (checked as XML,
	// with the void elements and the script body set aside).
	body := regexp.MustCompile(`(?s)<script>.*?</script>|<(meta|br)[^>]*>|<!DOCTYPE html>`).ReplaceAllString(html, "")
	d := xml.NewDecoder(strings.NewReader(body))
	d.Strict, d.Entity = true, xml.HTMLEntity
	for {
		if _, err := d.Token(); err != nil {
			assert.Equal(t, "EOF", err.Error(), "page not well-formed")
			break
		}
	}
}

func TestHTMLIsSelfContained(t *testing.T) {
	html := string(render(t, report.HTMLWriter{}, fixture())) + string(render(t, report.HTMLWriter{}, actionsFixture()))
	external := regexp.MustCompile(`(?i)(src|href)\s*=\s*"(https?:)?//|@import|url\(\s*['"]?(https?:)?//`)
	assert.Empty(t, external.FindString(html), "the report loads an external resource")
	for _, want := range []string{"<svg", "45 d", "90 d", "Suppressed findings (1)", "mainframe retirement, INC-42", "2026-12-31", "<details>", "@media print",
		"Keys to act on (2)", "Rules (CIS v6.0.0)", "Rules (CIS v5.0.0)", `data-rule="key-rotation key-two-active"`, "get-access-key-last-used --access-key-id AKIAAAAAAAAAAAAAAAA4"} {
		assert.Contains(t, html, want)
	}
}

func TestHTMLKillFirst(t *testing.T) {
	r := fixture()
	html := string(render(t, report.HTMLWriter{}, r))
	assert.Equal(t, len(r.Risk), strings.Count(html, "<circle "), "case one dot per ranked key")
	assert.Contains(t, html, `<h2 id="kill-first">Kill first</h2>`, "case section")
	assert.Contains(t, html, "#1 &lt;root_account&gt; (prod (111111111111)): score 82", "case the top key's dot names it")
	assert.Contains(t, html, "resource policies are out of scope", "case scope note")
	assert.Contains(t, html, "<code>blast-via-group</code> +2: administrator only through group membership", "case factors listed")
	assert.NotContains(t, string(render(t, report.HTMLWriter{}, empty())), "kill-first", "case no keys: no section")
}

// rankLabel is a rank label of the kill-first chart as drawn: the ranks
// of the keys on one spot.
type rankLabel struct {
	text string
	x, y int
}

func rankLabels(t *testing.T, html string) []rankLabel {
	t.Helper()
	var out []rankLabel
	for _, m := range regexp.MustCompile(`<text class="rank" x="(-?\d+)" y="(-?\d+)">([\d, ]+)</text>`).FindAllStringSubmatch(html, -1) {
		x, _ := strconv.Atoi(m[1])
		y, _ := strconv.Atoi(m[2])
		out = append(out, rankLabel{m[3], x, y})
	}
	return out
}

// Issue 22.5: the kill-first chart's rank labels never overlap, however
// close the dots: ten keys on one spot (one label), ten a few pixels apart,
// and clusters at the chart's corners. A label's box is the chart's 12px text, 7px a digit.
func TestHTMLRankLabelsDoNotOverlap(t *testing.T) {
	stale := func(d int) *int { return &d }
	cases := map[string][]rules.Risk{}
	for i := range 12 {
		cases["one spot"] = append(cases["one spot"], rules.Risk{Rank: i + 1, Principal: fmt.Sprint("u", i), Score: 90 - i, BlastRadius: inventory.ClassAdmin, StaleDays: stale(30)})
	}
	for i := range 10 { // a few pixels apart
		cases["near"] = append(cases["near"], rules.Risk{Rank: i + 1, Principal: fmt.Sprint("u", i), Score: 90 - i, BlastRadius: inventory.ClassAdmin, StaleDays: stale(30 + i)})
	}
	classes := []inventory.Class{inventory.ClassAdmin, inventory.ClassEscalation, ""}
	for i := range 10 {
		days := []int{0, 1, 1000, 999}[i%4]
		cases["corners"] = append(cases["corners"], rules.Risk{Rank: i + 1, Principal: fmt.Sprint("u", i), Score: 90 - i, BlastRadius: classes[i%3], StaleDays: stale(days)})
	}
	for name, ranked := range cases {
		r := empty()
		r.Risk = ranked
		labels := rankLabels(t, string(render(t, report.HTMLWriter{}, r)))
		var ranks []string
		for _, l := range labels {
			ranks = append(ranks, strings.Split(l.text, ", ")...)
		}
		assert.ElementsMatch(t, strings.Fields("1 2 3 4 5 6 7 8 9 10"), ranks, "case %s: each of the top 10 labelled once", name)
		box := func(l rankLabel) [4]int {
			return [4]int{l.x - 1, l.y - 10, l.x + 7*len(l.text) + 1, l.y + 3}
		}
		for i, a := range labels {
			ba := box(a)
			assert.True(t, ba[0] >= 120 && ba[2] <= 600 && ba[1] >= 0 && ba[3] <= 200, "case %s: label %q outside the plot: %v", name, a.text, ba)
			for _, b := range labels[i+1:] {
				bb := box(b)
				overlap := ba[0] < bb[2] && bb[0] < ba[2] && ba[1] < bb[3] && bb[1] < ba[3]
				assert.False(t, overlap, "case %s: labels %q and %q overlap: %v %v", name, a.text, b.text, ba, bb)
			}
		}
	}
}

// section returns the HTML of the section whose heading has id.
func section(t *testing.T, html, id string) string {
	t.Helper()
	m := regexp.MustCompile(`(?s)<h2 id="` + id + `">.*?</section>`).FindString(html)
	require.NotEmpty(t, m, "section %s", id)
	return m
}

// Issue 22.5: the panels agree with the ranking: a key never used shows
// even when it broke no rule yet, and the root user's key is among the
// oldest.
func TestHTMLPanelsAreTruthful(t *testing.T) {
	fresh := inventory.Key{ID: "AKIAAAAAAAAAAAAAAAA9", Slot: 1, Active: true, CreatedAt: asOf.AddDate(0, 0, -10), LastUsed: inventory.LastUse{Known: true, Never: true}}
	root := inventory.Key{Slot: 1, Active: true, CreatedAt: asOf.AddDate(0, 0, -980), LastUsed: inventory.LastUse{Known: true, At: asOf.AddDate(0, 0, -3)}}
	prod := inventory.Account{ID: "111111111111", Name: "prod", Status: inventory.StatusOK,
		Root:  &inventory.User{Name: inventory.RootName, ARN: "arn:aws:iam::111111111111:root", Root: true, Keys: []inventory.Key{root}},
		Users: []inventory.User{iamUser("fresh", fresh), iamUser("old", usedKey("AKIAAAAAAAAAAAAAAAA8", 1, 400, 1))}}
	r := build(rules.Defaults(), []inventory.Account{prod}, nil)
	for _, f := range r.Findings {
		require.NotEqual(t, "fresh", f.Principal, "the fresh key breaks no rule (%s)", f.Rule)
	}
	html := string(render(t, report.HTMLWriter{}, r))

	never := section(t, html, "never")
	assert.Contains(t, never, "<td>fresh</td>", "case never used, no finding: listed")
	assert.Contains(t, never, "10 d ago", "case never used: days since creation")
	assert.NotContains(t, never, "No key that was never used", "case never used: the empty note")

	oldest := section(t, html, "oldest")
	rootAt, oldAt := strings.Index(oldest, "&lt;root_account&gt;"), strings.Index(oldest, "<td>old</td>")
	require.Positive(t, rootAt, "case oldest: the root key listed:\n%s", oldest)
	require.Positive(t, oldAt, "case oldest: the rotation finding listed")
	assert.Less(t, rootAt, oldAt, "case oldest: 980 days before 400")
	assert.Contains(t, oldest, "980 d", "case oldest: the root key's age")
}
