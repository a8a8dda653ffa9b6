package db_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"hris/db"
	"hris/db/dbtest"
	"hris/db/pglocal"
)

// TestLeaseBehindPgBouncer takes, renews, releases and takes over a lease
// through a PgBouncer in transaction mode whose single server connection
// every contender shares: a session advisory lock could not work there
// (the session is nobody's), a lease row does.
func TestLeaseBehindPgBouncer(t *testing.T) {
	srv, _ := dbtest.NewServer(t, pglocal.Options{})
	pooled := dbtest.PgBouncer(t, srv, "hris", 1)
	open := func() *db.DB {
		cfg := db.DefaultConfig()
		cfg.URL, cfg.ExecMode, cfg.MaxConns, cfg.MinIdleConns = pooled, "cache_describe", 2, 0
		return dbtest.OpenConfig(t, cfg)
	}
	ctx := context.Background()
	a, b := open(), open()
	const ttl = 2 * time.Second
	la, lb := db.NewLease(a, "job", "A", ttl), db.NewLease(b, "job", "B", ttl)
	acquire := func(l *db.Lease, want bool, when string) {
		t.Helper()
		got, err := l.Acquire(ctx)
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		if got != want {
			t.Fatalf("%s: held %v, want %v", when, got, want)
		}
	}
	holder := func() (name string, acquired time.Time) {
		t.Helper()
		if err := a.Read(ctx, func(ctx context.Context, q *db.Queries) error {
			h, err := q.LeaseHolder(ctx, "job")
			name, acquired = h.Holder, h.AcquiredAt
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return name, acquired
	}

	acquire(la, true, "A first")
	acquire(lb, false, "B while A holds")
	_, first := holder()
	time.Sleep(100 * time.Millisecond)
	acquire(la, true, "A renews")
	if name, at := holder(); name != "A" || !at.Equal(first) {
		t.Errorf("after a renewal: holder %s since %s, want A since %s", name, at, first)
	}
	acquire(lb, false, "B after A renewed")

	// A gives it up: B takes it at once.
	if err := la.Release(ctx); err != nil {
		t.Fatal(err)
	}
	acquire(lb, true, "B after A released")
	acquire(la, false, "A while B holds")

	// B stops renewing (crashed, frozen): A takes over once it expires.
	start := time.Now()
	for {
		got, err := la.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got {
			break
		}
		if time.Since(start) > ttl+3*time.Second {
			t.Fatalf("A did not take over %s after B stopped renewing a %s lease", time.Since(start), ttl)
		}
		time.Sleep(100 * time.Millisecond)
	}
	took := time.Since(start)
	if took < ttl-500*time.Millisecond {
		t.Errorf("A took the lease over after %s, before B's %s expired", took, ttl)
	}
	t.Logf("takeover %s after the holder stopped (TTL %s)", took.Round(time.Millisecond), ttl)

	// Many contenders at once: exactly one gets it.
	if err := la.Release(ctx); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	winners := 0
	for i := range 8 {
		l := db.NewLease([]*db.DB{a, b}[i%2], "race", fmt.Sprint("C", i), time.Minute)
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := l.Acquire(ctx)
			if err != nil {
				t.Error(err)
				return
			}
			if got {
				mu.Lock()
				winners++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if winners != 1 {
		t.Errorf("%d of 8 concurrent contenders hold the lease, want 1", winners)
	}
}

// TestReadLimitedGivesUpOnLocks: a read that meets a table locked ACCESS
// EXCLUSIVE fails with 55P03 after the lock timeout instead of waiting,
// and the limits end with the transaction.
func TestReadLimitedGivesUpOnLocks(t *testing.T) {
	// One connection, so the check afterwards sees the one that ran it.
	cfg := dbtest.Config(t)
	cfg.MaxConns, cfg.MinIdleConns = 1, 0
	d := dbtest.OpenConfig(t, cfg)
	ctx := context.Background()
	holder, err := pgx.Connect(ctx, cfg.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close(ctx)
	tx, err := holder.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "LOCK TABLE employees IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	// Table sizes lock each table when they run (not when parsed).
	err = d.ReadLimited(ctx, db.Limits{Lock: 300 * time.Millisecond, Statement: 5 * time.Second}, func(ctx context.Context, q *db.Queries) error {
		_, err := q.OpsTableSizes(ctx, 50)
		return err
	})
	took := time.Since(start)
	if db.SQLState(err) != "55P03" {
		t.Fatalf("read of a locked table: %v, want SQLSTATE 55P03", err)
	}
	if took > 2*time.Second {
		t.Errorf("gave up after %s, want about the 300ms lock timeout", took)
	}
	t.Logf("gave up after %s", took.Round(time.Millisecond))
	// The setting was local to that statement's implicit transaction: the
	// pool's connection is back to the server's default.
	var lt string
	if err := d.Pool.QueryRow(ctx, "SHOW lock_timeout").Scan(&lt); err != nil {
		t.Fatal(err)
	}
	if lt != "0" {
		t.Errorf("lock_timeout %q after the limited read, want 0: it leaked onto the connection", lt)
	}
}
