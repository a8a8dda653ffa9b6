package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"syscall"
	"testing"
	"time"

	"hris/db"
	"hris/db/dbtest"
	"hris/db/pglocal"
	"hris/web"
)

// healthBody is /health/detailed decoded loosely, to check the contract's
// JSON shape (names and types) rather than a Go struct's.
type healthBody map[string]any

func (e *env) health(t *testing.T) (int, healthBody, time.Duration) {
	t.Helper()
	start := time.Now()
	r := e.client().get("/health/detailed")
	took := time.Since(start)
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("/health/detailed Content-Type %q", ct)
	}
	var b healthBody
	if err := json.Unmarshal([]byte(r.Body), &b); err != nil {
		t.Fatalf("/health/detailed (%d) is not JSON: %v\n%s", r.StatusCode, err, r.Body)
	}
	return r.StatusCode, b, took
}

// obj returns the object at path, failing the test when it is missing.
func (b healthBody) obj(t *testing.T, path ...string) map[string]any {
	t.Helper()
	m := map[string]any(b)
	for _, k := range path {
		next, ok := m[k].(map[string]any)
		if !ok {
			t.Fatalf("health JSON: %v is not an object: %v", path, b)
		}
		m = next
	}
	return m
}

// checkShape asserts the field names and types of DESIGN.md's contract.
func (b healthBody) checkShape(t *testing.T) {
	t.Helper()
	if _, ok := b["success"].(bool); !ok {
		t.Errorf("success is not a bool: %v", b["success"])
	}
	if s, _ := b["status"].(string); !slices.Contains([]string{"healthy", "degraded", "unhealthy"}, s) {
		t.Errorf("status %q is not healthy, degraded or unhealthy", b["status"])
	}
	d := b.obj(t, "checks", "database")
	if _, ok := d["healthy"].(bool); !ok {
		t.Errorf("checks.database.healthy is not a bool: %v", d["healthy"])
	}
	for _, k := range []string{"response_time_ms", "pool_size", "pool_checked_out", "pool_idle", "pool_total"} {
		if _, ok := d[k].(float64); !ok {
			t.Errorf("checks.database.%s is not a number: %v", k, d[k])
		}
	}
	tb := b.obj(t, "checks", "tables")
	if _, ok := tb["healthy"].(bool); !ok {
		t.Errorf("checks.tables.healthy is not a bool: %v", tb["healthy"])
	}
	if _, ok := tb["missing"].([]any); !ok {
		t.Errorf("checks.tables.missing is not a list: %v", tb["missing"])
	}
	b.obj(t, "checks", "migrations")
}

func TestHealthLiveness(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{"/health", "/livez"} {
		r := e.client().get(path).expect(t, http.StatusOK)
		var body map[string]string
		if err := json.Unmarshal([]byte(r.Body), &body); err != nil || len(body) != 1 || body["status"] != "ok" {
			t.Errorf(`%s = %q, want {"status":"ok"}`, path, r.Body)
		}
	}
}

func TestHealthDetailedHealthy(t *testing.T) {
	e := newEnv(t)
	code, b, took := e.health(t)
	if code != http.StatusOK || b["status"] != "healthy" || b["success"] != true {
		t.Fatalf("/health/detailed = %d %v, want 200 healthy", code, b)
	}
	b.checkShape(t)
	d := b.obj(t, "checks", "database")
	if d["healthy"] != true || d["pool_size"].(float64) != float64(e.DB.Config().MaxConns) {
		t.Errorf("database check: %v", d)
	}
	// The host that answered, and the primary hris writes to (one host).
	host := e.DB.Hosts().Hosts()[0]
	if p := b.obj(t, "checks", "database", "primary"); d["host"] != host || p["host"] != host || p["since"] == nil || p["changed_at"] != nil {
		t.Errorf("database host %v, primary %v; want both %s, never changed", d["host"], p, host)
	}
	if tb := b.obj(t, "checks", "tables"); tb["healthy"] != true || len(tb["missing"].([]any)) != 0 {
		t.Errorf("tables check: %v", tb)
	}
	if m := b.obj(t, "checks", "migrations"); m["healthy"] != true {
		t.Errorf("migrations check: %v", m)
	}
	t.Logf("healthy answer in %s", took)
}

func TestHealthDetailedMissingSchema(t *testing.T) {
	cfg := db.DefaultConfig()
	cfg.URL = dbtest.EmptyURL(t)
	e := newEnvConfig(t, cfg, web.Config{})
	code, b, _ := e.health(t)
	if code != http.StatusServiceUnavailable || b["status"] != "unhealthy" || b["success"] != false {
		t.Fatalf("empty database: %d %v, want 503 unhealthy", code, b)
	}
	b.checkShape(t)
	tb := b.obj(t, "checks", "tables")
	if missing, _ := tb["missing"].([]any); tb["healthy"] != false || !slices.Contains(missing, any("users")) {
		t.Errorf("tables check on an empty database: %v", tb)
	}
	if m := b.obj(t, "checks", "migrations"); m["healthy"] != false {
		t.Errorf("migrations check on an empty database: %v", m)
	}
}

func TestHealthReadinessDrains(t *testing.T) {
	e := newEnv(t)
	e.client().get("/readyz").expect(t, http.StatusOK)
	e.App.StartShutdown()
	e.client().get("/readyz").expect(t, http.StatusServiceUnavailable)
	// Liveness stays up while draining: the process is fine.
	e.client().get("/livez").expect(t, http.StatusOK)
	e.client().get("/health").expect(t, http.StatusOK)
	if _, b, _ := e.health(t); b["draining"] != true {
		t.Errorf("/health/detailed while draining: draining = %v", b["draining"])
	}
}

// TestHealthDatabaseOutage stops, restarts, freezes and thaws a private
// PostgreSQL under a running app: /health/detailed turns 503 within 5 s
// and back to 200, while liveness never touches the database.
func TestHealthDatabaseOutage(t *testing.T) {
	srv, dbURL := dbtest.NewServer(t, pglocal.Options{})
	ctx := context.Background()
	mainCfg := db.DefaultConfig()
	mainCfg.URL = dbURL
	mainCfg.ConnectTimeout = 2 * time.Second
	opsCfg := mainCfg
	opsCfg.MaxConns, opsCfg.MinIdleConns = 2, 1
	opsCfg.AcquireTimeout, opsCfg.StatementTimeout = 2*time.Second, 3*time.Second
	opsCfg.ApplicationName = "hris-ops"
	mainDB, err := db.Open(ctx, mainCfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(mainDB.Close)
	opsDB, err := db.Open(ctx, opsCfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(opsDB.Close)
	app := web.New(web.Config{InstanceID: "outage", SessionIdleTimeout: time.Hour, SessionLifetime: time.Hour}, mainDB, opsDB, nil)
	runCtx, stop := context.WithCancel(ctx)
	t.Cleanup(stop)
	go app.Run(runCtx)
	hs := httptest.NewServer(app.Handler())
	t.Cleanup(hs.Close)
	e := &env{t: t, DB: mainDB, App: app, Srv: hs}

	expectHealth := func(step string, want int) {
		t.Helper()
		time.Sleep(1100 * time.Millisecond) // past the 1 s answer cache
		code, b, took := e.health(t)
		b.checkShape(t)
		if code != want {
			t.Fatalf("%s: /health/detailed = %d (%v), want %d", step, code, b["status"], want)
		}
		if took > 5*time.Second {
			t.Fatalf("%s: /health/detailed took %s, want under 5 s", step, took)
		}
		if want == http.StatusServiceUnavailable {
			if b.obj(t, "checks", "database")["healthy"] != false || b["success"] != false {
				t.Errorf("%s: %v", step, b)
			}
		}
		t.Logf("%s: %d %v in %s", step, code, b["status"], took.Round(time.Millisecond))
		for _, p := range []string{"/health", "/livez", "/readyz"} {
			start := time.Now()
			e.client().get(p).expect(t, http.StatusOK)
			if d := time.Since(start); d > time.Second {
				t.Errorf("%s: %s took %s; it must not wait for the database", step, p, d)
			}
		}
	}

	expectHealth("running", http.StatusOK)

	if err := srv.Stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	expectHealth("stopped", http.StatusServiceUnavailable)

	if err := srv.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "/health/detailed to recover after the restart", 15*time.Second, func() bool {
		return e.client().get("/health/detailed").StatusCode == http.StatusOK
	})
	expectHealth("restarted", http.StatusOK)

	// A hung server (every process stopped) must not hang the probe.
	if err := srv.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	thawed := false
	thaw := func() {
		if !thawed {
			thawed = true
			_ = srv.Signal(syscall.SIGCONT)
		}
	}
	t.Cleanup(thaw)
	expectHealth("frozen", http.StatusServiceUnavailable)
	thaw()
	waitFor(t, "/health/detailed to recover after the thaw", 15*time.Second, func() bool {
		return e.client().get("/health/detailed").StatusCode == http.StatusOK
	})
}
