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
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update-screenshot", false, "copy the screenshot to testdata/html/screenshot.png for the README")

// demoReport audits the simulated demo organization, as `keyaudit scan --demo` does.
func demoReport(t *testing.T) *report.Report {
	t.Helper()
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	w, err := awssim.DemoWorld()
	require.NoError(t, err, "load the demo organization")
	now := time.Date(2026, 11, 24, 6, 0, 0, 0, time.UTC)
	srv := awssim.NewServer(w, awssim.WithReportCalls(0), awssim.WithClock(func() time.Time { return now }))
	t.Cleanup(srv.Close)
	ctx := context.Background()
	cfg, err := srv.AWSConfig(ctx, w.Management().ID, "us-east-1")
	require.NoError(t, err, "simulator config")
	conn, err := pipeline.Dial(ctx, cfg, pipeline.Selection{Org: true, Role: audit.RoleSpec{Name: "KeyAuditRole", Path: "/", SessionName: "keyaudit-browser"}})
	require.NoError(t, err, "dial the demo organization")
	opts := pipeline.Options{Settings: pipeline.Settings{RunID: "20261124T060000Z", Now: now, Started: now, Config: rules.Defaults(), Demo: true, Concurrency: 4}}
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
	require.NoError(t, err, "chromium not found: apt-get install chromium (make test-browser needs it)")
	// Chromium's helper processes may still write to the profile after the
	// browser is stopped, so it is removed on a best-effort basis.
	profile, err := os.MkdirTemp("", "keyaudit-chromium")
	require.NoError(t, err, "create the Chromium profile")
	t.Cleanup(func() { _ = os.RemoveAll(profile) })
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
		"--user-data-dir="+profile, "--remote-debugging-port=0", "--window-size=1366,900", "about:blank")
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err, "pipe Chromium's stderr")
	require.NoError(t, cmd.Start(), "start Chromium")
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
		require.FailNow(t, "chromium did not start its DevTools endpoint")
	}
	conn, _, err := websocket.DefaultDialer.Dial(url, nil)
	require.NoError(t, err, "connect to Chromium's DevTools")
	t.Cleanup(func() { conn.Close() })
	c := &cdp{conn: conn, waiting: map[int]chan json.RawMessage{}, events: make(chan map[string]any, 256)}
	go c.read()
	res, err := c.call("Target.createTarget", map[string]any{"url": "about:blank"})
	require.NoError(t, err, "create a page")
	var target struct{ TargetID string }
	_ = json.Unmarshal(res, &target)
	res, err = c.call("Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true})
	require.NoError(t, err, "attach to the page")
	var att struct{ SessionID string }
	_ = json.Unmarshal(res, &att)
	c.session = att.SessionID
	for _, domain := range []string{"Runtime.enable", "Log.enable", "Page.enable"} {
		_, err := c.call(domain, map[string]any{})
		require.NoError(t, err, "DevTools %s", domain)
	}
	return c
}

func (c *cdp) eval(t *testing.T, expr string) any {
	t.Helper()
	res, err := c.call("Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true})
	require.NoError(t, err, "evaluate %s", expr)
	var out struct {
		Result struct{ Value any }
	}
	_ = json.Unmarshal(res, &out)
	return out.Result.Value
}

func TestReportInBrowser(t *testing.T) {
	r := demoReport(t)
	var page bytes.Buffer
	require.NoError(t, (report.HTMLWriter{}).Write(&page, r), "render the HTML report")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(page.Bytes())
	}))
	defer srv.Close()

	c := startChromium(t)
	_, err := c.call("Page.navigate", map[string]any{"url": srv.URL})
	require.NoError(t, err, "navigate to the report")
	var problems []string
	loaded := false
	deadline := time.After(20 * time.Second)
	for !loaded {
		select {
		case ev := <-c.events:
			problems = append(problems, problem(ev)...)
			loaded = ev["method"] == "Page.loadEventFired"
		case <-deadline:
			require.FailNow(t, "the page did not load")
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
	require.Positive(t, critical, "critical findings in the demo")
	assert.Len(t, got, critical, "rows the critical filter shows (%v)", shown)
	for _, sev := range got {
		assert.Equal(t, "critical", sev, "severity of a row the critical filter shows")
	}
	count := c.eval(t, `document.getElementById("f-count").textContent`)
	assert.True(t, strings.HasPrefix(fmt.Sprint(count), fmt.Sprint(critical)+" of "), "filter count %q", count)
	c.eval(t, `(() => { const s = document.getElementById("f-severity"); s.value = ""; s.dispatchEvent(new Event("change")); })()`)

	// The kill-first chart's rank labels, measured as drawn: no two overlap.
	overlaps := c.eval(t, `(() => {
		const boxes = [...document.querySelectorAll("svg text.rank")].map(e => ({rank: e.textContent, b: e.getBBox()}));
		const out = [];
		boxes.forEach((a, i) => boxes.slice(i + 1).forEach(o => {
			if (a.b.x < o.b.x + o.b.width && o.b.x < a.b.x + a.b.width && a.b.y < o.b.y + o.b.height && o.b.y < a.b.y + a.b.height) {
				out.push(a.rank + " on " + o.rank);
			}
		}));
		return boxes.length + ":" + out.join(",");
	})()`)
	count, pairs, _ := strings.Cut(fmt.Sprint(overlaps), ":")
	assert.NotEqual(t, "0", count, "rank labels drawn")
	assert.Empty(t, pairs, "overlapping rank labels in the kill-first chart")

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
	assert.Empty(t, problems, "console errors and uncaught exceptions in the browser")

	res, err := c.call("Page.captureScreenshot", map[string]any{"format": "png", "captureBeyondViewport": true,
		"clip": map[string]any{"x": 0, "y": 0, "width": 1366, "height": 1500, "scale": 1}})
	require.NoError(t, err, "capture the screenshot")
	var shot struct{ Data string }
	_ = json.Unmarshal(res, &shot)
	png, err := base64.StdEncoding.DecodeString(shot.Data)
	require.NoError(t, err, "decode the screenshot")
	require.Greater(t, len(png), 1000, "screenshot size in bytes")
	out := filepath.Join(golden.Dir(), "..", "build", "report-screenshot.png")
	require.NoError(t, os.MkdirAll(filepath.Dir(out), 0o755), "create build/")
	require.NoError(t, os.WriteFile(out, png, 0o644), "write the screenshot")
	t.Logf("screenshot: %s", out)
	if *update {
		require.NoError(t, os.WriteFile(golden.Path("html/screenshot.png"), png, 0o644), "update testdata/html/screenshot.png")
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
