package main

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"hris/db/dbtest"
	"hris/db/pglocal"
)

// TestServeRefusesUnreachableDatabase is the startup half of the
// resilience issue: each failure class gives one clear line and a non-zero
// exit within the startup budget, never a stack trace.
func TestServeRefusesUnreachableDatabase(t *testing.T) {
	srv, _ := dbtest.NewServer(t, pglocal.Options{
		Password: "secret-pw",
		Settings: map[string]string{"max_connections": "6", "superuser_reserved_connections": "3"},
	})
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, srv.URL("hris"))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE ROLE app LOGIN PASSWORD 'app-pw'; GRANT ALL ON DATABASE hris TO app"); err != nil {
		t.Fatal(err)
	}
	hostPort := strings.Split(strings.Split(srv.URL("hris"), "@")[1], "/")[0]
	appURL := "postgres://app:app-pw@" + hostPort + "/hris?sslmode=disable"

	cases := []struct {
		name, url, want string
	}{
		{"refused", "postgres://app@127.0.0.1:1/hris?sslmode=disable", "refused"},
		{"wrong password", "postgres://app:nope@" + hostPort + "/hris?sslmode=disable", "28P01"},
		{"missing database", "postgres://app:app-pw@" + hostPort + "/nothere?sslmode=disable", "3D000"},
		{"too many connections", appURL, "53300"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.want == "53300" {
				// Fill every non-reserved slot (6 - 3 reserved, minus the
				// admin connection above) with app connections.
				for i := 0; i < 2; i++ {
					fc, err := pgx.Connect(ctx, appURL)
					if err != nil {
						t.Fatalf("filler %d: %v", i, err)
					}
					defer fc.Close(ctx)
				}
			}
			start := time.Now()
			p := startProc(t, serveEnv(c.url, "HRIS_DB_STARTUP_TIMEOUT", "3s"), "serve")
			code := p.wait(20 * time.Second)
			took := time.Since(start)
			out := strings.TrimSpace(p.output())
			lines := strings.Split(out, "\n")
			last := lines[len(lines)-1]
			if code == 0 {
				t.Fatalf("exit 0 against %s", c.name)
			}
			if !strings.HasPrefix(last, "hris: ") || !strings.Contains(last, c.want) {
				t.Errorf("last line %q; want one line starting hris: and naming %s", last, c.want)
			}
			if strings.Contains(out, "goroutine ") || strings.Contains(out, "panic") {
				t.Errorf("output has a stack trace:\n%s", out)
			}
			if took > 8*time.Second {
				t.Errorf("took %s, beyond the 3s startup budget", took)
			}
			t.Logf("%s: exit %d after %s: %s", c.name, code, took.Round(time.Millisecond), last)
		})
	}
}

func startProc(t *testing.T, env map[string]string, args ...string) *proc {
	return start(t, env, "", args...)
}

func TestServeRefusesSchemaBehindUnlessMigrate(t *testing.T) {
	u := dbtest.EmptyURL(t)
	p := startProc(t, serveEnv(u), "serve")
	if code := p.wait(20 * time.Second); code == 0 {
		t.Fatal("serve started on an unmigrated database")
	}
	if out := p.output(); !strings.Contains(out, "hris migrate") {
		t.Errorf("no advice to run hris migrate:\n%s", out)
	}
	p2, base := serveApp(t, serveEnv(u), "--migrate")
	resp, err := http.Get(base + "/health/detailed")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("after --migrate: %v %v", err, resp)
	}
	resp.Body.Close()
	_ = p2
}

func TestServeReadyFastAndStopsCleanlyOnSIGTERM(t *testing.T) {
	srv, u := dbtest.NewServer(t, pglocal.Options{})
	start := time.Now()
	p, base := serveApp(t, serveEnv(u))
	ms := p.waitFor(regexp.MustCompile(`startup_ms=(\d+)`), time.Second)
	ready := time.Since(start)
	resp, err := http.Get(base + "/health/detailed")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("health: %v %v", err, resp)
	}
	resp.Body.Close()
	if ready > 2*time.Second {
		t.Errorf("ready after %s (process start to listening), want under 2s", ready)
	}
	t.Logf("ready in %s from exec (startup_ms=%s inside the process)", ready.Round(time.Millisecond), ms)
	if n := appConnections(t, srv.URL("hris")); n == 0 {
		t.Error("no app connection seen while serving")
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(30 * time.Second); code != 0 {
		t.Fatalf("exit %d after SIGTERM, want 0", code)
	}
	if n := appConnectionsAfterExit(t, srv.URL("hris")); n != 0 {
		t.Errorf("%d app connections left 5s after exit", n)
	}
}
