package web_test

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestAlertsBrowser: an admin sees the banner on /ops appear by itself
// (its poll) when a rule fires, follows it to /ops/alerts, and finds the
// alert with its details, the delivery and the rules; screenshots in light
// and dark, and at phone width without sideways scrolling.
func TestAlertsBrowser(t *testing.T) {
	rcv := newReceiver(t)
	e := alertEnv(t, rcv, nil)
	email, pw := e.user("admin")
	tb := e.newTab(t)
	tb.loginForm(email, pw)
	tb.open("/ops")
	if tb.has("#ops-alerts .alert-banner") {
		t.Fatal("a banner while nothing fires")
	}
	// A session idle in a transaction, and a long query.
	ctx := context.Background()
	idle := e.session(e.DB.Config().URL, "forgetful")
	tx, err := idle.conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "UPDATE departments SET name = name WHERE id = (SELECT min(id) FROM departments)"); err != nil {
		t.Fatal(err)
	}
	e.sleepFor("reporting", 60)
	rcv.wait("long_query", "firing", "", 10*time.Second)
	rcv.wait("idle_in_transaction", "firing", "", 10*time.Second)
	// A poll between the two alerts firing shows a banner for one: wait
	// for the one that counts both.
	var banner string
	defer func() {
		if t.Failed() {
			t.Logf("banner last seen: %q", banner)
		}
	}()
	waitFor(t, "the banner to show both alerts by its poll", 15*time.Second, func() bool {
		if !tb.has("#ops-alerts .alert-banner") {
			return false
		}
		banner = tb.el("#ops-alerts").MustText()
		return strings.Contains(banner, "2 alerts firing") && strings.Contains(banner, "long_query")
	})
	tb.screenshot("ops-alert-banner")
	tb.pausePolling()
	tb.click(`#ops-alerts a[href="/ops/alerts"]`, true)
	if tb.path() != "/ops/alerts" {
		t.Fatalf("the banner led to %s", tb.path())
	}
	tb.checkShell("Alerts", "", "")
	txt := tb.text()
	for _, want := range []string{"Firing now", "long_query", "idle_in_transaction", "SELECT pg_sleep(?)", "forgetful", "Notifications", "Last delivery", "Rules", "xid_age"} {
		if !strings.Contains(txt, want) {
			t.Errorf("/ops/alerts lacks %q", want)
		}
	}
	tb.el("#firing details.more summary").MustClick()
	tb.screenshot("ops-alerts")
	tb.phone()
	if out := tb.overflow(); len(out) > 0 {
		t.Errorf("/ops/alerts at 390px wide scrolls sideways:\n  %s", strings.Join(out, "\n  "))
	}
	tb.screenshot("ops-alerts-phone")
	tb.desktop()
}
