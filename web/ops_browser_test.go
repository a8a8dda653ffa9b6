package web_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"hris/db"
)

// TestOpsBrowserPollingAndCancel opens /ops in Chromium: every panel is
// replaced by its poll (htmx, under the strict CSP, without errors), the
// swap does not nest panels, and cancelling a query through the
// confirmation page works with clicks alone.
func TestOpsBrowserPollingAndCancel(t *testing.T) {
	e := opsEnv(t)
	email, pw := e.user("admin")
	s := e.session(e.DB.Config().URL, "sleeper")
	done := s.start("SELECT pg_sleep(30)")
	e.waitActive(s.pid, "SELECT pg_sleep%")
	pid := strconv.Itoa(int(s.pid))

	tb := e.newTab(t)
	tb.loginForm(email, pw)
	tb.open("/ops")
	panels := []string{"#ops-pool", "#ops-database", "#ops-locks", "#ops-activity", "#ops-fleet", "#ops-replication"}
	first := map[string]*string{}
	for _, p := range panels {
		first[p] = tb.el(p + " header time").MustAttribute("datetime")
		if first[p] == nil || *first[p] == "" {
			t.Fatalf("%s has no update time", p)
		}
	}
	// Two polls later every panel shows a newer reading.
	waitFor(t, "every panel to be refreshed by its poll", 8*time.Second, func() bool {
		for _, p := range panels {
			if *tb.el(p + " header time").MustAttribute("datetime") == *first[p] {
				return false
			}
		}
		return true
	})
	for _, p := range panels {
		if n := len(tb.p().MustElements(p + " h2")); n != 1 {
			t.Errorf("%s has %d headings after polling, want 1 (a swap nested the panel)", p, n)
		}
	}
	if !tb.has("#ops-pool svg.spark path.line") {
		t.Error("pool panel lost its sparkline after a poll")
	}
	if !strings.Contains(tb.el("#ops-activity").MustText(), "sleeper") {
		t.Errorf("activity panel does not show the sleeper:\n%s", tb.el("#ops-activity").MustText())
	}
	tb.screenshot("ops")

	tb.click(`#ops-activity a[href="/ops/backends/`+pid+`/cancel"]`, true)
	if tb.path() != "/ops/backends/"+pid+"/cancel" {
		t.Fatalf("cancel link led to %s", tb.path())
	}
	tb.click(`form[action="/ops/backends/`+pid+`/cancel"] button[type=submit]`, true)
	if tb.path() != "/ops" || !strings.Contains(tb.text(), "Cancelled query on backend "+pid) {
		t.Fatalf("after the cancel at %s:\n%s", tb.path(), tb.text())
	}
	if err := errWithin(t, done, 3*time.Second, "sleeper"); db.SQLState(err) != "57014" {
		t.Errorf("sleeper ended with %v, want 57014", err)
	}
}
