package db_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"hris/db"
	"hris/db/dbtest"
	"hris/db/pglocal"
)

// Failover at the pool level: several hosts in DATABASE_URL, real servers
// frozen (SIGSTOP), promoted, made read-only. The process-level tests in
// cmd/hris do the same through HTTP.

// createDept is one keyed create: a retry finds the first one's row.
func createDept(ctx context.Context, d *db.DB, name string) error {
	key := uuid.New()
	return d.InTxIdempotent(ctx, func(ctx context.Context, q *db.Queries) error {
		_, err := q.CreateDepartment(ctx, db.CreateDepartmentParams{Name: name, CreateKey: &key})
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // created by an earlier try
		}
		return err
	})
}

func hostOf(s *pglocal.Server) string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port()))
}

// freeze stops every process of s until the test ends (then kills them:
// a thawed old primary would take writes the new one never sees).
func freeze(t *testing.T, s *pglocal.Server) {
	t.Helper()
	if err := s.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Kill() })
}

func openLogged(t *testing.T, cfg db.Config) *db.DB {
	t.Helper()
	d, err := db.Open(context.Background(), cfg, slog.New(slog.NewTextHandler(testWriter{t}, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	return d
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p[:len(p)-1]))
	return len(p), nil
}

// A frozen first host costs one short attempt, not the connect timeout,
// and only once: the host that answered as primary is tried first after.
func TestFrozenFirstHostCostsOneShortAttempt(t *testing.T) {
	a, _ := dbtest.NewServer(t, pglocal.Options{})
	b, _ := dbtest.NewServer(t, pglocal.Options{})
	freeze(t, a)
	cfg := db.DefaultConfig()
	cfg.URL = dbtest.MultiHostURL("hris", a, b)
	cfg.MinIdleConns = 0
	d := openLogged(t, cfg)
	ctx := context.Background()

	start := time.Now()
	if err := createDept(ctx, d, "first"); err != nil {
		t.Fatal(err)
	}
	first := time.Since(start)
	if first > 3500*time.Millisecond {
		t.Errorf("first write took %s with a frozen first host, want about the 2 s per-host budget", first)
	}
	if p := d.Hosts().Primary(); p.Host != hostOf(b) {
		t.Errorf("primary %q, want %q", p.Host, hostOf(b))
	}

	// New connections, in this pool and in a second one: the frozen host is
	// not asked first again.
	d.Pool.Reset()
	start = time.Now()
	if err := createDept(ctx, d, "second"); err != nil {
		t.Fatal(err)
	}
	again := time.Since(start)
	d2 := openLogged(t, cfg)
	start = time.Now()
	if err := createDept(ctx, d2, "third"); err != nil {
		t.Fatal(err)
	}
	other := time.Since(start)
	if again > time.Second || other > time.Second {
		t.Errorf("after the first attempt: new connection %s, second pool %s; want the frozen host skipped (under 1s)", again, other)
	}
	st := d.Hosts().Status()
	if st[0].Host != hostOf(a) || st[0].State != db.HostDown || st[1].State != db.HostOK || !st[1].Primary {
		t.Errorf("host status %+v", st)
	}
	t.Logf("frozen first host: first write %s, new connection %s, second pool %s", first.Round(time.Millisecond), again.Round(time.Millisecond), other.Round(time.Millisecond))
}

// A synchronous standby is promoted while the primary is frozen: writes
// resume within 3 s of the promotion, the write that hung on the frozen
// primary is released, and the pool names the new primary.
func TestFrozenPrimaryPromotedStandbyTakesWrites(t *testing.T) {
	a, _ := dbtest.NewServer(t, pglocal.Options{Settings: map[string]string{"synchronous_commit": "on"}})
	b := dbtest.NewStandby(t, a, "standby1", true)
	cfg := db.DefaultConfig()
	cfg.URL = dbtest.MultiHostURL("hris", a, b)
	cfg.MaxConns = 4
	d := openLogged(t, cfg)
	ctx := context.Background()
	if err := createDept(ctx, d, "before"); err != nil {
		t.Fatal(err)
	}
	if p := d.Hosts().Primary(); p.Host != hostOf(a) {
		t.Fatalf("primary %q before, want %q", p.Host, hostOf(a))
	}

	freeze(t, a)
	frozen := time.Now()
	hung := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		hung <- createDept(ctx, d, "in flight")
	}()
	time.Sleep(time.Second) // a failover manager's detection time, shortened
	if err := b.Promote(ctx); err != nil {
		t.Fatal(err)
	}
	promoted := time.Now()
	n := 0
	for {
		n++
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := createDept(wctx, d, fmt.Sprintf("after %d", n))
		cancel()
		if err == nil {
			break
		}
		if time.Since(promoted) > 20*time.Second {
			t.Fatalf("no write within 20s of the promotion: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	firstWrite := time.Since(promoted)
	if firstWrite > 3*time.Second {
		t.Errorf("first write %s after the promotion, want within 3s", firstWrite)
	}
	select {
	case err := <-hung:
		t.Logf("the write in flight at the freeze ended after %s: %v", time.Since(frozen).Round(time.Millisecond), err)
	case <-time.After(10 * time.Second):
		t.Error("the write in flight on the frozen primary still hangs")
	}
	p := d.Hosts().Primary()
	if p.Host != hostOf(b) || p.Previous != hostOf(a) || p.ChangedAt.IsZero() {
		t.Errorf("primary after failover: %+v", p)
	}
	if n := d.Hosts().OpenSockets(hostOf(a)); n != 0 {
		t.Errorf("%d sockets still open to the frozen old primary", n)
	}
	t.Logf("frozen primary: first write %s after promotion (%d tries)", firstWrite.Round(time.Millisecond), n)
}

// A primary that turns read-only under open connections (a demoted
// primary; here default_transaction_read_only) answers writes with 25006:
// that connection is closed, the write is retried and lands on the other
// host, and no connection to the read-only one is handed out again.
func TestReadOnlyServerConnectionClosedAndRetried(t *testing.T) {
	a, _ := dbtest.NewServer(t, pglocal.Options{})
	b, _ := dbtest.NewServer(t, pglocal.Options{})
	cfg := db.DefaultConfig()
	cfg.URL = dbtest.MultiHostURL("hris", a, b)
	cfg.MaxConns, cfg.MinIdleConns = 4, 4
	d := openLogged(t, cfg)
	ctx := context.Background()
	if err := createDept(ctx, d, "on a"); err != nil {
		t.Fatal(err)
	}
	adminA, err := pgx.Connect(ctx, a.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer adminA.Close(ctx)
	for _, sql := range []string{"ALTER SYSTEM SET default_transaction_read_only = on", "SELECT pg_reload_conf()"} {
		if _, err := adminA.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	// pg_reload_conf only signals the postmaster, which reloads and then
	// signals every backend; a backend applies the setting before its
	// next command once signalled. A new connection (forked from the
	// reloaded postmaster) showing the setting means that has happened.
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := pgx.Connect(ctx, a.URL("hris"))
		if err != nil {
			t.Fatal(err)
		}
		var ro string
		err = c.QueryRow(ctx, "SHOW default_transaction_read_only").Scan(&ro)
		c.Close(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if ro == "on" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("default_transaction_read_only still off on a 10s after the reload")
		}
		time.Sleep(20 * time.Millisecond)
	}

	for i := range 5 {
		if err := createDept(ctx, d, fmt.Sprintf("retried %d", i)); err != nil {
			t.Fatalf("write %d after a turned read-only: %v", i, err)
		}
	}
	// Reads go on too, on b.
	var n int
	if err := d.Read(ctx, func(ctx context.Context, q *db.Queries) (err error) {
		rows, err := q.ListDepartments(ctx)
		n = len(rows)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	countOn := func(s *pglocal.Server) int {
		c, err := pgx.Connect(ctx, s.URL("hris"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(ctx)
		var n int
		if err := c.QueryRow(ctx, "SELECT count(*) FROM departments WHERE name LIKE 'retried %'").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if onA, onB := countOn(a), countOn(b); onA != 0 || onB != 5 {
		t.Errorf("retried writes: %d on the read-only host, %d on the other; want 0 and 5", onA, onB)
	}
	if p := d.Hosts().Primary(); p.Host != hostOf(b) {
		t.Errorf("primary %q, want %q", p.Host, hostOf(b))
	}
	var retries int64
	d.Retries.Each(func(op, reason string, c int64) {
		if reason == "read_only" {
			retries += c
		}
	})
	if retries == 0 {
		t.Error("no retry counted with reason read_only")
	}
	t.Logf("read-only primary: 5 writes moved to the other host after %d read_only retries; %d departments listed there", retries, n)
}

// A ping that times out on a frozen server must not leave its connection
// holding a pool slot while pgconn waits for the cancel and goodbye to be
// acknowledged: with two slots (the ops pool), the pool would be stuck.
func TestTimedOutPingsDoNotHoldThePool(t *testing.T) {
	s, u := dbtest.NewServer(t, pglocal.Options{})
	cfg := db.DefaultConfig()
	cfg.URL = u
	cfg.MaxConns, cfg.MinIdleConns = 2, 2
	d := openLogged(t, cfg)
	ctx := context.Background()
	// Both connections open and idle.
	if _, err := d.Ping(ctx, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for d.Pool.Stat().IdleConns() < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if err := s.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	thawed := false
	defer func() {
		if !thawed {
			_ = s.Signal(syscall.SIGCONT)
		}
	}()
	time.Sleep(1100 * time.Millisecond) // idle long enough to be pinged on acquire
	for i := range 2 {
		if _, err := d.Ping(ctx, time.Second); err == nil {
			t.Fatalf("ping %d answered by a frozen server", i)
		}
	}
	_ = s.Signal(syscall.SIGCONT)
	thawed = true
	back := time.Now()
	var err error
	for time.Since(back) < 3*time.Second {
		if _, err = d.Ping(ctx, time.Second); err == nil {
			break
		}
	}
	took := time.Since(back)
	if err != nil || took > 1500*time.Millisecond {
		t.Errorf("first ping after the thaw: %v after %s; want an answer within 1.5s", err, took)
	}
	t.Logf("after two timed-out pings on a pool of 2: answered %s after the thaw", took.Round(time.Millisecond))
}
