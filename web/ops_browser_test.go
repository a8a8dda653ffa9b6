package web_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"hris/db"
	"hris/db/dbtest"
	"hris/web"
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

	// A poll that swaps the panel between finding the link and clicking it
	// would leave the click on a detached element (rod then waits for it to
	// become clickable until the step's deadline); on a loaded machine that
	// window is wide. Polls stop first, as a person's click is instant.
	tb.pausePolling()
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

// TestOpsInsightsBrowser walks the query and table pages as an admin
// would: from /ops through the ops navigation, sorting, switching
// periods, into one statement, and the dashboard's charts over a day;
// screenshots of each in light and dark, none scrolling sideways on a
// phone.
func TestOpsInsightsBrowser(t *testing.T) {
	e := newEnvConfig(t, dbtest.Config(t), web.Config{HistoryStep: time.Second, LongQueryThreshold: time.Second})
	e.seedDemo(120)
	email, pw := e.user("admin")
	ctx := context.Background()
	if err := web.CaptureSizes(e.App, ctx, time.Now().UTC().AddDate(0, 0, -2).Truncate(24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	at := time.Now().Truncate(time.Minute)
	e.capture(at.Add(-10 * time.Minute))
	s := e.session(e.DB.Config().URL, "workload")
	s.run(101, "SELECT pg_sleep(0.021)")
	s.run(300, "SELECT count(*) FROM employees WHERE department_id = 3")
	s.run(60, "SELECT e.first_name, d.name FROM employees e JOIN departments d ON d.id = e.department_id WHERE e.last_name LIKE 'S%' ORDER BY e.hire_date LIMIT 20")
	e.exec("CREATE INDEX employees_last_name_only ON employees (last_name)")
	e.exec("CREATE INDEX employees_job_title_idx ON employees (job_title)")
	e.seedDemoMore(60)
	e.capture(at)
	waitFor(t, "a few minutes of history", 10*time.Second, func() bool {
		return e.count("SELECT count(*) FROM pool_history") >= 3 && e.count("SELECT count(*) FROM server_history WHERE commits IS NOT NULL") >= 2
	})

	tb := e.newTab(t)
	tb.loginForm(email, pw)
	tb.open("/ops")
	tb.click(`nav[aria-label="Ops"] a[href="/ops/queries"]`, true)
	if tb.path() != "/ops/queries" || tb.title() != "Queries · hris" {
		t.Fatalf("Queries in the ops navigation led to %s (%q)", tb.path(), tb.title())
	}
	if !strings.Contains(tb.el("table.queries").MustText(), "SELECT pg_sleep($1)") {
		t.Errorf("live list lacks the slow statement:\n%s", tb.el("table.queries").MustText())
	}
	tb.screenshot("ops-queries")

	tb.click(`table.queries th a[href*="sort=mean"]`, true)
	if txt := tb.el("table.queries tbody tr.long").MustText(); !strings.Contains(txt, "pg_sleep") || !strings.Contains(txt, "slow") {
		t.Errorf("sorted by mean, the first flagged row is not the slow statement: %q", txt)
	}
	tb.click(`nav.segmented a[href*="period=1h"]`, true)
	if !strings.Contains(tb.path(), "period=1h") || !strings.Contains(tb.path(), "sort=mean") {
		t.Errorf("the period switch lost the sort: %s", tb.path())
	}
	tb.screenshot("ops-queries-1h")

	tb.click(`table.queries tbody tr:first-child td.query a`, true)
	if !strings.HasPrefix(tb.path(), "/ops/queries/") || !tb.has("svg.spark path.line") {
		t.Fatalf("statement page at %s has no chart:\n%s", tb.path(), tb.text())
	}
	tb.screenshot("ops-query")

	tb.click(`nav[aria-label="Ops"] a[href="/ops/tables"]`, true)
	for _, want := range []string{"employees_last_name_only", "DROP INDEX CONCURRENTLY public.employees_job_title_idx;", "Transaction ID age"} {
		if !strings.Contains(tb.text(), want) {
			t.Errorf("/ops/tables lacks %q", want)
		}
	}
	tb.screenshot("ops-tables")

	tb.open("/ops?period=24h")
	before := *tb.el("#ops-pool header time").MustAttribute("datetime")
	waitFor(t, "the pool panel's poll with the period", 8*time.Second, func() bool {
		return *tb.el("#ops-pool header time").MustAttribute("datetime") != before
	})
	if !strings.Contains(tb.el("#ops-pool").MustText(), "Fleet in use") || !tb.has("#ops-fleet td.fleet-history svg") {
		t.Error("after a poll the 24 h charts are gone")
	}
	tb.screenshot("ops-24h")

	for _, p := range []struct{ path, shot string }{
		{"/ops/queries", "ops-queries-phone"},
		{"/ops/queries?period=24h&sort=calls", ""},
		{"/ops/tables", "ops-tables-phone"},
		{"/ops?period=7d", ""},
	} {
		tb.open(p.path)
		tb.phone()
		if out := tb.overflow(); len(out) > 0 {
			t.Errorf("%s at 390px wide scrolls sideways:\n  %s", p.path, strings.Join(out, "\n  "))
		}
		if p.shot != "" {
			tb.screenshot(p.shot)
		}
		tb.desktop()
	}
}

// pausePolling stops htmx's polls on the page and waits until none is in
// flight, so elements found next stay in the document.
func (tb *tab) pausePolling() {
	tb.t.Helper()
	tb.p().MustEval(`() => document.body.addEventListener("htmx:beforeRequest", e => e.preventDefault())`)
	tb.waitJS("the polls in flight to finish", `document.querySelector(".htmx-request") === null`)
}

// seedDemoMore adds n employees to the demo departments, for growth.
func (e *env) seedDemoMore(n int) {
	e.t.Helper()
	e.exec(`INSERT INTO employees (first_name, last_name, email, job_title, department_id, hire_date)
		SELECT 'Extra', 'Person' || g, 'extra' || g || '@example.com', 'Analyst',
			(SELECT min(id) FROM departments), date '2020-01-01' + g
		FROM generate_series(1, $1) g`, n)
}
