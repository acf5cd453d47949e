//go:build browser

// Package browsertest renders the demo's HTML report in headless Chromium
// over the DevTools protocol: no console errors, a working filter, and a
// screenshot. Run it with `make test-browser`; it needs Debian's chromium.
package browsertest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/keyaudit/keyaudit/audit"
	"github.com/keyaudit/keyaudit/internal/awssim"
	"github.com/keyaudit/keyaudit/internal/golden"
	"github.com/keyaudit/keyaudit/internal/pipeline"
	"github.com/keyaudit/keyaudit/report"
	"github.com/keyaudit/keyaudit/rules"
)

var update = flag.Bool("update-screenshot", false, "copy the screenshot to testdata/html/screenshot.png for the README")

// demoReport audits the simulated demo organization, as `keyaudit scan --demo` does.
func demoReport(t *testing.T) *report.Report {
	t.Helper()
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	w, err := awssim.DemoWorld()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 24, 6, 0, 0, 0, time.UTC)
	srv := awssim.NewServer(w, awssim.WithReportCalls(0), awssim.WithClock(func() time.Time { return now }))
	t.Cleanup(srv.Close)
	ctx := context.Background()
	cfg, err := srv.AWSConfig(ctx, w.Management().ID, "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pipeline.Dial(ctx, cfg, pipeline.Selection{Org: true, Role: audit.RoleSpec{Name: "KeyAuditRole", Path: "/", SessionName: "keyaudit-browser"}})
	if err != nil {
		t.Fatal(err)
	}
	opts := pipeline.Options{RunID: "20261124T060000Z", Now: now, Started: now, Config: rules.Defaults(), Demo: true, Concurrency: 4}
	return pipeline.Live(ctx, opts, conn.Targets, conn.IAM)
}

// cdp is a minimal DevTools protocol client over one page session.
type cdp struct {
	conn    *websocket.Conn
	session string
	mu      sync.Mutex
	next    int
	waiting map[int]chan json.RawMessage
	events  chan map[string]any
}

func (c *cdp) call(method string, params any) (json.RawMessage, error) {
	c.mu.Lock()
	c.next++
	id := c.next
	ch := make(chan json.RawMessage, 1)
	c.waiting[id] = ch
	msg := map[string]any{"id": id, "method": method, "params": params}
	if c.session != "" {
		msg["sessionId"] = c.session
	}
	err := c.conn.WriteJSON(msg)
	c.mu.Unlock()
	if err != nil {
		return nil, err
	}
	select {
	case res := <-ch:
		return res, nil
	case <-time.After(20 * time.Second):
		return nil, fmt.Errorf("%s: no answer", method)
	}
}

func (c *cdp) read() {
	for {
		var m struct {
			ID     int             `json:"id"`
			Method string          `json:"method"`
			Result json.RawMessage `json:"result"`
			Error  json.RawMessage `json:"error"`
			Params map[string]any  `json:"params"`
		}
		if err := c.conn.ReadJSON(&m); err != nil {
			close(c.events)
			return
		}
		if m.ID != 0 {
			c.mu.Lock()
			ch := c.waiting[m.ID]
			c.mu.Unlock()
			if m.Error != nil {
				ch <- m.Error
			} else {
				ch <- m.Result
			}
			continue
		}
		select {
		case c.events <- map[string]any{"method": m.Method, "params": m.Params}:
		default:
		}
	}
}

func startChromium(t *testing.T) *cdp {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium not found: apt-get install chromium (make test-browser needs it)")
	}
	// Chromium's helper processes may still write to the profile after the
	// browser is stopped, so it is removed on a best-effort basis.
	profile, err := os.MkdirTemp("", "keyaudit-chromium")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(profile) })
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
		"--user-data-dir="+profile, "--remote-debugging-port=0", "--window-size=1366,900", "about:blank")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })
	wsURL := make(chan string, 1)
	go func() {
		re := regexp.MustCompile(`DevTools listening on (ws://\S+)`)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				wsURL <- m[1]
			}
		}
	}()
	var url string
	select {
	case url = <-wsURL:
	case <-time.After(30 * time.Second):
		t.Fatal("chromium did not start its DevTools endpoint")
	}
	conn, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c := &cdp{conn: conn, waiting: map[int]chan json.RawMessage{}, events: make(chan map[string]any, 256)}
	go c.read()
	res, err := c.call("Target.createTarget", map[string]any{"url": "about:blank"})
	if err != nil {
		t.Fatal(err)
	}
	var target struct{ TargetID string }
	_ = json.Unmarshal(res, &target)
	res, err = c.call("Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true})
	if err != nil {
		t.Fatal(err)
	}
	var att struct{ SessionID string }
	_ = json.Unmarshal(res, &att)
	c.session = att.SessionID
	for _, domain := range []string{"Runtime.enable", "Log.enable", "Page.enable"} {
		if _, err := c.call(domain, map[string]any{}); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func (c *cdp) eval(t *testing.T, expr string) any {
	t.Helper()
	res, err := c.call("Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true})
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Result struct{ Value any }
	}
	_ = json.Unmarshal(res, &out)
	return out.Result.Value
}

func TestReportInBrowser(t *testing.T) {
	r := demoReport(t)
	var page bytes.Buffer
	if err := (report.HTMLWriter{}).Write(&page, r); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(page.Bytes())
	}))
	defer srv.Close()

	c := startChromium(t)
	if _, err := c.call("Page.navigate", map[string]any{"url": srv.URL}); err != nil {
		t.Fatal(err)
	}
	var problems []string
	loaded := false
	deadline := time.After(20 * time.Second)
	for !loaded {
		select {
		case ev := <-c.events:
			problems = append(problems, problem(ev)...)
			loaded = ev["method"] == "Page.loadEventFired"
		case <-deadline:
			t.Fatal("the page did not load")
		}
	}

	critical := r.Summary.BySeverity["critical"]
	shown := c.eval(t, `(() => {
		const s = document.getElementById("f-severity");
		s.value = "critical";
		s.dispatchEvent(new Event("change"));
		const rows = [...document.querySelectorAll("#findings-table tbody tr[data-rule]")].filter(r => !r.hidden);
		return rows.map(r => r.dataset.severity).join(",");
	})()`)
	got := strings.Split(fmt.Sprint(shown), ",")
	if len(got) != critical || critical == 0 {
		t.Errorf("the critical filter shows %d rows (%v), want the %d critical findings", len(got), shown, critical)
	}
	for _, sev := range got {
		if sev != "critical" {
			t.Errorf("the critical filter shows a %q row", sev)
		}
	}
	if count := c.eval(t, `document.getElementById("f-count").textContent`); !strings.HasPrefix(fmt.Sprint(count), fmt.Sprint(critical)+" of ") {
		t.Errorf("filter count says %q", count)
	}
	c.eval(t, `(() => { const s = document.getElementById("f-severity"); s.value = ""; s.dispatchEvent(new Event("change")); })()`)

	// Give late console errors a moment to arrive.
	drain := time.After(300 * time.Millisecond)
	for done := false; !done; {
		select {
		case ev := <-c.events:
			problems = append(problems, problem(ev)...)
		case <-drain:
			done = true
		}
	}
	for _, p := range problems {
		t.Errorf("browser: %s", p)
	}

	res, err := c.call("Page.captureScreenshot", map[string]any{"format": "png", "captureBeyondViewport": true,
		"clip": map[string]any{"x": 0, "y": 0, "width": 1366, "height": 1500, "scale": 1}})
	if err != nil {
		t.Fatal(err)
	}
	var shot struct{ Data string }
	_ = json.Unmarshal(res, &shot)
	png, err := base64.StdEncoding.DecodeString(shot.Data)
	if err != nil || len(png) < 1000 {
		t.Fatalf("no screenshot (%d bytes): %v", len(png), err)
	}
	out := filepath.Join(golden.Dir(), "..", "build", "report-screenshot.png")
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", out)
	if *update {
		if err := os.WriteFile(golden.Path("html/screenshot.png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// problem reports console errors and uncaught exceptions.
func problem(ev map[string]any) []string {
	params, _ := ev["params"].(map[string]any)
	switch ev["method"] {
	case "Runtime.exceptionThrown":
		return []string{fmt.Sprintf("uncaught exception: %v", params["exceptionDetails"])}
	case "Runtime.consoleAPICalled":
		if params["type"] == "error" || params["type"] == "assert" {
			return []string{fmt.Sprintf("console.%v: %v", params["type"], params["args"])}
		}
	case "Log.entryAdded":
		if entry, _ := params["entry"].(map[string]any); entry["level"] == "error" {
			return []string{fmt.Sprintf("log error: %v %v", entry["text"], entry["url"])}
		}
	}
	return nil
}
