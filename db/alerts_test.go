package db_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"hris/db"
	"hris/db/dbtest"
	"hris/db/pglocal"
)

// TestLeaseFence: work fenced by a lease is stored only while its holder
// holds it — through PgBouncer in transaction mode. A holder whose lease
// expired and was taken over stores nothing, however sure it is; and a
// takeover waits for a fenced transaction in flight instead of slipping in
// under it.
func TestLeaseFence(t *testing.T) {
	srv, _ := dbtest.NewServer(t, pglocal.Options{})
	pooled := dbtest.PgBouncer(t, srv, "hris", 2)
	open := func() *db.DB {
		cfg := db.DefaultConfig()
		cfg.URL, cfg.ExecMode, cfg.MaxConns, cfg.MinIdleConns = pooled, "cache_describe", 2, 0
		return dbtest.OpenConfig(t, cfg)
	}
	ctx := context.Background()
	a, b := open(), open()
	const ttl = time.Second
	la, lb := db.NewLease(a, "fenced", "A", ttl), db.NewLease(b, "fenced", "B", ttl)
	if got, err := la.Acquire(ctx); err != nil || !got {
		t.Fatalf("A acquire: %v %v", got, err)
	}
	fenced := func(d *db.DB, l *db.Lease) error {
		return d.InTx(ctx, func(ctx context.Context, q *db.Queries) error { return l.Fence(ctx, q) })
	}
	if err := fenced(a, la); err != nil {
		t.Fatalf("A holds the lease but its fence failed: %v", err)
	}
	if err := fenced(b, lb); !errors.Is(err, db.ErrLeaseLost) {
		t.Fatalf("B's fence while A holds: %v, want ErrLeaseLost", err)
	}

	// A's fenced transaction is open when the lease expires: B's takeover
	// waits for it to end.
	took := make(chan time.Time, 1)
	release := make(chan struct{})
	fenceDone := make(chan error, 1)
	go func() {
		fenceDone <- a.InTx(ctx, func(ctx context.Context, q *db.Queries) error {
			if err := la.Fence(ctx, q); err != nil {
				return err
			}
			<-release
			return nil
		})
	}()
	time.Sleep(ttl + 200*time.Millisecond) // expired now, A's transaction still open
	go func() {
		for {
			got, err := lb.Acquire(ctx)
			if err != nil {
				t.Error(err)
				return
			}
			if got {
				took <- time.Now()
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	time.Sleep(300 * time.Millisecond)
	select {
	case <-took:
		t.Fatal("B took the lease over while A's fenced transaction was open")
	default:
	}
	released := time.Now()
	close(release)
	if err := <-fenceDone; err != nil {
		t.Fatal(err)
	}
	if at := <-took; at.Before(released) {
		t.Fatal("B took the lease before A's transaction ended")
	}
	if err := fenced(a, la); !errors.Is(err, db.ErrLeaseLost) {
		t.Fatalf("A's fence after B took over: %v, want ErrLeaseLost", err)
	}
	if err := fenced(b, lb); err != nil {
		t.Fatalf("B's fence: %v", err)
	}
}

// TestAlertTransitionsStoredOnce: however many evaluators open the same
// alert and store the same transitions at once, one episode and one row
// per transition are stored.
func TestAlertTransitionsStoredOnce(t *testing.T) {
	d := dbtest.Open(t)
	ctx := context.Background()
	now := time.Now()
	details := json.RawMessage(`{"pid":1}`)
	var wg sync.WaitGroup
	var mu sync.Mutex
	opened := 0
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := d.InTx(ctx, func(ctx context.Context, q *db.Queries) error {
				id, err := q.OpenAlert(ctx, db.OpenAlertParams{Rule: "long_query", Subject: "", Severity: "warning", Summary: "s",
					Details: details, Instance: "i", StartedAt: now, FiredAt: now})
				if err != nil {
					return err
				}
				mu.Lock()
				opened++
				mu.Unlock()
				_, err = q.InsertAlertTransition(ctx, db.InsertAlertTransitionParams{AlertID: id, Status: "firing", Severity: "warning", At: now, Body: details, Delivery: "pending"})
				return err
			})
			if err != nil && !errors.Is(err, pgx.ErrNoRows) {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	var episodes, transitions int
	if err := d.Pool.QueryRow(ctx, "SELECT (SELECT count(*) FROM alerts), (SELECT count(*) FROM alert_transitions)").Scan(&episodes, &transitions); err != nil {
		t.Fatal(err)
	}
	if opened != 1 || episodes != 1 || transitions != 1 {
		t.Fatalf("opened %d, %d episodes, %d transitions; want 1 each", opened, episodes, transitions)
	}
	var id int64
	if err := d.Pool.QueryRow(ctx, "SELECT id FROM alerts").Scan(&id); err != nil {
		t.Fatal(err)
	}
	// The same transitions again, and resolved twice: still once each.
	for range 2 {
		err := d.InTx(ctx, func(ctx context.Context, q *db.Queries) error {
			for _, st := range []string{"firing", "resolved"} {
				if _, err := q.InsertAlertTransition(ctx, db.InsertAlertTransitionParams{AlertID: id, Status: st, Severity: "warning", At: now, Body: details, Delivery: "pending"}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Pool.QueryRow(ctx, "SELECT count(*) FROM alert_transitions").Scan(&transitions); err != nil || transitions != 2 {
		t.Fatalf("%d transitions (%v), want firing and resolved once each", transitions, err)
	}
}
