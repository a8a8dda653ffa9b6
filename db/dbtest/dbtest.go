// Package dbtest gives tests real PostgreSQL databases: one private server
// per test binary (or the server of TEST_DATABASE_URL), one migrated
// template database, and a fresh copy of it for each test.
package dbtest

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"hris/db"
	"hris/db/pglocal"
)

var (
	mu       sync.Mutex
	server   *pglocal.Server
	adminURL string // a database on the server we may connect to for CREATE DATABASE
	template string
	tmpDir   string
	counter  atomic.Int64
)

// Main runs the tests, stops the shared server (started on first use) and
// exits. Use it as TestMain: func TestMain(m *testing.M) { dbtest.Main(m) }.
func Main(m *testing.M) { os.Exit(Run(m)) }

// Run is Main for a TestMain with cleanup of its own: it returns the exit
// code instead of exiting.
func Run(m *testing.M) int {
	code := m.Run()
	stop()
	return code
}

func stop() {
	mu.Lock()
	defer mu.Unlock()
	if server != nil {
		_ = server.Stop(10 * time.Second)
		server = nil
	}
	if tmpDir != "" {
		os.RemoveAll(tmpDir)
		tmpDir = ""
	}
}

// setup starts the server and template on first use, so test binaries that
// never touch the database pay nothing.
func setup(t testing.TB) {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	if template != "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		adminURL = u
	} else {
		dir, err := os.MkdirTemp("", "hris-test-pg-")
		if err != nil {
			t.Fatal(err)
		}
		tmpDir = dir
		server, err = pglocal.Start(ctx, pglocal.Options{
			Dir:       filepath.Join(dir, "data"),
			Throwaway: true,
			Settings:  withStatStatements(map[string]string{"max_connections": "300"}),
		})
		if err != nil {
			t.Fatalf("dbtest: start private PostgreSQL: %v", err)
		}
		adminURL = server.URL("postgres")
	}
	name := fmt.Sprintf("hris_tpl_%d_%d", os.Getpid(), time.Now().UnixNano()%1e6)
	if err := createDatabase(ctx, adminURL, name, ""); err != nil {
		t.Fatalf("dbtest: create template: %v", err)
	}
	if err := createStatStatements(ctx, WithDatabase(adminURL, name)); err != nil {
		// Only a server of TEST_DATABASE_URL can lack it; the query
		// insights tests then say what is missing.
		t.Logf("dbtest: %v", err)
	}
	if err := Migrate(ctx, WithDatabase(adminURL, name)); err != nil {
		t.Fatalf("dbtest: migrate template: %v", err)
	}
	template = name
}

// Migrate applies every migration to the database at url.
func Migrate(ctx context.Context, url string) error {
	cfg := db.DefaultConfig()
	cfg.URL = url
	m, err := db.NewMigrator(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	defer m.Close()
	_, err = m.Up(ctx)
	return err
}

// URL returns the URL of a fresh, migrated database that is dropped when
// the test ends.
func URL(t testing.TB) string {
	t.Helper()
	setup(t)
	name := fmt.Sprintf("t_%d_%d", os.Getpid(), counter.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := createDatabase(ctx, adminURL, name, template); err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, adminURL)
		if err != nil {
			return
		}
		defer conn.Close(ctx)
		_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	})
	return WithDatabase(adminURL, name)
}

// EmptyURL returns a fresh database without any migration applied.
func EmptyURL(t testing.TB) string {
	t.Helper()
	setup(t)
	name := fmt.Sprintf("e_%d_%d", os.Getpid(), counter.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := createDatabase(ctx, adminURL, name, ""); err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	return WithDatabase(adminURL, name)
}

// Config returns the app's default database settings pointed at a fresh
// database.
func Config(t testing.TB) db.Config {
	cfg := db.DefaultConfig()
	cfg.URL = URL(t)
	return cfg
}

// Open returns a DB on a fresh database, closed when the test ends.
func Open(t testing.TB) *db.DB {
	t.Helper()
	return OpenConfig(t, Config(t))
}

// OpenConfig returns a DB built from cfg, closed when the test ends.
func OpenConfig(t testing.TB, cfg db.Config) *db.DB {
	t.Helper()
	d, err := db.Open(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	return d
}

// Server returns the shared private server, or nil under TEST_DATABASE_URL.
func Server(t testing.TB) *pglocal.Server {
	setup(t)
	return server
}

// NewServer starts a private server for one test (fault tests stop, freeze
// and restart it); it is stopped when the test ends. Its "hris" database is
// migrated. opts.Dir and opts.Throwaway are set here.
func NewServer(t testing.TB, opts pglocal.Options) (*pglocal.Server, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	opts.Dir = filepath.Join(t.TempDir(), "data")
	opts.Throwaway = true
	opts.Settings = withStatStatements(opts.Settings)
	s, err := pglocal.Start(ctx, opts)
	if err != nil {
		t.Fatalf("dbtest: start PostgreSQL: %v", err)
	}
	t.Cleanup(func() { _ = s.Stop(10 * time.Second) })
	if err := createDatabase(ctx, s.URL("postgres"), "hris", ""); err != nil {
		t.Fatal(err)
	}
	u := s.URL("hris")
	if err := createStatStatements(ctx, u); err != nil {
		t.Fatal(err)
	}
	if err := Migrate(ctx, u); err != nil {
		t.Fatal(err)
	}
	return s, u
}

// withStatStatements adds pg_stat_statements to the server's preloaded
// libraries, as hris dev does, unless settings name their own
// shared_preload_libraries (an empty one: a server without it).
func withStatStatements(settings map[string]string) map[string]string {
	out := map[string]string{"shared_preload_libraries": "pg_stat_statements"}
	for k, v := range settings {
		out[k] = v
	}
	return out
}

// createStatStatements creates the pg_stat_statements extension in the
// database at u (a superuser's URL); every copy of the template has it.
func createStatStatements(ctx context.Context, u string) error {
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"); err != nil {
		return fmt.Errorf("create extension pg_stat_statements: %w", err)
	}
	return nil
}

// WithDatabase returns u with its database name replaced.
func WithDatabase(u, name string) string {
	p, err := url.Parse(u)
	if err != nil {
		panic(err)
	}
	p.Path = "/" + name
	return p.String()
}

func createDatabase(ctx context.Context, admin, name, tpl string) error {
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return fmt.Errorf("connect %s: %w", redact(admin), err)
	}
	defer conn.Close(ctx)
	sql := "CREATE DATABASE " + pgx.Identifier{name}.Sanitize()
	if tpl != "" {
		sql += " TEMPLATE " + pgx.Identifier{tpl}.Sanitize()
	}
	// Copies of one template may collide with another copy starting at the
	// same moment ("source database is being accessed"); try again briefly.
	for attempt := 0; ; attempt++ {
		_, err = conn.Exec(ctx, sql)
		if err == nil || attempt > 50 || !strings.Contains(err.Error(), "being accessed") {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func redact(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(bad url)"
	}
	return p.Redacted()
}

// NewStandby starts a streaming standby of primary (pg_basebackup) for one
// test, named name in pg_stat_replication, and waits until it streams.
// With sync, the primary then makes every standby synchronous
// (synchronous_standby_names = '*'): a commit is acknowledged only once
// the standby has it. Start the primary with synchronous_commit=on in
// Settings for that (throwaway servers turn it off). The standby is
// stopped when the test ends.
func NewStandby(t testing.TB, primary *pglocal.Server, name string, sync bool) *pglocal.Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := primary.StartStandby(ctx, name, pglocal.Options{Dir: filepath.Join(t.TempDir(), "standby"), Throwaway: true})
	if err != nil {
		t.Fatalf("dbtest: start standby: %v", err)
	}
	t.Cleanup(func() { _ = s.Stop(10 * time.Second) })
	if _, err := primary.WaitStandby(ctx, name); err != nil {
		t.Fatal(err)
	}
	if !sync {
		return s
	}
	conn, err := pgx.Connect(ctx, primary.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, sql := range []string{"ALTER SYSTEM SET synchronous_standby_names = '*'", "SELECT pg_reload_conf()"} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	for {
		state, err := primary.WaitStandby(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if state == "sync" {
			return s
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// MultiHostURL is a DATABASE_URL naming every server in turn, with
// target_session_attrs=read-write, for database name.
func MultiHostURL(name string, servers ...*pglocal.Server) string {
	hosts := make([]string, len(servers))
	for i, s := range servers {
		u, _ := url.Parse(s.URL(name))
		hosts[i] = u.Host
	}
	u, _ := url.Parse(servers[0].URL(name))
	u.Host = strings.Join(hosts, ",")
	q := u.Query()
	q.Set("target_session_attrs", "read-write")
	u.RawQuery = q.Encode()
	return u.String()
}
