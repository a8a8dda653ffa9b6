package main

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"hris/db/dbtest"
)

func TestUserCommands(t *testing.T) {
	u := dbtest.URL(t)
	env := map[string]string{"DATABASE_URL": u}
	run := func(stdin string, args ...string) (int, string) {
		p := start(t, env, stdin, args...)
		code := p.wait(30 * time.Second)
		return code, p.output()
	}
	if code, out := run("a long enough password\n", "user", "create", "--email", "Ana@Example.com", "--name", "Ana", "--role", "admin"); code != 0 || !strings.Contains(out, "created admin user") {
		t.Fatalf("create: %d %s", code, out)
	}
	if code, out := run("a long enough password\n", "user", "create", "--email", "ana@example.com", "--name", "Ana 2", "--role", "hr"); code == 0 || !strings.Contains(out, "already exists") {
		t.Errorf("duplicate (other case): %d %s", code, out)
	}
	if code, out := run("short\n", "user", "create", "--email", "b@example.com", "--name", "B", "--role", "hr"); code == 0 || !strings.Contains(out, "at least 10") {
		t.Errorf("short password: %d %s", code, out)
	}
	if code, out := run("", "user", "create", "--email", "c@example.com", "--name", "C", "--role", "boss"); code != 2 || !strings.Contains(out, "--role") {
		t.Errorf("bad role: %d %s", code, out)
	}
	// Nobody could sign in to administer hris if the last admin went.
	if code, out := run("", "user", "deactivate", "--email", "ana@example.com"); code == 0 || !strings.Contains(out, "last active administrator") {
		t.Errorf("deactivate last admin: %d %s", code, out)
	}
	if code, out := run("another long password\n", "user", "create", "--email", "dee@example.com", "--name", "Dee", "--role", "admin"); code != 0 {
		t.Fatalf("create second admin: %d %s", code, out)
	}
	if code, out := run("", "user", "deactivate", "--email", "ana@example.com"); code != 0 {
		t.Fatalf("deactivate: %d %s", code, out)
	}
	if code, out := run("", "user", "deactivate", "--email", "ghost@example.com"); code == 0 || !strings.Contains(out, "no user") {
		t.Errorf("deactivate unknown: %d %s", code, out)
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var active bool
	_ = conn.QueryRow(ctx, "SELECT is_active FROM users WHERE email = 'Ana@Example.com'").Scan(&active)
	if active {
		t.Error("user still active after deactivate")
	}
	if code, out := run("", "user", "activate", "--email", "ana@example.com"); code != 0 {
		t.Fatalf("activate: %d %s", code, out)
	}
	var audits int
	_ = conn.QueryRow(ctx, "SELECT count(*) FROM audit_log WHERE actor_email LIKE 'cli%'").Scan(&audits)
	if audits != 4 {
		t.Errorf("%d cli audit rows, want 4 (two creates, deactivate, activate)", audits)
	}
}

func TestSeedIsFastAndIdempotent(t *testing.T) {
	u := dbtest.URL(t)
	env := map[string]string{"DATABASE_URL": u}
	start1 := time.Now()
	p := start(t, env, "", "seed", "--employees", "10000")
	if code := p.wait(60 * time.Second); code != 0 {
		t.Fatalf("seed: %s", p.output())
	}
	took := time.Since(start1)
	if took > 5*time.Second {
		t.Errorf("seeding 10,000 employees took %s, want under 5s", took)
	}
	t.Logf("seed --employees 10000: %s (%s)", took.Round(time.Millisecond), strings.TrimSpace(p.output()))
	p = start(t, env, "", "seed", "--employees", "10000")
	if code := p.wait(60 * time.Second); code != 0 {
		t.Fatal(p.output())
	}
	m := regexp.MustCompile(`(\d+) employees added`).FindStringSubmatch(p.output())
	if m == nil || m[1] != "0" {
		t.Errorf("second seed added rows: %s", p.output())
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n, depts int
	_ = conn.QueryRow(ctx, "SELECT count(*), count(DISTINCT department_id) FROM employees").Scan(&n, &depts)
	if n != 10000 || depts < 5 {
		t.Errorf("%d employees in %d departments, want 10000 in several", n, depts)
	}
}

func TestHealthcheckCommand(t *testing.T) {
	u := dbtest.URL(t)
	_, base := serveApp(t, serveEnv(u))
	p := start(t, nil, "", "healthcheck", "--url", base+"/health/detailed")
	if code := p.wait(10 * time.Second); code != 0 || !strings.Contains(p.output(), "200 healthy") {
		t.Errorf("healthcheck against a healthy app: %d %s", code, p.output())
	}
	port := base[strings.LastIndex(base, ":")+1:]
	p = start(t, map[string]string{"HRIS_ADDR": "127.0.0.1:" + port}, "", "healthcheck")
	if code := p.wait(10 * time.Second); code != 0 {
		t.Errorf("healthcheck via HRIS_ADDR: %d %s", code, p.output())
	}
	closed, _ := strconv.Atoi(port)
	p = start(t, nil, "", "healthcheck", "--url", "http://127.0.0.1:"+strconv.Itoa(closed+1)+"/health/detailed")
	if code := p.wait(10 * time.Second); code == 0 {
		t.Errorf("healthcheck against nothing exited 0")
	}
}
