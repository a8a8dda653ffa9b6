package web_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"hris/db"
	"hris/db/dbtest"
	"hris/web"
)

// opsEnv is an app whose long-query threshold is short enough for tests.
func opsEnv(t *testing.T) *env {
	return newEnvConfig(t, dbtest.Config(t), web.Config{LongQueryThreshold: 300 * time.Millisecond})
}

// session is a connection of its own (not the app's pool), named app.
type session struct {
	t    *testing.T
	conn *pgx.Conn
	pid  int32
}

func (e *env) session(dbURL, app string) *session {
	e.t.Helper()
	cfg, err := pgx.ParseConfig(dbURL)
	if err != nil {
		e.t.Fatal(err)
	}
	cfg.RuntimeParams["application_name"] = app
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = conn.Close(ctx)
	})
	return &session{t: e.t, conn: conn, pid: int32(conn.PgConn().PID())}
}

// start runs sql in the background; the channel receives its error.
func (s *session) start(sql string) <-chan error {
	ctx, cancel := context.WithCancel(context.Background())
	s.t.Cleanup(cancel) // a query still running at the end is cancelled
	done := make(chan error, 1)
	go func() {
		_, err := s.conn.Exec(ctx, sql)
		done <- err
	}()
	return done
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitActive waits until pid runs a statement matching like.
func (e *env) waitActive(pid int32, like string) {
	e.t.Helper()
	waitFor(e.t, fmt.Sprintf("backend %d to run %s", pid, like), 10*time.Second, func() bool {
		return e.count("SELECT count(*) FROM pg_stat_activity WHERE pid = $1 AND state = 'active' AND query LIKE $2", pid, like) == 1
	})
}

// errWithin returns what done delivers within d, failing the test if it stays quiet.
func errWithin(t *testing.T, done <-chan error, d time.Duration, what string) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		t.Fatalf("%s: still running after %s", what, d)
		return nil
	}
}

func stillRunning(t *testing.T, done <-chan error, what string) {
	t.Helper()
	select {
	case err := <-done:
		t.Fatalf("%s ended (%v); it should have been left alone", what, err)
	case <-time.After(300 * time.Millisecond):
	}
}

func isFragment(t *testing.T, r response) {
	t.Helper()
	if strings.Contains(r.Body, "<html") || strings.Contains(r.Body, "<!DOCTYPE") {
		t.Errorf("%s is a whole page, want a fragment:\n%.300s", r.Request.URL.Path, r.Body)
	}
}

func TestOpsPageAndPanels(t *testing.T) {
	e := opsEnv(t)
	c := e.loggedIn("admin")

	page := c.get("/ops").expect(t, http.StatusOK).Body
	for _, want := range []string{
		`hx-get="/ops/pool"`, `hx-trigger="every 2s"`, `hx-swap="innerHTML"`,
		`hx-get="/ops/activity"`, `hx-get="/ops/locks"`, `hx-get="/ops/database"`, `hx-get="/ops/fleet"`,
		`hx-get="/ops/replication"`,
		// Every panel's first content is rendered with the page.
		"Connection pool", "<svg", "PostgreSQL sessions", "Blocked queries", "Cache hit ratio", "Replication",
		`aria-current="page"`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("/ops lacks %s", want)
		}
	}
	if n := strings.Count(page, `hx-trigger="every 2s"`); n != 6 {
		t.Errorf("/ops has %d polling panels, want 6", n)
	}

	pool := c.get("/ops/pool", "HX-Request", "true").expect(t, http.StatusOK)
	isFragment(t, pool)
	for _, want := range []string{"<svg", `viewBox="0 0 120 40"`, `class="limit"`, "acquires / s", "waited acquires / s"} {
		if !strings.Contains(pool.Body, want) {
			t.Errorf("/ops/pool lacks %s:\n%s", want, pool.Body)
		}
	}
	for _, path := range []string{"/ops/activity", "/ops/locks", "/ops/database", "/ops/fleet", "/ops/replication"} {
		r := c.get(path, "HX-Request", "true").expect(t, http.StatusOK)
		isFragment(t, r)
		if strings.Contains(r.Body, "notice-bad") {
			t.Errorf("%s shows an error:\n%s", path, r.Body)
		}
	}
	act := c.get("/ops/activity").Body
	for _, want := range []string{"max_connections", "superuser_reserved_connections", "The server fits", "Idle in transaction"} {
		if !strings.Contains(act, want) {
			t.Errorf("/ops/activity lacks %q", want)
		}
	}
	dbp := c.get("/ops/database").Body
	if !regexp.MustCompile(`\d+(\.\d)? (bytes|kB|MB|GB)`).MatchString(dbp) {
		t.Errorf("/ops/database shows no database size:\n%s", dbp)
	}
	// Rates need two samples: the next reading (after the cache second) has them.
	time.Sleep(1100 * time.Millisecond)
	if dbp := c.get("/ops/database").Body; !strings.Contains(dbp, "Rates over the last") {
		t.Errorf("second database reading shows no rates:\n%s", dbp)
	}
}

func TestOpsActivityShowsLongQueryAndCancels(t *testing.T) {
	e := opsEnv(t)
	c := e.loggedIn("admin")
	s := e.session(e.DB.Config().URL, "sleeper")
	done := s.start("SELECT pg_sleep(30)")
	e.waitActive(s.pid, "SELECT pg_sleep%")
	time.Sleep(400 * time.Millisecond) // past the 300ms threshold

	pid := strconv.Itoa(int(s.pid))
	act := c.get("/ops/activity", "HX-Request", "true").expect(t, http.StatusOK).Body
	row := regexp.MustCompile(`(?s)<tr class="long">\s*<td class="num mono">` + pid + `</td>.*?</tr>`).FindString(act)
	if row == "" {
		t.Fatalf("the sleeper (pid %s) is not a highlighted row of /ops/activity:\n%s", pid, act)
	}
	for _, want := range []string{"sleeper", "SELECT pg_sleep(30)", "active", "Timeout: PgSleep", "/ops/backends/" + pid + "/cancel", "/ops/backends/" + pid + "/terminate"} {
		if !strings.Contains(row, want) {
			t.Errorf("sleeper row lacks %q:\n%s", want, row)
		}
	}

	// The confirm page (GET, no JavaScript needed) changes nothing.
	confirm := c.get("/ops/backends/"+pid+"/cancel").expect(t, http.StatusOK).Body
	if !strings.Contains(confirm, "Cancel the query on backend "+pid) || !strings.Contains(confirm, `action="/ops/backends/`+pid+`/cancel"`) {
		t.Errorf("confirm page:\n%s", confirm)
	}
	if strings.Contains(confirm, "allow_own") {
		t.Error("a foreign session must not get the own-connection checkbox")
	}
	stillRunning(t, done, "sleeper after the confirm page")

	start := time.Now()
	r := c.post("/ops/backends/"+pid+"/cancel", nil).expect(t, http.StatusSeeOther)
	if loc := r.Header.Get("Location"); loc != "/ops" {
		t.Errorf("cancel redirected to %q, want /ops", loc)
	}
	err := errWithin(t, done, 3*time.Second, "cancelled sleeper")
	if db.SQLState(err) != "57014" {
		t.Fatalf("sleeper ended with %v, want SQLSTATE 57014 (query_canceled)", err)
	}
	t.Logf("sleeper cancelled %s after the POST", time.Since(start).Round(time.Millisecond))
	if n := e.count(`SELECT count(*) FROM audit_log WHERE action = 'backend.cancel' AND entity = 'backend' AND entity_id = $1
		AND before->>'application_name' = 'sleeper' AND before->>'query' = 'SELECT pg_sleep(30)' AND actor_id IS NOT NULL`, s.pid); n != 1 {
		t.Errorf("%d audit rows for the cancel, want 1", n)
	}
	page := c.get("/ops").expect(t, http.StatusOK).Body
	if !strings.Contains(page, "Cancelled query on backend "+pid) {
		t.Error("no flash after the cancel")
	}
	// The session itself survives a cancel.
	var one int
	if err := s.conn.QueryRow(context.Background(), "SELECT 1").Scan(&one); err != nil {
		t.Errorf("the cancelled session is unusable: %v", err)
	}
}

func TestOpsTerminate(t *testing.T) {
	e := opsEnv(t)
	c := e.loggedIn("admin")
	s := e.session(e.DB.Config().URL, "sleeper")
	done := s.start("SELECT pg_sleep(30)")
	e.waitActive(s.pid, "SELECT pg_sleep%")
	pid := strconv.Itoa(int(s.pid))

	confirm := c.get("/ops/backends/"+pid+"/terminate").expect(t, http.StatusOK).Body
	if !strings.Contains(confirm, "Terminate backend "+pid+"?") {
		t.Errorf("confirm page:\n%s", confirm)
	}
	c.post("/ops/backends/"+pid+"/terminate", nil).expect(t, http.StatusSeeOther)
	err := errWithin(t, done, 3*time.Second, "terminated sleeper")
	var pgErr *pgconn.PgError
	if err == nil || (errors.As(err, &pgErr) && pgErr.Code != "57P01") {
		t.Fatalf("sleeper ended with %v, want its connection terminated (57P01)", err)
	}
	waitFor(t, "the backend to exit", 5*time.Second, func() bool {
		return e.count("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", s.pid) == 0
	})
	if n := e.count("SELECT count(*) FROM audit_log WHERE action = 'backend.terminate' AND entity_id = $1", s.pid); n != 1 {
		t.Errorf("%d audit rows for the terminate, want 1", n)
	}
	if page := c.get("/ops").Body; !strings.Contains(page, "Terminated backend "+pid) {
		t.Error("no flash after the terminate")
	}
	// Acting on a backend that is gone is refused with a message.
	c.post("/ops/backends/"+pid+"/terminate", nil).expect(t, http.StatusSeeOther)
	if page := c.get("/ops").Body; !strings.Contains(page, "Backend "+pid+" no longer exists") {
		t.Error("no flash for a backend that has gone")
	}
	if n := e.count("SELECT count(*) FROM audit_log WHERE entity = 'backend'"); n != 1 {
		t.Errorf("%d backend audit rows, want only the one real terminate", n)
	}
}

func TestOpsRefusesOwnPoolWithoutConsent(t *testing.T) {
	e := opsEnv(t)
	c := e.loggedIn("admin")
	// A query on one of the app's own pooled connections.
	conn, err := e.DB.Pool.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	pid := int32(conn.Conn().PgConn().PID())
	done := make(chan error, 1)
	go func() {
		_, err := conn.Exec(ctx, "SELECT pg_sleep(30)")
		conn.Release()
		done <- err
	}()
	e.waitActive(pid, "SELECT pg_sleep%")
	p := strconv.Itoa(int(pid))

	act := c.get("/ops/activity").Body
	row := regexp.MustCompile(`(?s)<td class="num mono">` + p + `</td>.*?</tr>`).FindString(act)
	if !strings.Contains(row, "this app") {
		t.Errorf("own pooled connection %s not marked as this app:\n%s", p, row)
	}
	confirm := c.get("/ops/backends/"+p+"/cancel").expect(t, http.StatusOK).Body
	if !strings.Contains(confirm, `name="allow_own"`) || !strings.Contains(confirm, "this is one of hris's own connections — I know") {
		t.Errorf("confirm page for an own connection lacks the checkbox:\n%s", confirm)
	}

	for _, action := range []string{"cancel", "terminate"} {
		c.post("/ops/backends/"+p+"/"+action, nil).expect(t, http.StatusSeeOther)
		stillRunning(t, done, "own pooled connection's query after "+action+" without allow_own")
		if page := c.get("/ops").Body; !strings.Contains(page, "Refused: backend "+p+" is one of hris&#39;s own pooled connections") {
			t.Errorf("no refusal flash after %s without allow_own", action)
		}
	}
	if n := e.count("SELECT count(*) FROM audit_log WHERE entity = 'backend'"); n != 0 {
		t.Errorf("refused actions wrote %d audit rows", n)
	}

	c.post("/ops/backends/"+p+"/cancel", url.Values{"allow_own": {"1"}}).expect(t, http.StatusSeeOther)
	if err := errWithin(t, done, 3*time.Second, "own connection's query"); db.SQLState(err) != "57014" {
		t.Fatalf("with allow_own=1 the query ended with %v, want 57014", err)
	}
	if n := e.count("SELECT count(*) FROM audit_log WHERE action = 'backend.cancel' AND entity_id = $1 AND (before->>'own_connection')::bool", pid); n != 1 {
		t.Errorf("%d audit rows for the consented cancel, want 1", n)
	}
}

func TestOpsRefusesOtherDatabase(t *testing.T) {
	e := opsEnv(t)
	c := e.loggedIn("admin")
	other := e.session(dbtest.WithDatabase(e.DB.Config().URL, "postgres"), "elsewhere")
	done := other.start("SELECT pg_sleep(30)")
	e.waitActive(other.pid, "SELECT pg_sleep%")
	p := strconv.Itoa(int(other.pid))

	if act := c.get("/ops/activity").Body; strings.Contains(act, "elsewhere") {
		t.Error("a session of another database is listed in detail")
	} else if !regexp.MustCompile(`<div class="value">[1-9]\d*</div>\s*<div class="label">in other databases</div>`).MatchString(act) {
		t.Errorf("the other database's session is not counted:\n%s", act)
	}
	for _, action := range []string{"cancel", "terminate"} {
		c.get("/ops/backends/"+p+"/"+action).expect(t, http.StatusSeeOther)
		c.post("/ops/backends/"+p+"/"+action, url.Values{"allow_own": {"1"}}).expect(t, http.StatusSeeOther)
		stillRunning(t, done, "other database's query after "+action)
		if page := c.get("/ops").Body; !strings.Contains(page, "Refused: backend "+p+" belongs to database &#34;postgres&#34;") {
			t.Errorf("no refusal flash for %s in another database", action)
		}
	}
	if n := e.count("SELECT count(*) FROM audit_log WHERE entity = 'backend'"); n != 0 {
		t.Errorf("refused actions wrote %d audit rows", n)
	}
	// Not a pid at all.
	c.get("/ops/backends/abc/cancel").expect(t, http.StatusNotFound)
	c.post("/ops/backends/-3/cancel", nil).expect(t, http.StatusNotFound)
}

func TestOpsLocksShowBlocker(t *testing.T) {
	e := opsEnv(t)
	c := e.loggedIn("admin")
	email, _ := e.user("hr")
	holder := e.session(e.DB.Config().URL, "holder")
	waiter := e.session(e.DB.Config().URL, "waiter")
	ctx := context.Background()

	tx, err := holder.conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "UPDATE users SET name = 'held' WHERE email = $1", email); err != nil {
		t.Fatal(err)
	}
	done := waiter.start("UPDATE users SET name = 'waiting' WHERE email = '" + email + "'")
	waitFor(t, "the waiter to block", 10*time.Second, func() bool {
		return e.count("SELECT count(*) FROM pg_stat_activity WHERE pid = $1 AND wait_event_type = 'Lock'", waiter.pid) == 1
	})
	time.Sleep(400 * time.Millisecond)

	hp, wp := strconv.Itoa(int(holder.pid)), strconv.Itoa(int(waiter.pid))
	locks := c.get("/ops/locks", "HX-Request", "true").expect(t, http.StatusOK)
	isFragment(t, locks)
	row := regexp.MustCompile(`(?s)<tr class="long">.*?</tr>`).FindString(locks.Body)
	for _, want := range []string{
		`<span class="mono">` + wp + `</span>`, `<span class="mono">` + hp + `</span>`,
		"UPDATE users SET name = &#39;held&#39;", "UPDATE users SET name = &#39;waiting&#39;",
		"idle in transaction", "ShareLock on transactionid", "/ops/backends/" + hp + "/terminate",
	} {
		if !strings.Contains(row, want) {
			t.Errorf("blocked row lacks %s:\n%s", want, locks.Body)
		}
	}
	// The holder is listed as idle in transaction too.
	act := c.get("/ops/activity").Body
	inTx := act[strings.Index(act, "Idle in transaction <span"):]
	if !strings.Contains(inTx, `<td class="num mono">`+hp+`</td>`) {
		t.Errorf("holder %s not in the idle-in-transaction table:\n%s", hp, inTx)
	}
	if !regexp.MustCompile(`<div class="value">1</div>\s*<div class="label">waiting on locks</div>`).MatchString(act) {
		t.Error("the waiting session is not counted")
	}

	// Terminating the blocker lets the waiter through.
	c.post("/ops/backends/"+hp+"/terminate", nil).expect(t, http.StatusSeeOther)
	if err := errWithin(t, done, 5*time.Second, "waiter after the blocker was terminated"); err != nil {
		t.Fatalf("waiter: %v", err)
	}
	if locks := c.get("/ops/locks").Body; !strings.Contains(locks, "No query is waiting for a lock.") {
		t.Errorf("locks panel still shows a blocked query:\n%s", locks)
	}
}

func TestOpsAdminOnly(t *testing.T) {
	e := opsEnv(t)
	hr := e.loggedIn("hr")
	anon := e.client()
	gets := []string{"/ops", "/ops/pool", "/ops/activity", "/ops/locks", "/ops/database", "/ops/fleet", "/ops/replication", "/ops/backends/1/cancel", "/ops/backends/1/terminate"}
	posts := []string{"/ops/backends/1/cancel", "/ops/backends/1/terminate"}
	for _, p := range gets {
		r := hr.get(p).expect(t, http.StatusForbidden)
		if !strings.Contains(r.Body, "Administrators only") {
			t.Errorf("GET %s as hr: not the 403 page", p)
		}
		r = anon.get(p).expect(t, http.StatusSeeOther)
		if !strings.HasPrefix(r.Header.Get("Location"), "/login") {
			t.Errorf("GET %s anonymous: redirected to %q", p, r.Header.Get("Location"))
		}
	}
	for _, p := range posts {
		hr.post(p, url.Values{"allow_own": {"1"}}).expect(t, http.StatusForbidden)
		r := anon.post(p, nil).expect(t, http.StatusSeeOther)
		if !strings.HasPrefix(r.Header.Get("Location"), "/login") {
			t.Errorf("POST %s anonymous: redirected to %q", p, r.Header.Get("Location"))
		}
	}
	// An htmx poll whose session is gone is sent to the login page.
	r := anon.get("/ops/pool", "HX-Request", "true").expect(t, http.StatusUnauthorized)
	if r.Header.Get("HX-Redirect") != "/login" {
		t.Errorf("htmx poll without a session: HX-Redirect %q", r.Header.Get("HX-Redirect"))
	}
	if n := e.count("SELECT count(*) FROM audit_log WHERE entity = 'backend'"); n != 0 {
		t.Errorf("forbidden posts wrote %d audit rows", n)
	}
}

// TestOpsDashboardCost polls every panel from ten admins every 2 s and
// checks that the panels still read PostgreSQL about once a second each:
// the cost of the dashboard does not grow with the number of viewers.
func TestOpsDashboardCost(t *testing.T) {
	e := opsEnv(t)
	const pollers = 10
	duration := 20 * time.Second
	if testing.Short() {
		duration = 6 * time.Second
	}
	clients := make([]*client, pollers)
	for i := range clients {
		clients[i] = e.loggedIn("admin")
	}
	panels := []string{"/ops/pool", "/ops/activity", "/ops/locks", "/ops/database", "/ops/fleet", "/ops/replication"}
	xacts := func() int {
		return e.count("SELECT (xact_commit + xact_rollback)::int FROM pg_stat_database WHERE datname = current_database()")
	}
	a0, l0, d0, s0 := web.OpsLoads(e.App)
	x0 := xacts()
	start := time.Now()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		requests int
		failures []string
	)
	for _, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Spread the pollers over the 2 s period as real browsers are.
			time.Sleep(time.Duration(rand.Int64N(int64(2 * time.Second))))
			tick := time.NewTicker(2 * time.Second)
			defer tick.Stop()
			for {
				for _, p := range panels {
					req, _ := http.NewRequest(http.MethodGet, e.Srv.URL+p, nil)
					req.Header.Set("HX-Request", "true")
					resp, err := c.hc.Do(req)
					mu.Lock()
					requests++
					if err != nil {
						failures = append(failures, err.Error())
					} else {
						if resp.StatusCode != http.StatusOK {
							failures = append(failures, fmt.Sprintf("%s: %d", p, resp.StatusCode))
						}
						resp.Body.Close()
					}
					mu.Unlock()
				}
				if time.Since(start) > duration {
					return
				}
				<-tick.C
			}
		}()
	}
	wg.Wait()
	took := time.Since(start).Seconds()
	a1, l1, d1, s1 := web.OpsLoads(e.App)
	x1 := xacts()
	if len(failures) > 0 {
		t.Fatalf("%d of %d polls failed, first: %s", len(failures), requests, failures[0])
	}
	perPanel := float64(requests) / float64(len(panels)) / took
	t.Logf("%d pollers, %.1f s: %d requests (%.1f per panel per second)", pollers, took, requests, perPanel)
	t.Logf("panel loads: activity %d, locks %d, database %d; ops statements %d = %.2f queries/s",
		a1-a0, l1-l0, d1-d0, s1-s0, float64(s1-s0)/took)
	t.Logf("all transactions on the database (incl. session and user lookups of every poll): %.1f/s", float64(x1-x0)/took)
	if perPanel < 4 {
		t.Fatalf("only %.1f requests per panel per second: the pollers did not poll", perPanel)
	}
	for name, n := range map[string]int64{"activity": a1 - a0, "locks": l1 - l0, "database": d1 - d0} {
		if rate := float64(n) / took; rate > 1.5 {
			t.Errorf("%s panel loaded %d times in %.1f s (%.2f/s) for %.1f requests/s: the cache does not hold", name, n, took, rate, perPanel)
		}
	}
	// One load a second of each panel: activity 2 statements, locks,
	// database and fleet 1 each, replication 4.
	if rate := float64(s1-s0) / took; rate > 11 {
		t.Errorf("the dashboard ran %.2f statements/s, want at most ~9 (nine statements a second in all)", rate)
	}
}
