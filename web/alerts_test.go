package web_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"hris/db"
	"hris/db/dbtest"
	"hris/db/pglocal"
	"hris/web"
)

// The alert rules against real conditions on a real PostgreSQL, with a
// real HTTP receiver. Intervals and thresholds are shortened (250 ms,
// 1 s); the figures logged as LATENCY are the time from the condition to
// the notification at those settings.

// TestAlertLongQuery: a pg_sleep past the threshold fires a warning, past
// five times it a critical, and its end resolves it: each message once,
// naming the backend and its (scrubbed) statement.
func TestAlertLongQuery(t *testing.T) {
	rcv := newReceiver(t)
	e := alertEnv(t, rcv, nil)
	s := e.session(e.DB.Config().URL, "sleeper")
	start := time.Now()
	// It sleeps until the test cancels it, once the critical message came:
	// a sleep ending on its own soon after 5 s would leave a loaded
	// machine's evaluator too short a window to see it past 5 s.
	done := s.start("SELECT pg_sleep(60)")
	warn := rcv.wait("long_query", "firing", "warning", 10*time.Second)
	logLatency(t, "long_query warning (pg_sleep past 1s)", start.Add(time.Second), warn)
	if pid := int32(warn.Details["pid"].(float64)); pid != s.pid {
		t.Errorf("long_query names pid %d, want the sleeper %d", pid, s.pid)
	}
	if q := warn.Details["query"]; q != "SELECT pg_sleep(?)" {
		t.Errorf("long_query query = %q, want the scrubbed statement", q)
	}
	if !strings.Contains(warn.Text, "[FIRING WARNING] long_query") || !strings.Contains(warn.Summary, fmt.Sprint("pid ", s.pid)) {
		t.Errorf("text %q / summary %q", warn.Text, warn.Summary)
	}
	if warn.ResolvedAt != nil || warn.Instance != "test" {
		t.Errorf("firing message: resolved_at %v, instance %q", warn.ResolvedAt, warn.Instance)
	}
	crit := rcv.wait("long_query", "firing", "critical", 10*time.Second)
	logLatency(t, "long_query critical (pg_sleep past 5s)", start.Add(5*time.Second), crit)
	if _, err := e.DB.Pool.Exec(context.Background(), "SELECT pg_cancel_backend($1)", s.pid); err != nil {
		t.Fatal(err)
	}
	var pgErr *pgconn.PgError
	if err := errWithin(t, done, 10*time.Second, "sleeper"); !errors.As(err, &pgErr) || pgErr.Code != "57014" {
		t.Fatalf("sleeper ended with %v, want it cancelled (57014)", err)
	}
	ended := time.Now()
	res := rcv.wait("long_query", "resolved", "", 10*time.Second)
	logLatency(t, "long_query resolved (query ended)", ended, res)
	if res.ResolvedAt == nil || !res.ResolvedAt.After(res.StartedAt) || res.Severity != "critical" || !strings.HasPrefix(res.Text, "[RESOLVED] long_query") {
		t.Errorf("resolved message: %+v", res.alertBody)
	}
	time.Sleep(time.Second) // any duplicate would arrive by now
	rcv.exactlyOnce(t, "long_query", "warning", "critical")
	if got := e.delivered("long_query", 3); strings.Join(got, " ") != "firing/warning/sent/1 firing/critical/sent/1 resolved/critical/sent/1" {
		t.Errorf("stored transitions: %v", got)
	}
	if n := e.count("SELECT count(*) FROM alerts WHERE rule = 'long_query' AND resolved_at IS NOT NULL"); n != 1 {
		t.Errorf("%d long_query episodes, want 1", n)
	}
}

// TestAlertIdleInTransaction: a session left idle in a transaction fires;
// its commit resolves.
func TestAlertIdleInTransaction(t *testing.T) {
	rcv := newReceiver(t)
	e := alertEnv(t, rcv, nil)
	s := e.session(e.DB.Config().URL, "forgetful")
	ctx := context.Background()
	tx, err := s.conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "UPDATE departments SET name = name WHERE id = (SELECT min(id) FROM departments)"); err != nil {
		t.Fatal(err)
	}
	idleSince := time.Now()
	m := rcv.wait("idle_in_transaction", "firing", "warning", 10*time.Second)
	logLatency(t, "idle_in_transaction (idle past 1s)", idleSince.Add(time.Second), m)
	if pid := int32(m.Details["pid"].(float64)); pid != s.pid || m.Details["application"] != "forgetful" {
		t.Errorf("names pid %v (%v), want %d (forgetful)", m.Details["pid"], m.Details["application"], s.pid)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	committed := time.Now()
	res := rcv.wait("idle_in_transaction", "resolved", "", 10*time.Second)
	logLatency(t, "idle_in_transaction resolved (commit)", committed, res)
	time.Sleep(time.Second)
	rcv.exactlyOnce(t, "idle_in_transaction", "warning")
}

// TestAlertBlockedUpdateNamesBlocker: an UPDATE waiting for a row another
// transaction holds fires, naming the blocker; more sessions piling up
// behind it do not fire again; the blocker's rollback resolves.
func TestAlertBlockedUpdateNamesBlocker(t *testing.T) {
	rcv := newReceiver(t)
	e := alertEnv(t, rcv, nil)
	ctx := context.Background()
	blocker := e.session(e.DB.Config().URL, "blocker")
	tx, err := blocker.conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	update := fmt.Sprintf("UPDATE departments SET name = name || '' WHERE id = %d", e.department("Locked"))
	if _, err := tx.Exec(ctx, update); err != nil {
		t.Fatal(err)
	}
	waiter := e.session(e.DB.Config().URL, "waiter")
	waitStart := time.Now()
	waitDone := waiter.start(update)
	e.waitForLockWaiters(1)
	m := rcv.wait("blocked_query", "firing", "warning", 10*time.Second)
	logLatency(t, "blocked_query (UPDATE waiting past 1s)", waitStart.Add(time.Second), m)
	if got := int32(m.Details["blocker_pid"].(float64)); got != blocker.pid {
		t.Errorf("blocked_query names blocker %d, want %d: %v", got, blocker.pid, m.Details)
	}
	if got := int32(m.Details["pid"].(float64)); got != waiter.pid {
		t.Errorf("blocked_query names waiter %d, want %d", got, waiter.pid)
	}
	if !strings.Contains(m.Summary, fmt.Sprintf("blocked by pid %d", blocker.pid)) || !strings.Contains(m.Summary, "idle in transaction") {
		t.Errorf("summary does not name the blocker: %q", m.Summary)
	}
	// Two more behind the same row: the same episode, no new message.
	var more []<-chan error
	for i := range 2 {
		more = append(more, e.session(e.DB.Config().URL, fmt.Sprint("waiter", i+2)).start(update))
	}
	e.waitForLockWaiters(3)
	time.Sleep(time.Second)
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	released := time.Now()
	for _, d := range append(more, waitDone) {
		if err := errWithin(t, d, 10*time.Second, "waiter"); err != nil {
			t.Fatal(err)
		}
	}
	res := rcv.wait("blocked_query", "resolved", "", 10*time.Second)
	logLatency(t, "blocked_query resolved (blocker rolled back)", released, res)
	time.Sleep(time.Second)
	rcv.exactlyOnce(t, "blocked_query", "warning")
}

// TestAlertOneSessionBlockingThree: three short waits behind one session
// fire before any of them is long, naming that session.
func TestAlertOneSessionBlockingThree(t *testing.T) {
	rcv := newReceiver(t)
	e := alertEnv(t, rcv, func(c *web.Config) { c.Alerts.Blocked = time.Hour })
	ctx := context.Background()
	blocker := e.session(e.DB.Config().URL, "hog")
	tx, err := blocker.conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "LOCK TABLE departments IN EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	var readers []<-chan error
	for i := range 3 {
		readers = append(readers, e.session(e.DB.Config().URL, fmt.Sprint("reader", i)).start("SELECT id FROM departments FOR UPDATE"))
	}
	e.waitForLockWaiters(3)
	third := time.Now()
	m := rcv.wait("blocked_query", "firing", "warning", 10*time.Second)
	logLatency(t, "blocked_query (3 sessions behind one)", third, m)
	if got := int32(m.Details["blocker_pid"].(float64)); got != blocker.pid || m.Details["blocked_by_blocker"].(float64) != 3 {
		t.Errorf("names blocker %d blocking %v, want %d blocking 3: %v", got, m.Details["blocked_by_blocker"], blocker.pid, m.Details)
	}
	if !strings.Contains(m.Summary, fmt.Sprintf("Pid %d", blocker.pid)) || !strings.Contains(m.Summary, "blocking 3 sessions") {
		t.Errorf("summary %q", m.Summary)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	for _, d := range readers {
		if err := errWithin(t, d, 10*time.Second, "reader"); err != nil {
			t.Fatal(err)
		}
	}
}

// TestAlertConnections: client connections past 80 % of the usable ones
// fire a warning, past 95 % a critical; closing them resolves.
func TestAlertConnections(t *testing.T) {
	_, u := dbtest.NewServer(t, pglocal.Options{Settings: map[string]string{"max_connections": "20"}})
	rcv := newReceiver(t)
	dcfg := db.DefaultConfig()
	dcfg.URL, dcfg.MaxConns, dcfg.MinIdleConns = u, 2, 1
	e := newEnvConfig(t, dcfg, web.Config{Alerts: testAlerts(rcv.srv.URL)})
	ctx := context.Background()
	clients := func() int {
		return e.count("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'")
	}
	var conns []*pgx.Conn
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close(context.Background())
		}
	})
	// 20 connections less 3 reserved: 17 usable; 80 % is 14, 95 % is 17.
	fill := func(n int) time.Time {
		for clients() < n {
			c, err := pgx.Connect(ctx, u)
			if err != nil {
				t.Fatal(err)
			}
			conns = append(conns, c)
		}
		return time.Now()
	}
	at := fill(14)
	m := rcv.wait("connections", "firing", "warning", 15*time.Second)
	logLatency(t, "connections warning (14 of 17 = 82 %)", at, m)
	if m.Details["usable"].(float64) != 17 || m.Details["connections"].(float64) < 14 {
		t.Errorf("details %v", m.Details)
	}
	at = fill(17)
	crit := rcv.wait("connections", "firing", "critical", 15*time.Second)
	logLatency(t, "connections critical (17 of 17)", at, crit)
	for _, c := range conns {
		c.Close(ctx)
	}
	conns = nil
	closed := time.Now()
	res := rcv.wait("connections", "resolved", "", 15*time.Second)
	logLatency(t, "connections resolved", closed, res)
	time.Sleep(time.Second)
	rcv.exactlyOnce(t, "connections", "warning", "critical")
}

// wrk finds wrk (make test installs it); missing, the test fails.
func wrk(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("wrk")
	if err != nil {
		t.Fatal("wrk not found: install it (Debian: apt-get install wrk; `make test` checks for it)")
	}
	return p
}

// TestAlertPoolSaturationUnderWrk: a pool of 2 connections under wrk
// (16 connections) fires pool_saturation while the load lasts; it
// resolves once two checks in a row saw no request wait.
func TestAlertPoolSaturationUnderWrk(t *testing.T) {
	bin := wrk(t)
	rcv := newReceiver(t)
	dcfg := dbtest.Config(t)
	dcfg.MaxConns, dcfg.MinIdleConns = 2, 2
	// As served: the ops pool (health, dashboard, alerts) apart from the
	// main one, so the saturated pool is the pages' only.
	ocfg := dcfg
	ocfg.ApplicationName = "hris-ops"
	e := newEnvDBs(t, dbtest.OpenConfig(t, dcfg), dbtest.OpenConfig(t, ocfg), web.Config{Alerts: testAlerts(rcv.srv.URL)})
	e.seedDemo(200)
	c := e.loggedIn("hr")
	c.get("/employees").expect(t, http.StatusOK)
	time.Sleep(time.Second) // the sampler's baseline
	// The setup above (two connections for the seed, the login, the
	// heartbeat) may have made a request wait once: a burst, not an alert.
	if n := len(rcv.of("pool_saturation", "")); n != 0 {
		t.Fatalf("pool_saturation fired before the load:\n%s", rcv.dump())
	}
	loadStart := time.Now()
	cmd := exec.Command(bin, "-t", "2", "-c", "16", "-d", "4s", "--timeout", "10s",
		"-H", "Cookie: hris_session="+c.sessionCookie(), e.Srv.URL+"/employees")
	out, err := cmd.CombinedOutput()
	loadEnd := time.Now()
	if err != nil {
		t.Fatalf("wrk: %v\n%s", err, out)
	}
	t.Logf("wrk: %s", strings.Join(strings.Fields(string(out)), " "))
	m := rcv.wait("pool_saturation", "firing", "", 10*time.Second)
	// It fired while the load lasted: the time it fired as stored, not
	// when the message came (the sender may deliver it after the load).
	var firedAt time.Time
	if err := e.DB.Pool.QueryRow(context.Background(), "SELECT fired_at FROM alerts WHERE rule = 'pool_saturation' AND subject = 'test' ORDER BY id LIMIT 1").Scan(&firedAt); err != nil {
		t.Fatal(err)
	}
	if !firedAt.Before(loadEnd) {
		t.Errorf("pool_saturation fired at %s, after the load ended (%s)", firedAt.Format("15:04:05.000"), loadEnd.Format("15:04:05.000"))
	}
	logLatency(t, "pool_saturation (pool of 2 under wrk -c16)", loadStart, m)
	if m.Details["max_conns"].(float64) != 2 || m.Details["waited_while_full"].(float64) < 1 || m.Instance != "test" {
		t.Errorf("details %v on %s", m.Details, m.Instance)
	}
	res := rcv.wait("pool_saturation", "resolved", "", 15*time.Second)
	logLatency(t, "pool_saturation resolved (load ended)", loadEnd, res)
	time.Sleep(time.Second)
	if n := len(rcv.of("pool_saturation", "resolved")); n != 1 {
		t.Errorf("%d resolved messages:\n%s", n, rcv.dump())
	}
	if n := e.count("SELECT count(*) FROM alerts WHERE rule = 'pool_saturation' AND subject = 'test' AND resolved_at IS NOT NULL AND local_key IS NOT NULL"); n != 1 {
		t.Errorf("%d stored pool_saturation episodes, want 1", n)
	}
	body := e.client().get("/metrics").Body
	if !strings.Contains(body, `hris_db_pool_full_waits_total{instance="test"}`) || strings.Contains(body, `hris_db_pool_full_waits_total{instance="test"} 0`+"\n") {
		t.Error("/metrics does not count the waits of the full pool")
	}
}

// TestAlertXIDAge: a database's transaction ID age past the threshold
// fires; VACUUM (FREEZE) resolves it. The real threshold is 1.5 billion
// transactions: here it is lowered to what a fresh database reaches after
// a few thousand, read from the same age(datfrozenxid).
func TestAlertXIDAge(t *testing.T) {
	_, u := dbtest.NewServer(t, pglocal.Options{})
	rcv := newReceiver(t)
	cfg := testAlerts(rcv.srv.URL)
	cfg.XIDAgeWarning, cfg.XIDAgeCritical = 3000, 1_000_000_000
	dcfg := db.DefaultConfig()
	dcfg.URL = u
	e := newEnvConfig(t, dcfg, web.Config{Alerts: cfg})
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	// Use up transaction IDs: each subtransaction that writes gets one of
	// its own.
	if _, err := conn.Exec(ctx, "CREATE TEMP TABLE burn (n int)"); err != nil {
		t.Fatal(err)
	}
	const burn = `DO $$ BEGIN FOR i IN 1..1000 LOOP BEGIN INSERT INTO burn VALUES (i); EXCEPTION WHEN OTHERS THEN NULL; END; END LOOP; END $$`
	for e.int64("SELECT age(datfrozenxid) FROM pg_database WHERE datname = current_database()") < 3000 {
		if _, err := conn.Exec(ctx, burn); err != nil {
			t.Fatal(err)
		}
	}
	at := time.Now()
	m := rcv.wait("xid_age", "firing", "warning", 10*time.Second)
	logLatency(t, "xid_age (age past the lowered threshold)", at, m)
	if m.Details["database"] != "hris" || m.Details["xid_age"].(float64) < 3000 {
		t.Errorf("details %v", m.Details)
	}
	if _, err := conn.Exec(ctx, "VACUUM (FREEZE)"); err != nil {
		t.Fatal(err)
	}
	frozen := time.Now()
	res := rcv.wait("xid_age", "resolved", "", 10*time.Second)
	logLatency(t, "xid_age resolved (VACUUM FREEZE)", frozen, res)
	rcv.exactlyOnce(t, "xid_age", "warning")
}

// TestAlertReplicationLag: a standby whose replay is paused falls more
// than 10 MB behind and fires; resuming resolves. Then a synchronous
// standby that is not there (synchronous_standby_names names another)
// fires critical — and the alert gets out although every ordinary commit
// now waits for that standby; naming none again resolves it.
func TestAlertReplicationLag(t *testing.T) {
	primary, u := dbtest.NewServer(t, pglocal.Options{Settings: map[string]string{"synchronous_commit": "on"}})
	standby := dbtest.NewStandby(t, primary, "s1", false)
	rcv := newReceiver(t)
	dcfg := db.DefaultConfig()
	dcfg.URL = u
	e := newEnvConfig(t, dcfg, web.Config{Alerts: testAlerts(rcv.srv.URL)})
	ctx := context.Background()
	sc, err := pgx.Connect(ctx, standby.URL("hris"))
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close(ctx)
	pc, err := pgx.Connect(ctx, primary.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close(ctx)
	if _, err := sc.Exec(ctx, "SELECT pg_wal_replay_pause()"); err != nil {
		t.Fatal(err)
	}
	// A write and a switch to the next WAL segment: the standby receives
	// it but does not replay it, 16 MB minus a little behind.
	for range 2 {
		if _, err := pc.Exec(ctx, "CREATE TABLE IF NOT EXISTS lag (n int); INSERT INTO lag VALUES (1); SELECT pg_switch_wal()"); err != nil {
			t.Fatal(err)
		}
	}
	behind := time.Now()
	m := rcv.wait("replication_lag", "firing", "", 15*time.Second)
	logLatency(t, "replication_lag (replay paused, >10 MB behind)", behind, m)
	if m.Details["standby"] != "s1" || m.Details["replay_lag_bytes"].(float64) < 10<<20 {
		t.Errorf("details %v", m.Details)
	}
	metrics := e.client().get("/metrics").Body
	if !strings.Contains(metrics, `hris_pg_replication_lag_bytes{instance="test",standby="s1"}`) {
		t.Error("/metrics lacks the standby's lag")
	}
	if _, err := sc.Exec(ctx, "SELECT pg_wal_replay_resume()"); err != nil {
		t.Fatal(err)
	}
	resumed := time.Now()
	res := rcv.wait("replication_lag", "resolved", "", 30*time.Second)
	logLatency(t, "replication_lag resolved (replay resumed)", resumed, res)

	for _, sql := range []string{"ALTER SYSTEM SET synchronous_standby_names = 'elsewhere'", "SELECT pg_reload_conf()"} {
		if _, err := pc.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	missing := time.Now()
	waitFor(t, "a second replication_lag episode", 15*time.Second, func() bool { return len(rcv.of("replication_lag", "firing")) >= 2 })
	sync := rcv.of("replication_lag", "firing")[1]
	logLatency(t, "replication_lag (synchronous standby missing)", missing, sync)
	if sync.Severity != "critical" || sync.Details["sync_standby_missing"] != true {
		t.Errorf("sync standby missing: %s %v", sync.Severity, sync.Details)
	}
	for _, sql := range []string{"ALTER SYSTEM RESET synchronous_standby_names", "SELECT pg_reload_conf()"} {
		if _, err := pc.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the second episode to resolve", 15*time.Second, func() bool { return len(rcv.of("replication_lag", "resolved")) >= 2 })
}

// TestAlertsExactlyOnceWithTwoInstances: two instances evaluate the same
// database; one of them is also made to run rounds by hand, as fast as it
// can, as if it still believed it held the lease; and the holder stops
// half way through. Firing and resolved still arrive exactly once.
func TestAlertsExactlyOnceWithTwoInstances(t *testing.T) {
	rcv := newReceiver(t)
	dcfg := dbtest.Config(t)
	cfg := web.Config{Alerts: testAlerts(rcv.srv.URL)}
	// The transaction must be committed before it turns critical (five
	// times this), or a critical transition joins the expected ones: 3 s
	// leaves 12 s after the warning for the lease to change hands.
	cfg.Alerts.IdleInTx = 3 * time.Second
	d := dbtest.OpenConfig(t, dcfg)
	apps := map[string]*web.App{}
	stops := map[string]context.CancelFunc{}
	runs := map[string]chan struct{}{}
	for _, id := range []string{"one", "two"} {
		c := cfg
		c.InstanceID = id
		c.SessionIdleTimeout, c.SessionLifetime = time.Hour, time.Hour
		app := web.New(c, d, d, nil)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { app.Run(ctx); close(done) }()
		apps[id], stops[id], runs[id] = app, cancel, done
		t.Cleanup(func() { cancel(); <-done })
	}
	e := &env{t: t, DB: d}
	holder := func() string {
		var h string
		_ = d.Pool.QueryRow(context.Background(), "SELECT holder FROM leases WHERE name = 'alerts' AND expires_at > now()").Scan(&h)
		return h
	}
	waitFor(t, "an instance to hold the alerts lease", 10*time.Second, func() bool { return holder() != "" })
	first := holder()
	other := map[string]string{"one": "two", "two": "one"}[first]

	// The instance without the lease runs rounds by hand all along.
	hammer, stopHammer := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for hammer.Err() == nil {
			web.AlertRound(apps[other], hammer)
			time.Sleep(10 * time.Millisecond)
		}
	}()
	defer func() { stopHammer(); wg.Wait() }()

	s := e.session(d.Config().URL, "forgetful")
	ctx := context.Background()
	tx, err := s.conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "SELECT 1"); err != nil {
		t.Fatal(err)
	}
	idle := time.Now()
	m := rcv.wait("idle_in_transaction", "firing", "", 10*time.Second)
	logLatency(t, "idle_in_transaction, two instances", idle.Add(cfg.Alerts.IdleInTx), m)
	if by := m.Details["evaluated_by"]; by != first {
		t.Errorf("fired by %v, want the lease holder %s", by, first)
	}

	if n := web.AlertFencedRounds(apps[other]); n == 0 {
		t.Error("the rounds run by hand on the instance without the lease were never refused by the fence")
	} else {
		t.Logf("%d rounds of the instance without the lease refused by the fence", n)
	}

	// The holder stops (and gives the lease up); the other takes over and
	// resolves what the first one fired. It stops once it has recorded the
	// firing message as sent: stopped while the receiver's answer is still
	// on its way, it could not know the message got there, and the next
	// holder would rightly send it again.
	if got := e.delivered("idle_in_transaction", 1); len(got) == 0 || got[0] != "firing/warning/sent/1" {
		t.Fatalf("firing message not recorded as sent before the holder stops: %v", got)
	}
	stops[first]()
	<-runs[first]
	stopHammer()
	wg.Wait()
	waitFor(t, "the other instance to take the lease over", 10*time.Second, func() bool { return holder() == other })
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	committed := time.Now()
	res := rcv.wait("idle_in_transaction", "resolved", "", 10*time.Second)
	logLatency(t, "idle_in_transaction resolved by the new holder", committed, res)
	time.Sleep(time.Second)
	rcv.exactlyOnce(t, "idle_in_transaction", "warning")
	if got := e.delivered("idle_in_transaction", 2); strings.Join(got, " ") != "firing/warning/sent/1 resolved/warning/sent/1" {
		t.Errorf("stored transitions: %v", got)
	}
	var sentBy []string
	rows, _ := d.Pool.Query(ctx, "SELECT sent_by FROM alert_transitions ORDER BY id")
	for rows.Next() {
		var s string
		_ = rows.Scan(&s)
		sentBy = append(sentBy, s)
	}
	rows.Close()
	if strings.Join(sentBy, " ") != first+" "+other {
		t.Errorf("sent by %v, want %s then %s", sentBy, first, other)
	}
}

// TestAlertReceiverFailingFirst: a receiver that answers 500 three times
// gets the message on the fourth attempt, once; while it fails,
// /ops/alerts and the /ops banner say so.
func TestAlertReceiverFailingFirst(t *testing.T) {
	rcv := newReceiver(t)
	rcv.behave = func(n int, _ alertBody) (int, time.Duration) {
		if n <= 3 {
			return http.StatusInternalServerError, 0
		}
		return 0, 0
	}
	e := alertEnv(t, rcv, func(c *web.Config) { c.Alerts.RetryBase = 400 * time.Millisecond })
	admin := e.loggedIn("admin")
	start := time.Now()
	e.sleepFor("sleeper", 30)
	waitFor(t, "two failed attempts", 15*time.Second, func() bool { return rcv.requests() >= 2 })
	page := admin.get("/ops/alerts").expect(t, http.StatusOK).Body
	if !strings.Contains(page, "Deliveries are failing") || !strings.Contains(page, "HTTP 500") {
		t.Errorf("/ops/alerts does not show the failing delivery:\n%s", page)
	}
	if banner := admin.get("/ops/alerts/banner").Body; !strings.Contains(banner, "not getting out") {
		t.Errorf("banner does not warn of the failing webhook:\n%s", banner)
	}
	m := rcv.wait("long_query", "firing", "warning", 15*time.Second)
	logLatency(t, "long_query through a receiver failing 3 times", start.Add(time.Second), m)
	// The first four requests were this message: three refused, then
	// accepted, each with the same Idempotency-Key.
	rcv.mu.Lock()
	first := append([]received(nil), rcv.attempts[:min(4, len(rcv.attempts))]...)
	rcv.mu.Unlock()
	if len(first) != 4 {
		t.Fatalf("%d requests, want 4", len(first))
	}
	for _, a := range first {
		if a.Key != m.Key || a.Rule != "long_query" || a.Severity != "warning" {
			t.Errorf("attempt %s (key %s), want long_query warning with key %s", a, a.Key, m.Key)
		}
	}
	if got := e.delivered("long_query", 1); len(got) == 0 || got[0] != "firing/warning/sent/4" {
		t.Errorf("stored transitions: %v", got)
	}
	page = admin.get("/ops/alerts").expect(t, http.StatusOK).Body
	if strings.Contains(page, "Deliveries are failing") || !strings.Contains(page, "attempt 4") {
		t.Errorf("after delivery /ops/alerts should show it sent on attempt 4:\n%s", page)
	}
}

// TestAlertHangingReceiverDelaysNothing: a receiver that never answers the
// first message costs that message a timeout and a retry; meanwhile the
// next condition is still evaluated and stored on time, and pages answer.
func TestAlertHangingReceiverDelaysNothing(t *testing.T) {
	rcv := newReceiver(t)
	rcv.behave = func(n int, _ alertBody) (int, time.Duration) {
		if n == 1 {
			return 0, time.Minute
		}
		return 0, 0
	}
	e := alertEnv(t, rcv, func(c *web.Config) { c.Alerts.WebhookTimeout = 5 * time.Second })
	admin := e.loggedIn("admin")
	start := time.Now()
	e.sleepFor("sleeper", 30)
	waitFor(t, "the first (hanging) attempt", 10*time.Second, func() bool { return rcv.requests() >= 1 })
	// While the webhook hangs: a second condition fires and is stored
	// within its for, and /ops/alerts answers at once.
	idle := e.session(e.DB.Config().URL, "forgetful")
	tx, err := idle.conn.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(context.Background(), "SELECT 1"); err != nil {
		t.Fatal(err)
	}
	idleAt := time.Now()
	waitFor(t, "idle_in_transaction stored while the webhook hangs", 5*time.Second, func() bool {
		return e.count("SELECT count(*) FROM alerts WHERE rule = 'idle_in_transaction'") == 1
	})
	stored := time.Since(idleAt)
	if rcv.requests() != 1 || len(rcv.messages()) != 0 {
		t.Fatalf("the webhook should still hang: %d requests, %d answered", rcv.requests(), len(rcv.messages()))
	}
	t.Logf("idle_in_transaction stored %.2fs after the session went idle, while the webhook hung", stored.Seconds())
	pageStart := time.Now()
	admin.get("/ops/alerts").expect(t, http.StatusOK)
	if took := time.Since(pageStart); took > 2500*time.Millisecond { // well inside the 5 s the webhook hangs
		t.Errorf("/ops/alerts took %s while the webhook hung", took)
	}
	m := rcv.wait("long_query", "firing", "", 15*time.Second)
	logLatency(t, "long_query after a 5s hang and a retry", start.Add(time.Second), m)
	i := rcv.wait("idle_in_transaction", "firing", "", 15*time.Second)
	if !i.At.After(m.At) {
		t.Error("the later transition overtook the earlier one")
	}
	if got := e.delivered("long_query", 1); len(got) == 0 || got[0] != "firing/warning/sent/2" {
		t.Errorf("stored transitions: %v", got)
	}
}

// TestAlertsPageAndBanner: /ops/alerts lists the rules with their
// thresholds and what fires; /ops shows a banner while something fires;
// hr users get 403.
func TestAlertsPageAndBanner(t *testing.T) {
	rcv := newReceiver(t)
	e := alertEnv(t, rcv, nil)
	admin := e.loggedIn("admin")
	e.loggedIn("hr").get("/ops/alerts").expect(t, http.StatusForbidden)
	page := admin.get("/ops/alerts").expect(t, http.StatusOK).Body
	for _, want := range append(web.AlertRuleNames(), "Nothing is firing", "longer than 1s", "longer than 5s", "80 % in use", "95 % in use", `href="/ops/alerts" aria-current="page"`) {
		if !strings.Contains(page, want) {
			t.Errorf("/ops/alerts lacks %q", want)
		}
	}
	if strings.Contains(admin.get("/ops").Body, "alert-banner") {
		t.Error("/ops shows a banner while nothing fires")
	}
	e.sleepFor("sleeper", 30)
	rcv.wait("long_query", "firing", "", 10*time.Second)
	ops := admin.get("/ops").expect(t, http.StatusOK).Body
	if !strings.Contains(ops, "alert-banner") || !strings.Contains(ops, "1 alert firing") || !strings.Contains(ops, "long_query") {
		t.Errorf("/ops has no banner while long_query fires")
	}
	page = admin.get("/ops/alerts").Body
	if !strings.Contains(page, "SELECT pg_sleep(?)") || strings.Contains(page, "Nothing is firing") {
		t.Error("/ops/alerts does not show the firing alert with its query")
	}
}

// TestAlertWebhookUnsetKeepsHistory: with no webhook, transitions are
// stored and shown, marked as not sent.
func TestAlertWebhookUnsetKeepsHistory(t *testing.T) {
	e := newEnvConfig(t, dbtest.Config(t), web.Config{Alerts: web.AlertConfig{Interval: 250 * time.Millisecond, IdleInTx: time.Second}})
	s := e.session(e.DB.Config().URL, "forgetful")
	tx, err := s.conn.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(context.Background(), "SELECT 1"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the transition stored as unsent", 10*time.Second, func() bool {
		return e.count("SELECT count(*) FROM alert_transitions WHERE delivery = 'unsent'") == 1
	})
	_ = tx.Rollback(context.Background())
	page := e.loggedIn("admin").get("/ops/alerts").Body
	if !strings.Contains(page, "No webhook is configured") || !strings.Contains(page, "not sent: no webhook") {
		t.Error("/ops/alerts does not say the transition was not sent for want of a webhook")
	}
}
