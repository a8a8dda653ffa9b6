package web_test

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"hris/db"
	"hris/db/dbtest"
	"hris/db/pglocal"
	"hris/web"
)

// The tests of /ops/queries, /ops/tables and the history behind them. The
// capture is driven through hooks (web.CaptureQueryStats...) at chosen
// interval boundaries, except where the background loops themselves are
// what is tested.

// capture takes the snapshot of interval at and fails the test on error.
func (e *env) capture(at time.Time) (taken, baseline, reset bool, statements int) {
	e.t.Helper()
	taken, baseline, reset, statements, took, err := web.CaptureQueryStats(e.App, context.Background(), at)
	if err != nil {
		e.t.Fatalf("capture at %s: %v", at.Format("15:04:05"), err)
	}
	e.t.Logf("snapshot %s: taken %v, baseline %v, reset %v, %d statements, %s", at.Format("15:04"), taken, baseline, reset, statements, took.Round(time.Microsecond))
	return taken, baseline, reset, statements
}

// run executes sql n times on s.
func (s *session) run(n int, sql string, args ...any) {
	s.t.Helper()
	for range n {
		if _, err := s.conn.Exec(context.Background(), sql, args...); err != nil {
			s.t.Fatalf("%s: %v", sql, err)
		}
	}
}

// queryRow finds the table row of /ops/queries whose statement contains text.
func queryRow(t *testing.T, page, text string) string {
	t.Helper()
	for _, row := range regexp.MustCompile(`(?s)<tr[^>]*>\s*<td class="query">.*?</tr>`).FindAllString(page, -1) {
		if strings.Contains(row, text) {
			return row
		}
	}
	t.Fatalf("no row with %q on the page:\n%s", text, page)
	return ""
}

// cells are the numeric cells of a row, in order.
func cells(row string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`<td class="num[^"]*">\s*([^<]*)`).FindAllStringSubmatch(row, -1) {
		out = append(out, strings.TrimSpace(m[1]))
	}
	return out
}

func TestQueriesSlowQueryAppearsAndIsFlagged(t *testing.T) {
	e := newEnv(t) // PgHero's rule: a mean of 20 ms or more over 100 calls
	c := e.loggedIn("admin")
	at := time.Now().Truncate(time.Minute)
	if taken, baseline, _, _ := e.capture(at.Add(-10 * time.Minute)); !taken || !baseline {
		t.Fatalf("first snapshot: taken %v baseline %v, want a baseline", taken, baseline)
	}

	s := e.session(e.DB.Config().URL, "workload")
	s.run(101, "SELECT pg_sleep(0.021)")
	s.run(150, "SELECT count(*) AS fast_one FROM departments")
	// Values that must never be shown or stored: a bind parameter, a
	// literal the simple protocol sends inline, a utility statement's.
	s.run(1, "SELECT $1::text AS bound", "hunter2-bound-secret")
	s.run(1, "SELECT 'inline-literal-secret'::text AS inline")
	s.run(1, "SET application_name = 'set-utility-secret'")

	live := c.get("/ops/queries?sort=mean").expect(t, http.StatusOK).Body
	slow := queryRow(t, live, "SELECT pg_sleep($1)")
	if !strings.Contains(slow, `<tr class="long">`) || !strings.Contains(slow, `badge warn">slow`) {
		t.Errorf("the slow statement is not flagged:\n%s", slow)
	}
	if got := cells(slow); len(got) < 1 || got[0] != "101" {
		t.Errorf("slow statement's calls %v, want 101", got)
	}
	fast := queryRow(t, live, "fast_one")
	if strings.Contains(fast, "slow") {
		t.Errorf("a fast statement is flagged slow:\n%s", fast)
	}
	if !strings.Contains(live, "1 slow statement") {
		t.Error("no summary of slow statements")
	}
	for _, secret := range []string{"hunter2", "inline-literal-secret", "set-utility-secret"} {
		if strings.Contains(live, secret) {
			t.Errorf("/ops/queries shows %q", secret)
		}
	}
	if !strings.Contains(live, "SET …") {
		t.Error("the utility statement is not listed by its command word")
	}

	// The stored hour, from the snapshot that closes the interval.
	if taken, baseline, reset, n := e.capture(at); !taken || baseline || reset || n < 3 {
		t.Fatalf("second snapshot: taken %v baseline %v reset %v, %d statements", taken, baseline, reset, n)
	}
	if n := e.count("SELECT count(*) FROM query_texts WHERE query ~ '(hunter2|inline-literal|set-utility)'"); n != 0 {
		t.Errorf("%d stored texts hold a value", n)
	}
	stored := c.get("/ops/queries?period=1h&sort=mean").expect(t, http.StatusOK).Body
	row := queryRow(t, stored, "SELECT pg_sleep($1)")
	if !strings.Contains(row, `badge warn">slow`) || cells(row)[0] != "101" {
		t.Errorf("stored hour: slow statement row\n%s", row)
	}
	if strings.Contains(stored, "hunter2") || strings.Contains(stored, "notice-bad") {
		t.Errorf("stored hour shows a secret or an error:\n%s", stored)
	}
	byCalls := c.get("/ops/queries?period=1h&sort=calls").Body
	if strings.Index(byCalls, "fast_one") > strings.Index(byCalls, "pg_sleep") {
		t.Error("sorted by calls, the 150-call statement is not above the 101-call one")
	}

	// The statement's own page: its text and its history as charts.
	id := e.int64("SELECT queryid FROM query_texts WHERE query = 'SELECT pg_sleep($1)'")
	detail := c.get(fmt.Sprintf("/ops/queries/%d?period=1h", id)).expect(t, http.StatusOK).Body
	for _, want := range []string{"SELECT pg_sleep($1)", `badge warn">slow`, `class="spark"`, "Calls / min", "Mean time, ms", "ran in 1 of 1 snapshots"} {
		if !strings.Contains(detail, want) {
			t.Errorf("statement page lacks %q", want)
		}
	}
	c.get("/ops/queries/424242").expect(t, http.StatusNotFound)
	c.get("/ops/queries/not-a-number").expect(t, http.StatusNotFound)
}

func TestQueryHistoryIsKeptAcrossReset(t *testing.T) {
	e := newEnv(t)
	c := e.loggedIn("admin")
	ctx := context.Background()
	t0 := time.Now().Truncate(time.Minute).Add(-30 * time.Minute)
	s := e.session(e.DB.Config().URL, "workload")
	const marker = "SELECT count(*) AS reset_marker FROM departments"

	e.capture(t0)
	s.run(5, marker)
	e.capture(t0.Add(5 * time.Minute))
	s.run(1, "SELECT pg_stat_statements_reset()")
	s.run(3, marker)
	if _, _, reset, _ := e.capture(t0.Add(10 * time.Minute)); !reset {
		t.Error("the snapshot after pg_stat_statements_reset() is not marked as a reset")
	}
	// A reset of this one statement only (its entry starts again at 0).
	id := e.int64("SELECT queryid FROM query_texts WHERE query = $1", marker)
	if _, err := s.conn.Exec(ctx, "SELECT pg_stat_statements_reset(0, 0, $1)", id); err != nil {
		t.Fatal(err)
	}
	s.run(2, marker)
	if _, _, reset, _ := e.capture(t0.Add(15 * time.Minute)); !reset {
		t.Error("the snapshot after a one-statement reset is not marked as a reset")
	}

	var calls []int64
	rows, err := e.DB.Pool.Query(ctx, "SELECT calls FROM query_stats WHERE queryid = $1 ORDER BY at", id)
	if err != nil {
		t.Fatal(err)
	}
	calls, err = pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(calls) != "[5 3 2]" {
		t.Errorf("the statement's stored calls per snapshot %v, want [5 3 2]: history across both resets", calls)
	}
	if n := e.count("SELECT count(*) FROM query_stats WHERE calls < 0 OR total_ms < 0 OR rows < 0 OR blks_hit < 0 OR blks_read < 0"); n != 0 {
		t.Errorf("%d negative deltas stored", n)
	}
	if n := e.count("SELECT count(*) FROM query_snapshots WHERE calls < 0 OR total_ms < 0"); n != 0 {
		t.Errorf("%d snapshots with negative totals", n)
	}

	page := c.get("/ops/queries?period=1h&sort=calls").expect(t, http.StatusOK).Body
	if got := cells(queryRow(t, page, "reset_marker")); got[0] != "10" {
		t.Errorf("over the hour the statement has %s calls, want 10 (5 + 3 + 2)", got[0])
	}
	if !strings.Contains(page, "statistics reset 2× (history kept)") {
		t.Error("the page does not say the statistics were reset in the period")
	}
	detail := c.get(fmt.Sprintf("/ops/queries/%d?period=1h", id)).Body
	if !strings.Contains(detail, "reset 2 times") || !strings.Contains(detail, "ran in 3 of 3 snapshots") {
		t.Errorf("statement page does not tell of the resets:\n%s", detail)
	}
}

// TestQueryHistoryAcrossServerRestarts: a crash loses pg_stat_statements'
// counters (detected as a reset: the deltas start again, none negative); a
// clean restart keeps them (pg_stat_statements.save), and so do the deltas.
func TestQueryHistoryAcrossServerRestarts(t *testing.T) {
	srv, u := dbtest.NewServer(t, pglocal.Options{})
	cfg := db.DefaultConfig()
	cfg.URL = u
	e := newEnvConfig(t, cfg, web.Config{})
	ctx := context.Background()
	const marker = "SELECT count(*) AS restart_marker FROM departments"
	run := func(n int) {
		t.Helper()
		conn, err := pgx.Connect(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		for range n {
			if _, err := conn.Exec(ctx, marker); err != nil {
				t.Fatal(err)
			}
		}
	}
	restart := func(crash bool) {
		t.Helper()
		conn, err := pgx.Connect(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		// The test server does not wait for its WAL: flush it, so the crash
		// loses statistics, not our last snapshot.
		if _, err := conn.Exec(ctx, "CHECKPOINT"); err != nil {
			t.Fatal(err)
		}
		if crash {
			// A backend dies: PostgreSQL resets shared memory, and
			// pg_stat_statements starts again from nothing.
			if err := syscall.Kill(int(conn.PgConn().PID()), syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
		} else if err := srv.Restart(ctx); err != nil {
			t.Fatal(err)
		}
		_ = conn.Close(ctx)
		waitFor(t, "the server to take connections again", 30*time.Second, func() bool {
			c, err := pgx.Connect(ctx, u)
			if err != nil {
				return false
			}
			defer c.Close(ctx)
			var n int
			return c.QueryRow(ctx, "SELECT count(*) FROM pg_stat_statements").Scan(&n) == nil
		})
		waitFor(t, "the app's pool to reconnect", 10*time.Second, func() bool {
			return e.DB.Pool.Ping(ctx) == nil
		})
	}
	t0 := time.Now().Truncate(time.Minute).Add(-30 * time.Minute)
	e.capture(t0)
	run(5)
	e.capture(t0.Add(5 * time.Minute))
	restart(true)
	run(2)
	if _, _, reset, _ := e.capture(t0.Add(10 * time.Minute)); !reset {
		t.Error("the snapshot after a crash is not marked as a reset")
	}
	restart(false)
	run(3)
	if _, _, reset, _ := e.capture(t0.Add(15 * time.Minute)); reset {
		t.Error("the snapshot after a clean restart is marked as a reset: the counters were kept")
	}
	rows, err := e.DB.Pool.Query(ctx, "SELECT s.calls FROM query_stats s JOIN query_texts t USING (queryid) WHERE t.query = $1 ORDER BY s.at", marker)
	if err != nil {
		t.Fatal(err)
	}
	calls, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(calls) != "[5 2 3]" {
		t.Errorf("calls per snapshot %v, want [5 2 3] across a crash and a clean restart", calls)
	}
	if n := e.count("SELECT count(*) FROM query_stats WHERE calls < 0 OR total_ms < 0"); n != 0 {
		t.Errorf("%d negative deltas", n)
	}
}

// TestHistoryTwoInstancesOneSnapshotPerInterval runs two instances whose
// every connection goes through a PgBouncer in transaction mode, with the
// capture every second: one holds the lease and takes each interval's
// snapshot, once; when it stops, the other takes over.
func TestHistoryTwoInstancesOneSnapshotPerInterval(t *testing.T) {
	srv, direct := dbtest.NewServer(t, pglocal.Options{})
	pooled := dbtest.PgBouncer(t, srv, "hris", 4)
	type instance struct {
		app  *web.App
		stop func()
	}
	start := func(id string) instance {
		cfg := db.DefaultConfig()
		cfg.URL, cfg.ExecMode, cfg.MaxConns, cfg.MinIdleConns = pooled, "cache_describe", 3, 0
		d := dbtest.OpenConfig(t, cfg)
		app := web.New(web.Config{InstanceID: id, QueryStatsInterval: time.Second, HistoryStep: time.Second, SessionIdleTimeout: time.Hour, SessionLifetime: time.Hour}, d, d, nil)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { app.Run(ctx); close(done) }()
		stop := func() { cancel(); <-done }
		t.Cleanup(stop)
		return instance{app, stop}
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, direct)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	count := func(sql string) int {
		t.Helper()
		var n int
		if err := conn.QueryRow(ctx, sql).Scan(&n); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		return n
	}

	a, b := start("A"), start("B")
	began := time.Now()
	for time.Since(began) < 6*time.Second {
		if _, err := conn.Exec(ctx, "SELECT count(*) FROM employees"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	secs := time.Since(began).Seconds()
	snaps := count("SELECT count(*) FROM query_snapshots")
	takenA, takenB := web.SnapshotsTaken(a.app), web.SnapshotsTaken(b.app)
	snapsAfter := count("SELECT count(*) FROM query_snapshots") // one may land in between
	holders := count("SELECT count(DISTINCT instance_id) FROM query_snapshots")
	t.Logf("%.1f s: %d snapshots (A took %d, B %d), %d server rows, %d pool rows",
		secs, snaps, takenA, takenB, count("SELECT count(*) FROM server_history"), count("SELECT count(*) FROM pool_history"))
	if snaps < 3 || float64(snaps) > secs+1 {
		t.Errorf("%d snapshots in %.1f s of 1 s intervals, want one per interval", snaps, secs)
	}
	if taken := int(takenA + takenB); holders != 1 || taken < snaps || taken > snapsAfter || (takenA > 0 && takenB > 0) {
		t.Errorf("snapshots by %d instances (A %d, B %d of %d): want every one by the lease holder alone", holders, takenA, takenB, snaps)
	}
	if n := count("SELECT count(*) FROM (SELECT at FROM server_history GROUP BY at HAVING count(*) > 1) d"); n != 0 {
		t.Errorf("%d server history minutes written twice", n)
	}
	if n := count("SELECT count(DISTINCT instance_id) FROM server_history"); n != 1 {
		t.Errorf("server history written by %d instances, want the lease holder only", n)
	}
	if n := count("SELECT count(DISTINCT instance_id) FROM pool_history"); n != 2 {
		t.Errorf("pool history of %d instances, want both: each keeps its own", n)
	}
	if n := count("SELECT count(*) FROM query_stats s JOIN query_texts t USING (queryid) WHERE t.query LIKE 'SELECT count(*) FROM employees%'"); n < 2 {
		t.Errorf("the workload's statement is in %d snapshots", n)
	}

	// The holder stops (and hands the lease back): the other takes over.
	holder, other := a, "B"
	if takenB > 0 {
		holder, other = b, "A"
	}
	holder.stop()
	deadline := time.Now().Add(5 * time.Second)
	for count(fmt.Sprintf("SELECT count(*) FROM query_snapshots WHERE instance_id = '%s'", other)) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%s took no snapshot within 5 s of the holder stopping", other)
		}
		time.Sleep(100 * time.Millisecond)
	}
	var leaseHolder string
	if err := conn.QueryRow(ctx, "SELECT holder FROM leases WHERE name = 'history'").Scan(&leaseHolder); err != nil || leaseHolder != other {
		t.Errorf("lease holder %q (%v), want %s", leaseHolder, err, other)
	}
}

func TestHistoryRetentionDeletesOldRows(t *testing.T) {
	e := newEnvConfig(t, dbtest.Config(t), web.Config{HistoryRetention: 48 * time.Hour})
	old, recent := "now() - interval '72 hours'", "now() - interval '1 hour'"
	// 12,000 old minutes (more than two deletion batches), 2,000 recent ones.
	for at, n := range map[string]int{old: 12000, recent: 2000} {
		e.exec(`INSERT INTO pool_history (at, instance_id, seconds, max_conns, in_use_avg, in_use_max, acquires, waited, acquire_ms, wait_ms, canceled, unavailable)
			SELECT date_trunc('minute', `+at+`) - g * interval '1 minute', 'i', 60, 10, 1, 2, 3, 0, 1, 0, 0, 0 FROM generate_series(1, $1) g`, n)
		e.exec(`INSERT INTO server_history (at, instance_id, active, idle, idle_in_tx, waiting, clients, max_connections, commits_total, rollbacks_total, blks_hit_total, blks_read_total)
			VALUES (` + at + `, 'i', 1, 1, 0, 0, 2, 100, 1, 0, 1, 0)`)
		e.exec(`INSERT INTO query_snapshots (at, taken_at, since, instance_id, reset, calls, total_ms, statements, capture_ms)
			VALUES (` + at + `, ` + at + `, ` + at + ` - interval '5 minutes', 'i', false, 1, 1, 1, 1)`)
	}
	e.exec(`INSERT INTO query_texts (queryid, query, first_seen) VALUES (1, 'SELECT old', now()), (2, 'SELECT kept', now())`)
	e.exec(`INSERT INTO query_stats (at, queryid, calls, total_ms, rows, blks_hit, blks_read)
		SELECT at, CASE WHEN at < now() - interval '2 days' THEN 1 ELSE 2 END, 1, 1, 1, 0, 0 FROM query_snapshots`)
	e.exec(`INSERT INTO relation_sizes (day, schema_name, name, kind, table_name, bytes)
		VALUES (current_date - 4, 'public', 'employees', 'table', 'employees', 1), (current_date, 'public', 'employees', 'table', 'employees', 2)`)

	n, err := web.PruneHistory(e.App, context.Background(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("retention deleted %d rows", n)
	for _, c := range []struct {
		sql  string
		want int
	}{
		{"SELECT count(*) FROM pool_history WHERE at < now() - interval '48 hours'", 0},
		{"SELECT count(*) FROM pool_history", 2000},
		{"SELECT count(*) FROM server_history", 1},
		{"SELECT count(*) FROM query_snapshots", 1},
		{"SELECT count(*) FROM query_stats", 1},
		{"SELECT count(*) FROM query_texts WHERE query = 'SELECT old'", 0},
		{"SELECT count(*) FROM query_texts WHERE query = 'SELECT kept'", 1},
		{"SELECT count(*) FROM relation_sizes", 1},
	} {
		if got := e.count(c.sql); got != c.want {
			t.Errorf("%s: %d, want %d", c.sql, got, c.want)
		}
	}
}

func TestTablesListsIndexesToDropAndSequences(t *testing.T) {
	e := newEnv(t)
	c := e.loggedIn("admin")
	ctx := context.Background()
	// Sizes a few days ago, then data: growth.
	if err := web.CaptureSizes(e.App, ctx, time.Now().UTC().AddDate(0, 0, -3).Truncate(24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	e.seedDemo(300)
	e.exec("CREATE INDEX employees_job_title_idx ON employees (job_title)") // never used
	e.exec("CREATE INDEX employees_last_name_dup ON employees (last_name)") // leads employees_name_idx
	e.exec("CREATE INDEX employees_status_used_idx ON employees (status)")  // used below (for "active": no partial index serves it)
	e.exec("CREATE TABLE dup_emails (email text)")
	e.exec("INSERT INTO dup_emails VALUES ('a@x'), ('a@x')")
	if _, err := e.DB.Pool.Exec(ctx, "CREATE UNIQUE INDEX CONCURRENTLY dup_emails_email_key ON dup_emails (email)"); err == nil {
		t.Fatal("a unique index over duplicates was built")
	}
	e.exec("CREATE TABLE tiny (id smallint GENERATED BY DEFAULT AS IDENTITY, note text)")
	e.exec("SELECT setval(pg_get_serial_sequence('tiny', 'id'), 30000)")
	// A scan of the used index, flushed to the statistics as its session ends.
	s := e.session(e.DB.Config().URL, "scanner")
	s.run(1, "SET enable_seqscan = off")
	s.run(1, "SELECT count(*) FROM employees WHERE status = 'active'")
	_ = s.conn.Close(ctx)
	waitFor(t, "the index scan to reach the statistics", 10*time.Second, func() bool {
		return e.count("SELECT coalesce(sum(idx_scan), 0)::int FROM pg_stat_user_indexes WHERE indexrelname = 'employees_status_used_idx'") > 0
	})

	page := c.get("/ops/tables").expect(t, http.StatusOK).Body
	if strings.Contains(page, "notice-bad") {
		t.Errorf("/ops/tables shows an error:\n%s", page)
	}
	section := func(from, to string) string {
		i, j := strings.Index(page, from), strings.Index(page, to)
		if i < 0 || j < i {
			t.Fatalf("no section from %q to %q", from, to)
		}
		return page[i:j]
	}
	unused := section(`Unused <span`, `Duplicate <span`)
	dup := section(`Duplicate <span`, `Invalid <span`)
	invalid := page[strings.Index(page, `Invalid <span`):]
	if !strings.Contains(unused, "employees_job_title_idx") || !strings.Contains(unused, "DROP INDEX CONCURRENTLY public.employees_job_title_idx;") {
		t.Errorf("the unused index is not listed with its DROP statement:\n%s", unused)
	}
	if strings.Contains(unused, "employees_status_used_idx") {
		t.Error("an index that was scanned is listed as unused")
	}
	if strings.Contains(unused, "employees_email_key") {
		t.Error("a unique index is listed as unused")
	}
	if !strings.Contains(dup, "employees_last_name_dup") || !strings.Contains(dup, "employees_name_idx") ||
		!strings.Contains(dup, "DROP INDEX CONCURRENTLY public.employees_last_name_dup;") {
		t.Errorf("the duplicate index is not listed with the one covering it and its DROP statement:\n%s", dup)
	}
	if strings.Contains(dup, "<strong>employees_name_idx</strong>") {
		t.Error("the covering index is listed as a duplicate")
	}
	if !strings.Contains(invalid, "dup_emails_email_key") || !strings.Contains(invalid, "DROP INDEX CONCURRENTLY public.dup_emails_email_key;") {
		t.Errorf("the invalid index is not listed:\n%s", invalid)
	}
	seq := section(`id="sequences"`, `id="indexes"`)
	if !strings.Contains(seq, "tiny_id_seq") || !strings.Contains(seq, "tiny.id") || !strings.Contains(seq, "92 %") {
		t.Errorf("the nearly used-up sequence is not listed:\n%s", seq)
	}
	for _, want := range []string{"Transaction ID age", "Oldest tables", "Rows, scans and vacuum", "3 days, daily capture"} {
		if !strings.Contains(page, want) {
			t.Errorf("/ops/tables lacks %q", want)
		}
	}
	space := section(`id="space"`, `id="maintenance"`)
	if !regexp.MustCompile(`(?s)<td>employees</td>.*?<td class="num nowrap">\+\d`).MatchString(space) {
		t.Errorf("employees shows no growth since the capture three days ago:\n%s", space)
	}
}

// TestOpsPanelsAnswerWhileTableIsLocked holds ACCESS EXCLUSIVE on a table,
// as a migration would: the sizes section says so within about a second,
// every other section and page answers.
func TestOpsPanelsAnswerWhileTableIsLocked(t *testing.T) {
	e := newEnv(t)
	c := e.loggedIn("admin")
	ctx := context.Background()
	holder := e.session(e.DB.Config().URL, "migration")
	tx, err := holder.conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "LOCK TABLE employees IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	page := c.get("/ops/tables").expect(t, http.StatusOK).Body
	took := time.Since(start)
	t.Logf("/ops/tables with employees locked: %s", took.Round(time.Millisecond))
	if took > 4*time.Second {
		t.Errorf("/ops/tables took %s with a table locked, want about the 1 s lock timeout", took)
	}
	space := page[strings.Index(page, `id="space"`):strings.Index(page, `id="maintenance"`)]
	if !strings.Contains(space, "is locked") || !strings.Contains(space, "gave up after 1 s") {
		t.Errorf("the sizes section does not say a table is locked:\n%s", space)
	}
	if n := strings.Count(page, "notice-bad"); n != 1 {
		t.Errorf("%d sections failed, want only the sizes", n)
	}
	for _, want := range []string{"Rows, scans and vacuum", "Oldest tables", "Unused <span", "employees_name_idx"} {
		if !strings.Contains(page, want) {
			t.Errorf("/ops/tables lacks %q while employees is locked", want)
		}
	}
	for _, path := range []string{"/ops", "/ops/queries", "/ops/queries?period=24h", "/ops?period=1h", "/ops/activity", "/ops/locks", "/ops/database", "/ops/fleet", "/ops/pool"} {
		start := time.Now()
		r := c.get(path).expect(t, http.StatusOK)
		if strings.Contains(r.Body, "notice-bad") {
			t.Errorf("%s shows an error while employees is locked", path)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("%s took %s", path, d)
		}
	}
	if act := c.get("/ops/activity").Body; !strings.Contains(act, "migration") {
		t.Error("the session holding the lock is not on the activity panel")
	}
}

func TestOpsInsightsAdminOnly(t *testing.T) {
	e := newEnv(t)
	hr := e.loggedIn("hr")
	anon := e.client()
	for _, p := range []string{"/ops/queries", "/ops/queries?period=7d", "/ops/queries/123", "/ops/tables", "/ops?period=24h", "/ops/pool?period=1h"} {
		if r := hr.get(p).expect(t, http.StatusForbidden); !strings.Contains(r.Body, "Administrators only") {
			t.Errorf("GET %s as hr: not the 403 page", p)
		}
		if r := anon.get(p).expect(t, http.StatusSeeOther); !strings.HasPrefix(r.Header.Get("Location"), "/login") {
			t.Errorf("GET %s anonymous: redirected to %q", p, r.Header.Get("Location"))
		}
	}
}

func TestQueriesExplainMissingStatStatements(t *testing.T) {
	t.Run("extension not created", func(t *testing.T) {
		e := newEnv(t)
		c := e.loggedIn("admin")
		e.exec("DROP EXTENSION pg_stat_statements")
		database := e.str("SELECT current_database()")
		for _, path := range []string{"/ops/queries", "/ops/queries?period=24h"} {
			page := c.get(path).expect(t, http.StatusOK).Body
			for _, want := range []string{"not created in the database " + database, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements;", "shared_preload_libraries", "Everything else on the ops pages works without it"} {
				if !strings.Contains(page, want) {
					t.Errorf("%s lacks %q", path, want)
				}
			}
			if strings.Contains(page, "notice-bad") {
				t.Errorf("%s shows an error instead of the setup", path)
			}
		}
		for _, path := range []string{"/ops", "/ops/tables", "/ops/database"} {
			if r := c.get(path).expect(t, http.StatusOK); strings.Contains(r.Body, "notice-bad") {
				t.Errorf("%s fails without pg_stat_statements", path)
			}
		}
		_, _, _, _, _, err := web.CaptureQueryStats(e.App, context.Background(), time.Now().Truncate(time.Minute))
		if err == nil || e.count("SELECT count(*) FROM query_snapshots") != 0 {
			t.Errorf("a snapshot without pg_stat_statements: %v, %d rows", err, e.count("SELECT count(*) FROM query_snapshots"))
		}
	})
	t.Run("library not preloaded", func(t *testing.T) {
		_, u := dbtest.NewServer(t, pglocal.Options{Settings: map[string]string{"shared_preload_libraries": ""}})
		cfg := db.DefaultConfig()
		cfg.URL = u
		e := newEnvConfig(t, cfg, web.Config{})
		c := e.loggedIn("admin")
		page := c.get("/ops/queries").expect(t, http.StatusOK).Body
		for _, want := range []string{"its library is not loaded", "ALTER SYSTEM SET shared_preload_libraries = &#39;pg_stat_statements&#39;;", "Restart PostgreSQL"} {
			if !strings.Contains(page, want) {
				t.Errorf("/ops/queries lacks %q:\n%s", want, page)
			}
		}
		if r := c.get("/ops").expect(t, http.StatusOK); strings.Contains(r.Body, "notice-bad") {
			t.Error("/ops fails without pg_stat_statements loaded")
		}
	})
}

// TestOpsPeriodSwitch records history every second and shows it on /ops
// for a stored period: this instance's pool, the fleet's, the server's.
func TestOpsPeriodSwitch(t *testing.T) {
	e := newEnvConfig(t, dbtest.Config(t), web.Config{HistoryStep: time.Second})
	c := e.loggedIn("admin")
	waitFor(t, "pool and server history rows", 10*time.Second, func() bool {
		return e.count("SELECT count(*) FROM pool_history WHERE instance_id = 'test'") >= 3 &&
			e.count("SELECT count(*) FROM server_history WHERE commits IS NOT NULL") >= 2
	})
	if n := e.count("SELECT count(*) FROM pool_history WHERE max_conns <> $1 OR seconds <= 0 OR seconds > 2.5", e.DB.Config().MaxConns); n != 0 {
		t.Errorf("%d pool history rows with a wrong pool size or span", n)
	}
	if n := e.count("SELECT count(*) FROM server_history WHERE active < 0 OR commits < 0 OR max_connections < 1"); n != 0 {
		t.Errorf("%d bad server history rows", n)
	}

	page := c.get("/ops?period=1h").expect(t, http.StatusOK).Body
	for _, want := range []string{
		`hx-get="/ops/pool?period=1h"`, `hx-get="/ops/database?period=1h"`, `hx-get="/ops/fleet?period=1h"`, `hx-get="/ops/activity"`,
		`<a href="/ops?period=1h" aria-current="true">1 h</a>`, `<a href="/ops">15 min</a>`,
		"Fleet in use, avg", "Fleet 503s / min", "Active sessions", "Idle in transaction", "Cache hit, %", "In use, last 1 h",
		`<a href="/ops/queries">Queries</a>`, `<a href="/ops/tables">Tables</a>`, `<a href="/ops" aria-current="page">Dashboard</a>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("/ops?period=1h lacks %s", want)
		}
	}
	if strings.Contains(page, "notice-bad") {
		t.Errorf("/ops?period=1h shows an error:\n%s", page)
	}
	for path, want := range map[string]string{
		"/ops/pool?period=24h":    "one point per 12 min",
		"/ops/database?period=7d": "one point per 84 min",
		"/ops/fleet?period=1h":    `<td class="fleet-history"><svg class="spark"`,
	} {
		r := c.get(path, "HX-Request", "true").expect(t, http.StatusOK)
		isFragment(t, r)
		if !strings.Contains(r.Body, want) {
			t.Errorf("%s lacks %s:\n%s", path, want, r.Body)
		}
	}
	// The live view is unchanged: the 15 minutes in memory.
	if live := c.get("/ops/pool").Body; strings.Contains(live, "Fleet in use") || !strings.Contains(live, "In use vs max") {
		t.Error("/ops/pool without a period is not the live panel")
	}
}

// TestQueryStatsCaptureCost measures a snapshot on its own server with
// pg_stat_statements full (thousands of distinct statements, each run
// twice so every one has a delta) and with hris's own statements: the
// figures of the closing note.
func TestQueryStatsCaptureCost(t *testing.T) {
	_, u := dbtest.NewServer(t, pglocal.Options{})
	cfg := db.DefaultConfig()
	cfg.URL = u
	e := newEnvConfig(t, cfg, web.Config{})
	ctx := context.Background()
	s := e.session(u, "workload")
	var max int
	if err := s.conn.QueryRow(ctx, "SELECT current_setting('pg_stat_statements.max')::int").Scan(&max); err != nil {
		t.Fatal(err)
	}
	// Distinct statements, enough to nearly fill pg_stat_statements:
	// f(g(h(x))) over numeric functions (the few that fail, overflowing,
	// are not counted).
	fns := []string{"abs", "ceil", "floor", "round", "sign", "sqrt", "exp", "ln", "log10", "trunc", "scale",
		"trim_scale", "min_scale", "degrees", "radians", "sin", "cos", "atan", "cbrt"}
	var stmts []string
	for _, f := range fns {
		for _, g := range fns {
			for _, h := range fns {
				if len(stmts) < max-500 {
					stmts = append(stmts, fmt.Sprintf("SELECT %s(abs(%s(abs(%s(0.5::numeric)) + 1)) + 1)", f, g, h))
				}
			}
		}
	}
	run := func() (ok int) {
		// Statements that fail (a function that does not take numeric)
		// are not counted by pg_stat_statements.
		for _, q := range stmts {
			if _, err := s.conn.Exec(ctx, q, pgx.QueryExecModeSimpleProtocol); err == nil {
				ok++
			}
		}
		return ok
	}
	at := time.Now().Truncate(time.Minute).Add(-20 * time.Minute)
	ran := run()
	e.capture(at)
	run()
	_, _, _, full, took, err := web.CaptureQueryStats(e.App, ctx, at.Add(5*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	entries := e.count("SELECT count(*) FROM pg_stat_statements")
	t.Logf("pg_stat_statements %d of max %d entries (%d distinct test statements ran): snapshot of %d changed statements took %s",
		entries, max, ran, full, took.Round(time.Microsecond))
	if full < 200 || full > 600 {
		t.Errorf("the snapshot stored %d of the %d statements that ran, want the top 200 by each order (200 to 600)", full, ran)
	}
	if took > 5*time.Second {
		t.Errorf("a snapshot took %s", took)
	}

	// hris's own workload: every page a few times, then a quiet interval's snapshot.
	admin := e.loggedIn("admin")
	e.seedDemo(200)
	pages := []string{"/employees", "/employees?q=smith", "/employees?sort=hire_date", "/departments", "/users", "/audit", "/ops", "/ops/queries", "/ops/tables", "/ops/pool", "/ops/activity", "/ops/locks", "/ops/database", "/ops/fleet", "/health/detailed"}
	e.capture(at.Add(10 * time.Minute))
	for range 3 {
		for _, p := range pages {
			admin.get(p)
		}
	}
	_, _, _, app, took, err := web.CaptureQueryStats(e.App, ctx, at.Add(15*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	perDay := 24 * 60 / 5
	t.Logf("hris's own pages: %d statements in the interval, snapshot took %s", app, took.Round(time.Microsecond))
	rels := e.count("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind IN ('r', 'i', 'm', 'p')")
	t.Logf("rows per day at the defaults (5 min snapshots, 1 min history): query_snapshots %d, query_stats %d (hris's workload) to %d (%d statements kept of %d changed, the most a snapshot stores is 600), pool_history 1440 per instance, server_history 1440, relation_sizes %d",
		perDay, perDay*app, perDay*full, full, ran, rels)
	var avg float64
	if err := e.DB.Pool.QueryRow(ctx, "SELECT avg(capture_ms) FROM query_snapshots WHERE since IS NOT NULL").Scan(&avg); err != nil {
		t.Fatal(err)
	}
	t.Logf("capture_ms stored with the snapshots: average %.1f ms", avg)
}
