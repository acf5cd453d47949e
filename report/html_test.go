package report_test

import (
	"encoding/xml"
	"regexp"
	"strings"
	"testing"

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
