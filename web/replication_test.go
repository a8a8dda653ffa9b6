package web_test

import (
	"context"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"hris/db"
	"hris/db/dbtest"
	"hris/db/pglocal"
	"hris/web"
)

var timelineStat = regexp.MustCompile(`<div class="value">(\d+)</div>\s*<div class="label">timeline</div>`)

// The replication panel on a primary without standbys: its host and
// timeline, the warning that a failover could lose writes, and the
// failovers kept in the database.
func TestOpsReplicationPanelOnAPrimary(t *testing.T) {
	e := opsEnv(t)
	c := e.loggedIn("admin")
	host := e.DB.Hosts().Hosts()[0]
	r := c.get("/ops/replication", "HX-Request", "true").expect(t, http.StatusOK)
	isFragment(t, r)
	for _, want := range []string{
		"<h2>Replication</h2>", `<code class="repl-host">` + host + `</code>`, "primary",
		"No standby is connected to this primary.", "No synchronous standby: a failover can lose",
		"hris writes to <strong><code>" + host + "</code></strong>", "No failover recorded.",
	} {
		if !strings.Contains(r.Body, want) {
			t.Errorf("/ops/replication lacks %q:\n%s", want, r.Body)
		}
	}
	if m := timelineStat.FindStringSubmatch(r.Body); m == nil || m[1] != "1" {
		t.Errorf("/ops/replication shows no timeline 1:\n%s", r.Body)
	}

	// A failover another instance recorded shows on the next reading.
	if err := e.DB.InTx(context.Background(), func(ctx context.Context, q *db.Queries) error {
		_, err := q.RecordFailover(ctx, db.RecordFailoverParams{
			DetectedAt: time.Now(), DetectedBy: "other:8080", FromHost: "db1:5432", ToHost: "db2:5432", FromTimeline: 3, ToTimeline: 4,
		})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond) // the panel's reading is cached for a second
	r = c.get("/ops/replication").expect(t, http.StatusOK)
	for _, want := range []string{"<code>db1:5432</code> → <code>db2:5432</code>", "timeline 3 → 4 · seen by other:8080"} {
		if !strings.Contains(r.Body, want) {
			t.Errorf("/ops/replication lacks the recorded failover %q:\n%s", want, r.Body)
		}
	}
}

// With the dashboard's pool on a standby (HRIS_DB_DIRECT_URL at a
// replica), the panel shows the standby's own view: where it streams from
// and how far behind it receives and replays.
func TestOpsReplicationPanelOnAStandby(t *testing.T) {
	primary, u := dbtest.NewServer(t, pglocal.Options{})
	standby := dbtest.NewStandby(t, primary, "replica1", false)
	main := dbtest.OpenConfig(t, configFor(u))
	ops := dbtest.OpenConfig(t, configFor(standby.URL("hris")))
	e := newEnvDBs(t, main, ops, web.Config{})
	c := e.loggedIn("admin")
	r := c.get("/ops/replication").expect(t, http.StatusOK)
	for _, want := range []string{
		"standby (read-only) the dashboard reads", "The dashboard is connected to a standby",
		"This standby", "streaming", "streams from", "127.0.0.1:" + strconv.Itoa(primary.Port()), "receive lag", "replay lag",
	} {
		if !strings.Contains(r.Body, want) {
			t.Errorf("/ops/replication on a standby lacks %q:\n%s", want, r.Body)
		}
	}
	if strings.Contains(r.Body, "notice-bad") {
		t.Errorf("/ops/replication on a standby shows an error:\n%s", r.Body)
	}
	// The whole page renders too, with the standby's panel in it.
	if page := c.get("/ops").expect(t, http.StatusOK).Body; !strings.Contains(page, "This standby") {
		t.Error("/ops does not show the standby's replication view")
	}
}

func configFor(url string) db.Config {
	cfg := db.DefaultConfig()
	cfg.URL = url
	return cfg
}

// The replication panel in Chromium with a synchronous standby streaming
// and a failover on record: it polls like the others, and the screenshots
// (light, dark, phone) are there to look at.
func TestOpsBrowserReplicationPanel(t *testing.T) {
	primary, u := dbtest.NewServer(t, pglocal.Options{Settings: map[string]string{"synchronous_commit": "on"}})
	dbtest.NewStandby(t, primary, "replica1", true)
	d := dbtest.OpenConfig(t, configFor(u))
	e := newEnvDBs(t, d, d, web.Config{})
	if err := d.InTx(context.Background(), func(ctx context.Context, q *db.Queries) error {
		_, err := q.RecordFailover(ctx, db.RecordFailoverParams{
			DetectedAt: time.Now().Add(-26 * time.Hour), DetectedBy: "hris-7f9c:8080", FromHost: "db2.internal:5432", ToHost: "db1.internal:5432", FromTimeline: 0, ToTimeline: 1,
		})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	email, pw := e.user("admin")
	tb := e.newTab(t)
	tb.loginForm(email, pw)
	tb.open("/ops")
	first := *tb.el("#ops-replication header time").MustAttribute("datetime")
	waitFor(t, "the replication panel to be refreshed by its poll", 8*time.Second, func() bool {
		return *tb.el("#ops-replication header time").MustAttribute("datetime") != first
	})
	text := tb.el("#ops-replication").MustText()
	for _, want := range []string{"replica1", "streaming", "sync", "db2.internal:5432", "timeline"} {
		if !strings.Contains(text, want) {
			t.Errorf("replication panel lacks %q:\n%s", want, text)
		}
	}
	tb.el("#ops-replication").MustScrollIntoView()
	tb.screenshot("ops-replication")
	tb.phone()
	tb.open("/ops")
	tb.el("#ops-replication").MustScrollIntoView()
	tb.screenshot("ops-replication-phone")
	tb.desktop()
}
