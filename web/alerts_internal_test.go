package web

import (
	"errors"
	"strings"
	"testing"
	"time"

	"hris/db"
)

func kinds(xs []transition) string {
	var out []string
	for _, x := range xs {
		out = append(out, [...]string{"fire", "escalate", "refresh", "resolve"}[x.kind]+":"+x.f.Rule)
	}
	return strings.Join(out, " ")
}

// TestTrackerForAndFlap walks the state machine: a one-sample blip does
// not fire; a condition seen at two evaluations in a row does; one missed
// sample does not resolve it, two do; a rise to critical escalates; a rule
// whose reading failed is left as it is.
func TestTrackerForAndFlap(t *testing.T) {
	const iv = 10 * time.Second
	tr := newTracker(iv)
	t0 := time.Date(2026, 11, 29, 7, 0, 0, 0, time.UTC)
	all := map[string]bool{ruleLongQuery: true, ruleConnections: true}
	long := func(sev string) []finding {
		return []finding{{Rule: ruleLongQuery, Severity: sev, Summary: "s", Details: map[string]any{}}}
	}
	step := func(at time.Duration, fs []finding, evaluated map[string]bool) string {
		xs := tr.step(t0.Add(at), iv, fs, evaluated)
		for _, x := range xs {
			tr.apply(x)
		}
		return kinds(xs)
	}
	cases := []struct {
		at   time.Duration
		fs   []finding
		eval map[string]bool
		want string
	}{
		{0, long(sevWarning), all, ""},                // pending
		{10 * time.Second, nil, all, ""},              // a blip: forgotten
		{20 * time.Second, long(sevWarning), all, ""}, // pending again
		{30 * time.Second, long(sevWarning), all, "fire:long_query"},
		{40 * time.Second, nil, all, ""}, // one missed sample
		{50 * time.Second, long(sevWarning), all, "refresh:long_query"},
		{60 * time.Second, long(sevCritical), all, "escalate:long_query"},
		{70 * time.Second, long(sevWarning), all, "refresh:long_query"}, // no way down
		{80 * time.Second, nil, map[string]bool{}, ""},                  // not evaluated: nothing
		{90 * time.Second, nil, all, ""},                                // gone once
		{100 * time.Second, nil, all, "resolve:long_query"},
		{110 * time.Second, nil, all, ""},
	}
	for _, c := range cases {
		if got := step(c.at, c.fs, c.eval); got != c.want {
			t.Errorf("at +%s: %q, want %q", c.at, got, c.want)
		}
	}
	// connections waits three rounds before it fires.
	conn := []finding{{Rule: ruleConnections, Severity: sevWarning, Details: map[string]any{}}}
	for i, want := range []string{"", "", "", "fire:connections"} {
		if got := step(200*time.Second+time.Duration(i)*iv, conn, all); got != want {
			t.Errorf("connections round %d: %q, want %q", i, got, want)
		}
	}
}

// TestCheckBlockedNamesHeadOfChain: the longest waiter waits on a session
// that itself waits: the alert names the session at the head of the chain.
func TestCheckBlockedNamesHeadOfChain(t *testing.T) {
	c := AlertConfig{}.withDefaults()
	rows := []db.AlertLockWaitsRow{
		{Pid: 30, Seconds: 45, Query: "UPDATE t SET a = 1 WHERE id = 7", BlockerPid: 20, BlockerState: "active", BlockerWaiting: true},
		{Pid: 20, Seconds: 44, Query: "UPDATE t SET a = 2 WHERE id = 7", BlockerPid: 10, BlockerState: "idle in transaction", BlockerApplication: "psql", BlockerXactSeconds: 60},
	}
	fs := checkBlocked(c, rows)
	if len(fs) != 1 {
		t.Fatalf("findings %v", fs)
	}
	d := fs[0].Details
	if d["blocker_pid"] != int32(10) || d["direct_blocker_pid"] != int32(20) || d["pid"] != int32(30) {
		t.Errorf("details %v", d)
	}
	if q := d["query"]; q != "UPDATE t SET a = ? WHERE id = ?" {
		t.Errorf("query not scrubbed: %q", q)
	}
	if !strings.Contains(fs[0].Summary, "blocked by pid 10 (idle in transaction, psql, transaction open 1m)") {
		t.Errorf("summary %q", fs[0].Summary)
	}
	// Below the wait threshold and fewer than three behind one: nothing.
	rows[0].Seconds, rows[1].Seconds = 5, 4
	if fs := checkBlocked(c, rows); len(fs) != 0 {
		t.Errorf("short waits fired: %v", fs)
	}
}

func TestWebhookHostHidesToken(t *testing.T) {
	if got := webhookHost("https://hooks.slack.com/services/T000/B000/XXXXSECRET?x=1"); got != "https://hooks.slack.com/…" {
		t.Errorf("webhookHost = %q", got)
	}
}

func TestBackoff(t *testing.T) {
	c := AlertConfig{RetryBase: time.Second, RetryMax: time.Minute}.withDefaults()
	for _, tc := range []struct {
		attempts int
		lo, hi   time.Duration
	}{
		{1, time.Second, 1200 * time.Millisecond},
		{2, 2 * time.Second, 2400 * time.Millisecond},
		{4, 8 * time.Second, 9600 * time.Millisecond},
		{20, time.Minute, 72 * time.Second},
	} {
		if d := c.backoff(tc.attempts, errors.New("x")); d < tc.lo || d > tc.hi {
			t.Errorf("backoff after %d attempts = %s, want %s..%s", tc.attempts, d, tc.lo, tc.hi)
		}
	}
	if d := c.backoff(1, &deliveryError{retryAfter: 30 * time.Second}); d != 30*time.Second {
		t.Errorf("Retry-After 30 gave %s", d)
	}
}

func TestSpanWords(t *testing.T) {
	for d, want := range map[time.Duration]string{
		time.Second: "1s", 90 * time.Second: "1m30s", 5 * time.Minute: "5m", time.Hour: "1h",
		1500 * time.Millisecond: "1.5s", 250 * time.Millisecond: "250ms", 24 * time.Hour: "24h",
	} {
		if got := spanWords(d); got != want {
			t.Errorf("spanWords(%s) = %q, want %q", d, got, want)
		}
	}
}

// TestAlertMessageText: the one-line text a chat shows.
func TestAlertMessageText(t *testing.T) {
	start := time.Date(2026, 11, 29, 7, 0, 0, 0, time.UTC)
	end := start.Add(3*time.Minute + 2*time.Second)
	b := string(newAlertMessage("resolved", "long_query", "critical", "Query running", []byte(`{"pid":1}`), "app1", start, &end))
	for _, want := range []string{`"status":"resolved"`, `"resolved_at":"2026-11-29T07:03:02Z"`, `"text":"[RESOLVED] long_query on app1 after 3m2s: Query running"`, `"details":{"pid":1}`} {
		if !strings.Contains(b, want) {
			t.Errorf("message lacks %s:\n%s", want, b)
		}
	}
	b = string(newAlertMessage("firing", "connections", "warning", "17 of 17", nil, "app1", start, nil))
	for _, want := range []string{`"resolved_at":null`, `"text":"[FIRING WARNING] connections on app1: 17 of 17"`, `"details":{}`} {
		if !strings.Contains(b, want) {
			t.Errorf("message lacks %s:\n%s", want, b)
		}
	}
}
