package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"hris/db"
	"hris/db/pglocal"
	"hris/db/seed"
)

// The tests of this package run against one database of realistic size,
// built once per test run: 200,000 employees and 500,000 audit entries,
// analysed, so that the planner shows the choices it makes at scale (at a
// few hundred rows every plan is a sequential scan, and every plan is fast).
const (
	scaleEmployees = 200_000
	scaleAudit     = 500_000
	scaleAdmin     = "bench@example.com"
	scalePassword  = "bench password, long enough"
)

var scale struct {
	once  sync.Once
	err   error
	srv   *pglocal.Server
	url   string
	built time.Duration
}

func TestMain(m *testing.M) {
	code := m.Run()
	if scale.srv != nil {
		_ = scale.srv.Stop(10 * time.Second)
		os.RemoveAll(filepath.Dir(scale.srv.Dir()))
	}
	os.Exit(code)
}

// scaleDB returns the URL of the shared database, building it on first use.
func scaleDB(t *testing.T) string {
	t.Helper()
	scale.once.Do(func() {
		start := time.Now()
		scale.err = buildScaleDB()
		scale.built = time.Since(start)
	})
	if scale.err != nil {
		t.Fatalf("scale database: %v", scale.err)
	}
	return scale.url
}

func buildScaleDB() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "hris-bench-test-")
	if err != nil {
		return err
	}
	scale.srv, err = pglocal.Start(ctx, pglocal.Options{
		Dir:       filepath.Join(dir, "data"),
		Throwaway: true,
		Settings:  map[string]string{"shared_preload_libraries": "pg_stat_statements", "max_connections": "100"},
	})
	if err != nil {
		return err
	}
	admin, err := pgx.Connect(ctx, scale.srv.URL("postgres"))
	if err != nil {
		return err
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE DATABASE hris"); err != nil {
		return err
	}
	scale.url = scale.srv.URL("hris")
	cfg := db.DefaultConfig()
	cfg.URL = scale.url
	cfg.StatementTimeout = 0 // a bulk load
	m, err := db.NewMigrator(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	_, err = m.Up(ctx)
	m.Close()
	if err != nil {
		return err
	}
	d, err := db.Open(ctx, cfg, nil)
	if err != nil {
		return err
	}
	defer d.Close()
	if _, err := seed.Employees(ctx, d, scaleEmployees); err != nil {
		return err
	}
	if _, err := seed.Audit(ctx, d, scaleAudit, scaleEmployees); err != nil {
		return err
	}
	if err := createAdmin(ctx, d, scaleAdmin, scalePassword); err != nil {
		return err
	}
	_, err = d.Pool.Exec(ctx, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
	return err
}

// tracedScale is the app on the shared database, logged in as an admin.
func tracedScale(t *testing.T) (*tracedApp, sample) {
	t.Helper()
	u := scaleDB(t)
	ctx := context.Background()
	app, err := startTraced(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(app.Close)
	if err := app.login(scaleAdmin, scalePassword); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	s, err := findSample(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d employees and %d audit entries (built in %s)", scaleEmployees, scaleAudit, scale.built.Round(time.Second))
	return app, s
}

func Example_benchPages() {
	for _, p := range benchPages(sample{department: 3, employee: 7, deepCursor: "c", deepPage: 500})[:3] {
		fmt.Println(p.Key, p.Path)
	}
	// Output:
	// list /employees
	// hired /employees?sort=hire_date
	// deep /employees?after=c
}
