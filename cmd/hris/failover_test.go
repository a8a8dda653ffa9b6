package main

// Failover tests: a primary with a synchronous standby, the real hris
// binary on a two-host DATABASE_URL (target_session_attrs=read-write), and
// a client that keeps submitting keyed creates and resubmits on 503, as a
// person pressing "save" again would. Then the primary dies (SIGKILL) or
// freezes (SIGSTOP on every process: a stalled VM, a network partition)
// and the standby is promoted. Figures are logged for the closing notes.

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"hris/db/dbtest"
	"hris/db/pglocal"
)

func TestFailoverKillAndPromote(t *testing.T)   { runFailover(t, "kill") }
func TestFailoverFreezeAndPromote(t *testing.T) { runFailover(t, "freeze") }

// detectionDelay stands in for a failover manager's decision time. Short
// is the hard case: hris has barely noticed the old primary is gone when
// the new one appears.
const detectionDelay = time.Second

// ackedCreate is a create the client saw acknowledged (303).
type ackedCreate struct {
	form url.Values
	loc  string
	at   time.Time
}

// healthSample is one /health/detailed answer.
type healthSample struct {
	sent, answered time.Time
	code           int
	primary, host  string
}

func serverHost(s *pglocal.Server) string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port()))
}

func runFailover(t *testing.T, kind string) {
	a, _ := dbtest.NewServer(t, pglocal.Options{Settings: map[string]string{"synchronous_commit": "on"}})
	b := dbtest.NewStandby(t, a, "hris_standby", true)
	u := dbtest.MultiHostURL("hris", a, b)
	pw := cliCreateUser(t, u, "admin@example.com", "admin")
	p, base := serveApp(t, serveEnv(u))
	admin := newBrowser(t, base)
	admin.login("admin@example.com", pw)
	hostA, hostB := serverHost(a), serverHost(b)

	// Before: the panel shows the primary, timeline 1, the synchronous
	// standby streaming; health names the primary.
	checkPanel(t, admin, "before", []string{
		`<code class="repl-host">` + hostA + `</code>`,
		`<strong>hris_standby</strong>`, `streaming`, `<span class="badge ok">sync</span>`,
		`No failover recorded.`,
	}, 1)
	if s := probeHealth(base); s.code != http.StatusOK || s.primary != hostA || s.host != hostA {
		t.Fatalf("health before the fault: %d, primary %q, host %q; want 200 and %s", s.code, s.primary, s.host, hostA)
	}

	// The client: three people creating employees, each one resubmitting
	// the same form (same idempotency key) after a 503 or a broken request.
	var (
		mu        sync.Mutex
		acks      []ackedCreate
		resubmits int
		stop      = make(chan struct{})
		workers   sync.WaitGroup
	)
	for w := range 3 {
		workers.Add(1)
		go func() {
			defer workers.Done()
			client := newBrowser(t, base)
			client.login("admin@example.com", pw)
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				case <-time.After(20 * time.Millisecond):
				}
				form := url.Values{
					"first_name": {"Fail"}, "last_name": {fmt.Sprintf("Over %d-%d", w, i)},
					"email": {fmt.Sprintf("failover.%d.%d@example.com", w, i)}, "hire_date": {"2024-03-01"},
					"idempotency_key": {uuid.NewString()},
				}
				deadline := time.Now().Add(60 * time.Second)
				for {
					resp, body, err := client.post("/employees", form)
					if err == nil && resp.StatusCode == http.StatusSeeOther {
						mu.Lock()
						acks = append(acks, ackedCreate{form: form, loc: resp.Header.Get("Location"), at: time.Now()})
						mu.Unlock()
						break
					}
					if err == nil && resp.StatusCode != http.StatusServiceUnavailable {
						t.Errorf("create %d-%d: %d\n%s", w, i, resp.StatusCode, body)
						return
					}
					if time.Now().After(deadline) {
						t.Errorf("create %d-%d never acknowledged: %v", w, i, err)
						return
					}
					mu.Lock()
					resubmits++
					mu.Unlock()
					time.Sleep(50 * time.Millisecond)
				}
			}
		}()
	}
	// A load balancer's health probe and an admin's dashboard, every
	// 100 ms, each answer timed.
	var (
		hmu     sync.Mutex
		samples []healthSample
		panels  []healthSample
		probes  sync.WaitGroup
	)
	watcher := newBrowser(t, base)
	watcher.login("admin@example.com", pw)
	stopProbes := make(chan struct{})
	probes.Add(1)
	go func() {
		defer probes.Done()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stopProbes:
				return
			case <-tick.C:
			}
			probes.Add(2)
			go func() {
				defer probes.Done()
				s := probeHealth(base)
				hmu.Lock()
				samples = append(samples, s)
				hmu.Unlock()
			}()
			go func() {
				defer probes.Done()
				s := probePanels(watcher, hostB)
				hmu.Lock()
				panels = append(panels, s)
				hmu.Unlock()
			}()
		}
	}()
	ackCount := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(acks)
	}
	for ackCount() < 20 {
		time.Sleep(20 * time.Millisecond)
	}

	// The fault, then the promotion.
	faultAt := time.Now()
	switch kind {
	case "kill":
		if err := a.Kill(); err != nil {
			t.Fatal(err)
		}
	case "freeze":
		if err := a.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = a.Kill() }) // never thawed: it would take writes the new primary never sees
	}
	time.Sleep(detectionDelay)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := b.Promote(ctx); err != nil {
		t.Fatal(err)
	}
	promotedAt := time.Now()
	var firstAck time.Time
	for firstAck.IsZero() {
		if time.Since(promotedAt) > 30*time.Second {
			t.Fatal("no create acknowledged within 30s of the promotion")
		}
		time.Sleep(10 * time.Millisecond)
		// Acknowledged after the promotion returned: on the new primary. (A
		// create the old primary committed just before the fault may be
		// acknowledged a moment after it; nothing is acknowledged between
		// the fault and the promotion otherwise.)
		mu.Lock()
		for _, a := range acks {
			if a.at.After(promotedAt) && (firstAck.IsZero() || a.at.Before(firstAck)) {
				firstAck = a.at
			}
		}
		mu.Unlock()
	}
	time.Sleep(3 * time.Second) // writes and probes go on for a while
	close(stop)
	workers.Wait()
	close(stopProbes)
	probes.Wait()

	// The first acknowledged write after the promotion.
	firstWrite := firstAck.Sub(promotedAt)
	if firstWrite > 3*time.Second {
		t.Errorf("%s: first acknowledged write %s after the promotion, want within 3s", kind, firstWrite)
	}
	// Health agrees: 200, naming the new primary, and stays so.
	sort.Slice(samples, func(i, j int) bool { return samples[i].answered.Before(samples[j].answered) })
	var agreed time.Time
	for _, s := range samples {
		if s.sent.After(faultAt) && s.code == http.StatusOK && s.primary == hostB && s.host == hostB {
			agreed = s.answered
			break
		}
	}
	if agreed.IsZero() {
		t.Fatalf("%s: /health/detailed never answered 200 naming %s", kind, hostB)
	}
	healthLag := agreed.Sub(firstAck)
	if healthLag > time.Second {
		t.Errorf("%s: health agreed %s after the first acknowledged write, want within 1s", kind, healthLag)
	}
	for _, s := range samples {
		if s.sent.After(agreed) && (s.code != http.StatusOK || s.primary != hostB) {
			t.Errorf("%s: health went back to %d (primary %q) %s after agreeing", kind, s.code, s.primary, s.answered.Sub(agreed))
		}
	}
	// So do the dashboard's panels: read without error from the new primary.
	sort.Slice(panels, func(i, j int) bool { return panels[i].answered.Before(panels[j].answered) })
	var panelsBack time.Time
	for _, s := range panels {
		if s.sent.After(faultAt) && s.code == http.StatusOK {
			panelsBack = s.answered
			break
		}
	}
	if panelsBack.IsZero() {
		t.Fatalf("%s: the /ops panels never recovered", kind)
	}
	panelsLag := panelsBack.Sub(firstAck)
	if panelsLag > time.Second {
		t.Errorf("%s: /ops panels recovered %s after the first acknowledged write, want within 1s", kind, panelsLag)
	}

	// Every acknowledged create is on the new primary, once; each submit
	// again with its key leads to the same employee and adds no row.
	for _, a := range acks {
		resp, _, err := admin.post("/employees", a.form)
		if err != nil || resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != a.loc {
			t.Errorf("repeat of %s: %v %v, want 303 to %s", a.form.Get("email"), err, resp, a.loc)
		}
	}
	conn, err := pgx.Connect(ctx, b.URL("hris"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var rows, distinct, missing int
	if err := conn.QueryRow(ctx, `SELECT count(*), count(DISTINCT lower(email)) FROM employees WHERE email LIKE 'failover.%'`).Scan(&rows, &distinct); err != nil {
		t.Fatal(err)
	}
	emails := make([]string, len(acks))
	for i, a := range acks {
		emails[i] = a.form.Get("email")
	}
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM unnest($1::text[]) e WHERE NOT EXISTS (SELECT 1 FROM employees WHERE lower(email) = lower(e))`, emails).Scan(&missing); err != nil {
		t.Fatal(err)
	}
	if missing != 0 || rows != len(acks) || distinct != rows {
		t.Errorf("%s: %d acknowledged creates; on the new primary %d rows (%d distinct), %d acknowledged ones missing", kind, len(acks), rows, distinct, missing)
	}

	// After: the panel shows the new primary on timeline 2, no standby,
	// and the failover; so does the log and the events table.
	checkPanel(t, admin, "after", []string{
		`<code class="repl-host">` + hostB + `</code>`,
		`No standby is connected to this primary.`,
		`<code>` + hostA + `</code> → <code>` + hostB + `</code>`, `timeline 1 → 2`,
		`moved from <code>` + hostA + `</code>`,
	}, 2)
	var events int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM failover_events WHERE from_host = $1 AND to_host = $2 AND from_timeline = 1 AND to_timeline = 2`, hostA, hostB).Scan(&events); err != nil || events != 1 {
		t.Errorf("failover_events: %d rows for %s → %s (%v), want 1", events, hostA, hostB, err)
	}
	p.waitFor(regexp.MustCompile(`msg="failover: the primary changed" from=`+regexp.QuoteMeta(hostA)+` to=`+regexp.QuoteMeta(hostB)), 5*time.Second)

	if kind == "freeze" {
		// The old primary thaws, still a primary on timeline 1 (no fencing
		// here): hris must not go back to it. Writes go on to the new one.
		if err := a.Signal(syscall.SIGCONT); err != nil {
			t.Fatal(err)
		}
		thawedAt := time.Now()
		for i := range 10 {
			form := url.Values{
				"first_name": {"After"}, "last_name": {fmt.Sprintf("Thaw %d", i)},
				"email": {fmt.Sprintf("thaw.%d@example.com", i)}, "hire_date": {"2024-03-01"},
				"idempotency_key": {uuid.NewString()},
			}
			if resp, body, err := admin.post("/employees", form); err != nil || resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("create after the thaw: %v %v\n%s", err, resp, body)
			}
			time.Sleep(200 * time.Millisecond)
		}
		old, err := pgx.Connect(ctx, a.URL("hris"))
		if err != nil {
			t.Fatal(err)
		}
		defer old.Close(ctx)
		var newConns, thawRows, onNew int
		if err := old.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE application_name IN ('hris', 'hris-ops') AND backend_start > $1`, thawedAt).Scan(&newConns); err != nil {
			t.Fatal(err)
		}
		if err := old.QueryRow(ctx, `SELECT count(*) FROM employees WHERE email LIKE 'thaw.%'`).Scan(&thawRows); err != nil {
			t.Fatal(err)
		}
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM employees WHERE email LIKE 'thaw.%'`).Scan(&onNew); err != nil {
			t.Fatal(err)
		}
		if newConns != 0 || thawRows != 0 || onNew != 10 {
			t.Errorf("after the old primary thawed: hris opened %d connections to it, wrote %d rows there and %d of 10 on the new primary", newConns, thawRows, onNew)
		}
	}

	if testing.Verbose() {
		t.Logf("fault at %s, promoted at %s, first write at %s", faultAt.Format("15:04:05.000"), promotedAt.Format("15:04:05.000"), firstAck.Format("15:04:05.000"))
		t.Log(p.output())
	}
	t.Logf("failover %s: first acknowledged write %s after promotion; health agreed %s after it (%s after promotion), /ops panels %s after it; %d creates acknowledged, %d resubmits after 503, 0 lost, 0 doubled",
		kind, firstWrite.Round(time.Millisecond), healthLag.Round(time.Millisecond), agreed.Sub(promotedAt).Round(time.Millisecond),
		panelsLag.Round(time.Millisecond), len(acks), resubmits)
}

// probeHealth is one anonymous GET /health/detailed.
func probeHealth(base string) healthSample {
	s := healthSample{sent: time.Now()}
	hc := &http.Client{Timeout: 10 * time.Second}
	resp, err := hc.Get(base + "/health/detailed")
	s.answered = time.Now()
	if err != nil {
		return s
	}
	defer resp.Body.Close()
	s.code = resp.StatusCode
	var body struct {
		Checks struct {
			Database struct {
				Host    string `json:"host"`
				Primary *struct {
					Host string `json:"host"`
				} `json:"primary"`
			} `json:"database"`
		} `json:"checks"`
	}
	if json.NewDecoder(resp.Body).Decode(&body) == nil {
		s.host = body.Checks.Database.Host
		if body.Checks.Database.Primary != nil {
			s.primary = body.Checks.Database.Primary.Host
		}
	}
	return s
}

// probePanels reads two /ops panels as plain GETs (503 when a panel could
// not read PostgreSQL): code 200 means both answered, the replication
// panel from the new primary.
func probePanels(b *browser, primary string) healthSample {
	s := healthSample{sent: time.Now()}
	code, body, err := b.get("/ops/replication")
	if err == nil && code == http.StatusOK && strings.Contains(body, `<code class="repl-host">`+primary+`</code>`) {
		code, _, err = b.get("/ops/activity")
		if err == nil {
			s.code = code
		}
	}
	s.answered = time.Now()
	return s
}

var timelineStat = regexp.MustCompile(`<div class="value">(\d+)</div>\s*<div class="label">timeline</div>`)

// checkPanel fetches /ops/replication and checks its content.
func checkPanel(t *testing.T, b *browser, when string, want []string, timeline int) {
	t.Helper()
	var body string
	// The panel's reading is cached for a second; the new primary may take
	// a reading or two to show.
	deadline := time.Now().Add(5 * time.Second)
	for {
		var code int
		code, body, _ = b.get("/ops/replication")
		m := timelineStat.FindStringSubmatch(body)
		if code == http.StatusOK && containsAll(body, want...) && m != nil && m[1] == strconv.Itoa(timeline) {
			return
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Errorf("replication panel %s: want timeline %d and %q in:\n%s", when, timeline, want, body)
}
