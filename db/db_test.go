package db_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"hris/db"
	"hris/db/dbtest"
	"hris/db/pglocal"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

func TestPoolConfigMapsEveryKnob(t *testing.T) {
	cfg := db.DefaultConfig()
	cfg.URL = "postgres://u:p@db.example:5433/hr?sslmode=disable"
	cfg.MaxConns, cfg.MinIdleConns = 7, 3
	cfg.StatementTimeout = 1500 * time.Millisecond
	cfg.ConnectTimeout = 4 * time.Second
	cfg.MaxConnLifetime = 50 * time.Minute
	cfg.MaxConnIdleTime = 5 * time.Minute
	cfg.HealthCheckPeriod = 20 * time.Second
	cfg.ExecMode = "exec"
	cfg.LockTimeout = time.Second
	pc, err := db.PoolConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"MaxConns", pc.MaxConns, int32(7)},
		{"MinIdleConns", pc.MinIdleConns, int32(3)},
		{"MaxConnLifetime", pc.MaxConnLifetime, 50 * time.Minute},
		{"MaxConnLifetimeJitter", pc.MaxConnLifetimeJitter, 10 * time.Minute},
		{"MaxConnIdleTime", pc.MaxConnIdleTime, 5 * time.Minute},
		{"HealthCheckPeriod", pc.HealthCheckPeriod, 20 * time.Second},
		{"PingTimeout", pc.PingTimeout, 2 * time.Second},
		{"ConnectTimeout", pc.ConnConfig.ConnectTimeout, 4 * time.Second},
		{"ExecMode", pc.ConnConfig.DefaultQueryExecMode, pgx.QueryExecModeExec},
		{"application_name", pc.ConnConfig.RuntimeParams["application_name"], "hris"},
		{"statement_timeout", pc.ConnConfig.RuntimeParams["statement_timeout"], "1500"},
		{"idle_in_transaction_session_timeout", pc.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"], "60000"},
		{"lock_timeout", pc.ConnConfig.RuntimeParams["lock_timeout"], "1000"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}

	cfg.URL += "&application_name=payroll"
	pc, _ = db.PoolConfig(cfg)
	if got := pc.ConnConfig.RuntimeParams["application_name"]; got != "payroll" {
		t.Errorf("application_name from the URL = %q, want it kept as payroll", got)
	}
	cfg.ExecMode = "bogus"
	if _, err := db.PoolConfig(cfg); err == nil || !strings.Contains(err.Error(), "HRIS_DB_EXEC_MODE") {
		t.Errorf("bad exec mode: err = %v, want one naming HRIS_DB_EXEC_MODE", err)
	}
}

func TestSessionSettingsReachTheServer(t *testing.T) {
	cfg := dbtest.Config(t)
	cfg.StatementTimeout = 1234 * time.Millisecond
	d := dbtest.OpenConfig(t, cfg)
	var app, st, idle, jit string
	err := d.Read(context.Background(), func(ctx context.Context, q *db.Queries) error {
		return d.Pool.QueryRow(ctx, "SELECT current_setting('application_name'), current_setting('statement_timeout'), current_setting('idle_in_transaction_session_timeout'), current_setting('jit')").Scan(&app, &st, &idle, &jit)
	})
	if err != nil {
		t.Fatal(err)
	}
	if app != "hris" || st != "1234ms" || idle != "1min" || jit != "off" {
		t.Errorf("server sees application_name=%q statement_timeout=%q idle_in_transaction_session_timeout=%q jit=%q", app, st, idle, jit)
	}
}

func countDepartments(t *testing.T, d *db.DB) int {
	t.Helper()
	var n int
	if err := d.Pool.QueryRow(context.Background(), "SELECT count(*) FROM departments").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func insertDepartment(ctx context.Context, q *db.Queries, name string) error {
	_, err := q.SeedDepartments(ctx, db.SeedDepartmentsParams{Names: []string{name}, Descriptions: []string{""}})
	return err
}

func TestInTxCommitsOnlyOnNil(t *testing.T) {
	d := dbtest.Open(t)
	ctx := context.Background()

	if err := d.InTx(ctx, func(ctx context.Context, q *db.Queries) error {
		return insertDepartment(ctx, q, "Kept")
	}); err != nil {
		t.Fatal(err)
	}
	if n := countDepartments(t, d); n != 1 {
		t.Fatalf("after a successful InTx: %d departments, want 1", n)
	}

	boom := errors.New("boom")
	err := d.InTx(ctx, func(ctx context.Context, q *db.Queries) error {
		if err := insertDepartment(ctx, q, "Rolled back"); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("InTx returned %v, want fn's error", err)
	}
	if n := countDepartments(t, d); n != 1 {
		t.Fatalf("after fn failed: %d departments, want 1 (rolled back)", n)
	}

	func() {
		defer func() {
			if p := recover(); p != "kaboom" {
				t.Fatalf("recovered %v, want the panic re-raised", p)
			}
		}()
		_ = d.InTx(ctx, func(ctx context.Context, q *db.Queries) error {
			if err := insertDepartment(ctx, q, "Panicked"); err != nil {
				return err
			}
			panic("kaboom")
		})
	}()
	if n := countDepartments(t, d); n != 1 {
		t.Fatalf("after fn panicked: %d departments, want 1 (rolled back)", n)
	}
	// The connection that panicked went back to the pool usable.
	if _, err := d.Ping(ctx, time.Second); err != nil {
		t.Fatalf("pool unusable after a panic: %v", err)
	}
}

func TestReadSurvivesTerminatedBackends(t *testing.T) {
	cfg := dbtest.Config(t)
	cfg.MaxConns, cfg.MinIdleConns = 4, 4
	d := dbtest.OpenConfig(t, cfg)
	ctx := context.Background()
	// Fill the pool, then kill every connection behind its back.
	for range 8 {
		if _, err := d.Ping(ctx, time.Second); err != nil {
			t.Fatal(err)
		}
	}
	admin, err := pgx.Connect(ctx, cfg.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	var killed int
	if err := admin.QueryRow(ctx, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'hris' AND pid <> pg_backend_pid()").Scan(&killed); err != nil {
		t.Fatal(err)
	}
	if killed == 0 {
		t.Fatal("no pooled connection found to terminate")
	}
	for i := range 20 {
		var one int
		err := d.Read(ctx, func(ctx context.Context, q *db.Queries) error {
			return d.Pool.QueryRow(ctx, "SELECT 1").Scan(&one)
		})
		if err != nil {
			t.Fatalf("read %d after terminating %d backends: %v", i, killed, err)
		}
	}
	if d.Retries.Total() == 0 {
		t.Log("no retry was needed: the pool's ping caught every dead connection")
	}
}

func TestVerifyExplainsEachFailure(t *testing.T) {
	ctx := context.Background()
	srv, _ := dbtest.NewServer(t, pglocal.Options{Password: "right-password"})

	closed := freeClosedPort(t)
	hung := hungListener(t)
	cases := []struct {
		name, url, class, mentions string
	}{
		{"refused", "postgres://postgres@127.0.0.1:" + closed + "/hris?sslmode=disable", "refused", "refused"},
		{"wrong password", strings.Replace(srv.URL("hris"), "right-password", "wrong", 1), "auth", "28P01"},
		{"missing database", srv.URL("nope"), "no_database", "3D000"},
		{"hung server", "postgres://postgres@" + hung + "/hris?sslmode=disable&connect_timeout=1", "timeout", "no answer"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := db.DefaultConfig()
			cfg.URL = c.url
			cfg.ConnectTimeout = time.Second
			start := time.Now()
			err := db.Verify(ctx, cfg, 3*time.Second, nil)
			took := time.Since(start)
			var se *db.StartupError
			if !errors.As(err, &se) {
				t.Fatalf("Verify = %v, want a *StartupError", err)
			}
			if se.Class != c.class || !strings.Contains(se.Msg, c.mentions) {
				t.Errorf("class %q msg %q; want class %q mentioning %q", se.Class, se.Msg, c.class, c.mentions)
			}
			if strings.Contains(se.Msg, "\n") {
				t.Errorf("message spans lines: %q", se.Msg)
			}
			if took > 5*time.Second {
				t.Errorf("took %s, beyond the 3s budget", took)
			}
			t.Logf("%s in %s: %s", se.Class, took.Round(time.Millisecond), se.Msg)
		})
	}
	cfg := db.DefaultConfig()
	cfg.URL = srv.URL("hris")
	if err := db.Verify(ctx, cfg, 3*time.Second, nil); err != nil {
		t.Errorf("Verify against a good server: %v", err)
	}
}

func TestMigrationsUpFromEmpty(t *testing.T) {
	ctx := context.Background()
	cfg := db.DefaultConfig()
	cfg.URL = dbtest.EmptyURL(t)
	m, err := db.NewMigrator(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	st, err := m.Status(ctx)
	if err == nil && !st.Pending() {
		t.Fatalf("an empty database reports no pending migrations: %+v", st)
	}
	n, err := m.Up(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("Up applied nothing to an empty database")
	}
	st, err = m.Status(ctx)
	if err != nil || st.Pending() || st.Current != db.LatestVersion() {
		t.Fatalf("after Up: %+v, %v; want current = %d", st, err, db.LatestVersion())
	}
	if n, err := m.Up(ctx); err != nil || n != 0 {
		t.Fatalf("second Up applied %d (%v), want 0", n, err)
	}
	d := dbtest.OpenConfig(t, cfg)
	var missing []string
	if err := d.Read(ctx, func(ctx context.Context, q *db.Queries) (err error) {
		missing, err = q.MissingTables(ctx, []string{"users", "sessions", "departments", "employees", "audit_log"})
		return err
	}); err != nil || len(missing) > 0 {
		t.Fatalf("missing tables %v (%v)", missing, err)
	}
}

func freeClosedPort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(l.Addr().String())
	l.Close()
	return port
}

// hungListener accepts connections and never answers, like a frozen server.
func hungListener(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		l.Close()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}

// TestAbandonedStatementKeepsItsConnection: a statement whose context ends
// (the client left) is cancelled on the server, and its connection goes
// back to the pool: replacing it would cost a cold backend.
func TestAbandonedStatementKeepsItsConnection(t *testing.T) {
	cfg := dbtest.Config(t)
	cfg.MaxConns, cfg.MinIdleConns = 1, 1
	d := dbtest.OpenConfig(t, cfg)
	pid := func() (p int32) {
		t.Helper()
		if err := d.Pool.QueryRow(context.Background(), "SELECT pg_backend_pid()").Scan(&p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	before := pid()
	for range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		start := time.Now()
		_, err := d.Pool.Exec(ctx, "SELECT pg_sleep(10)")
		cancel()
		if err == nil || time.Since(start) > 2*time.Second {
			t.Fatalf("abandoned statement: err %v after %s, want an error at once", err, time.Since(start))
		}
	}
	if after := pid(); after != before {
		t.Errorf("the pool's connection was replaced (backend %d, then %d)", before, after)
	}
	if n := d.Pool.Stat().NewConnsCount(); n != 1 {
		t.Errorf("%d connections made, want 1", n)
	}
}
