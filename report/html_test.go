package report_test

import (
	"encoding/xml"
	"regexp"
	"strings"
	"testing"

	"github.com/keyaudit/keyaudit/report"
)

func TestHTMLEscapesHostileStrings(t *testing.T) {
	r := fixture()
	hostile := `<script>alert(1)</script>"'</style>{{.}}`
	long := strings.Repeat("x", 5000)
	r.Findings[1].Principal = hostile
	r.Findings[1].AccountName = hostile
	r.Findings[1].Message = "message " + hostile
	r.Findings[1].RotationPlan[0].Command = "aws iam create-access-key --user-name '" + hostile + "'"
	r.Accounts[1].Error = long
	r.Accounts[0].Name = hostile
	for _, w := range []report.Writer{report.HTMLWriter{}, report.MarkdownWriter{}} {
		out := string(render(t, w, r))
		if strings.Contains(out, "<script>alert") || strings.Contains(out, "</style>{{") {
			t.Errorf("%T lets markup through:\n%s", w, out)
		}
	}
	html := string(render(t, report.HTMLWriter{}, r))
	if !strings.Contains(html, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Error("the hostile name does not appear escaped")
	}
	if !strings.Contains(html, "overflow-wrap:anywhere") || !strings.Contains(html, long) {
		t.Error("long values are not kept and wrapped")
	}
	// Still well-formed: every element closes in order (checked as XML,
	// with the void elements and the script body set aside).
	body := regexp.MustCompile(`(?s)<script>.*?</script>|<(meta|br)[^>]*>|<!DOCTYPE html>`).ReplaceAllString(html, "")
	d := xml.NewDecoder(strings.NewReader(body))
	d.Strict, d.Entity = true, xml.HTMLEntity
	for {
		if _, err := d.Token(); err != nil {
			if err.Error() != "EOF" {
				t.Errorf("page not well-formed: %v", err)
			}
			break
		}
	}
}

func TestHTMLIsSelfContained(t *testing.T) {
	html := string(render(t, report.HTMLWriter{}, fixture()))
	external := regexp.MustCompile(`(?i)(src|href)\s*=\s*"(https?:)?//|@import|url\(\s*['"]?(https?:)?//`)
	if m := external.FindString(html); m != "" {
		t.Errorf("the report loads an external resource: %q", m)
	}
	for _, want := range []string{"<svg", "45 d", "90 d", "Suppressed findings (1)", "mainframe retirement, INC-42", "2026-12-31", "<details>", "@media print"} {
		if !strings.Contains(html, want) {
			t.Errorf("the report lacks %q", want)
		}
	}
}
