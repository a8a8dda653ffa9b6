package main

import (
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

var (
	devURLRE   = regexp.MustCompile(`open\s+(http://\S+)`)
	devAdminRE = regexp.MustCompile(`admin login\s+(\S+)\s+/\s+(\S+)`)
)

// postmasterPID reads the private server's pid from its data directory.
func postmasterPID(t *testing.T, dataDir string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dataDir, "pg", "postmaster.pid"))
	if err != nil {
		t.Fatalf("no postmaster.pid: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

func waitGone(pid int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if !alive(pid) {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

func TestDevStartsServesAndLeavesNoPostgres(t *testing.T) {
	data := filepath.Join(t.TempDir(), ".data")
	env := map[string]string{"HRIS_ADDR": "127.0.0.1:0", "HRIS_POOL_LOG_INTERVAL": "0s"}

	// First run: initdb, migrate, seed, serve.
	start := time.Now()
	p := startProc(t, env, "dev", "--dir", data, "--employees", "50")
	base := p.waitFor(devURLRE, 90*time.Second)
	t.Logf("first run ready in %s", time.Since(start).Round(time.Millisecond))
	creds := devAdminRE.FindStringSubmatch(p.output())
	if creds == nil {
		t.Fatalf("no admin login printed:\n%s", p.output())
	}
	resp, err := http.Get(base + "/login")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /login: %v %v", err, resp)
	}
	resp.Body.Close()
	b := newBrowser(t, base)
	b.login(creds[1], creds[2])
	if code, _, _ := b.get("/users"); code != http.StatusOK {
		t.Fatalf("admin /users: %d", code)
	}
	// pg_stat_statements is loaded and created: /ops/queries lists statements.
	if code, page, _ := b.get("/ops/queries"); code != http.StatusOK || strings.Contains(page, "need pg_stat_statements") || !strings.Contains(page, "Top statements") {
		t.Errorf("/ops/queries under hris dev: %d\n%.600s", code, page)
	}
	pg := postmasterPID(t, data)
	_ = p.cmd.Process.Signal(syscall.SIGINT)
	if code := p.wait(60 * time.Second); code != 0 {
		t.Fatalf("dev exited %d after Ctrl-C", code)
	}
	if !waitGone(pg, 5*time.Second) {
		t.Fatalf("PostgreSQL (pid %d) still running after hris dev stopped", pg)
	}

	// Second run reuses the cluster and the logins.
	start = time.Now()
	p = startProc(t, env, "dev", "--dir", data)
	base = p.waitFor(devURLRE, 60*time.Second)
	t.Logf("second run ready in %s", time.Since(start).Round(time.Millisecond))
	b = newBrowser(t, base)
	b.login(creds[1], creds[2])

	// Even when hris dev is killed outright, its PostgreSQL goes with it.
	pg = postmasterPID(t, data)
	_ = p.cmd.Process.Kill()
	p.wait(10 * time.Second)
	if !waitGone(pg, 15*time.Second) {
		_ = syscall.Kill(pg, syscall.SIGQUIT)
		t.Fatalf("PostgreSQL (pid %d) orphaned after hris dev was killed", pg)
	}
}
