package main

// Scale-out: two hris processes behind a real PgBouncer in transaction
// pooling mode, sharing one PostgreSQL. Sessions, throttling, deactivation
// and the fleet view must hold across them.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"hris/db/dbtest"
	"hris/db/pglocal"
)

// startPgBouncer runs a PgBouncer in transaction mode in front of srv's
// "hris" database and returns its port and a function that stops it.
func startPgBouncer(t *testing.T, srv *pglocal.Server, poolSize int) (int, func()) {
	t.Helper()
	bin, err := exec.LookPath("pgbouncer")
	if err != nil {
		t.Fatal("the scale-out test needs PgBouncer (Debian: apt-get install pgbouncer; make test installs it)")
	}
	dir := t.TempDir()
	_ = os.Chmod(dir, 0o755)
	port := freeTCPPort(t)
	userlist := filepath.Join(dir, "userlist.txt")
	ini := filepath.Join(dir, "pgbouncer.ini")
	if err := os.WriteFile(userlist, []byte(`"postgres" ""`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`[databases]
hris = host=127.0.0.1 port=%d dbname=hris

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
auth_type = trust
auth_file = %s
pool_mode = transaction
default_pool_size = %d
max_client_conn = 500
ignore_startup_parameters = extra_float_digits,jit,statement_timeout,idle_in_transaction_session_timeout,plan_cache_mode
admin_users = postgres
`, srv.Port(), port, userlist, poolSize)
	if err := os.WriteFile(ini, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, ini)
	// Pdeathsig stops PgBouncer if the test binary dies; as root it runs as
	// the postgres user, because PgBouncer refuses to run as root (set here
	// rather than with its -u flag, which would clear Pdeathsig).
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatal("running as root, PgBouncer needs a postgres user to run as")
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	out := &strings.Builder{}
	var mu sync.Mutex
	cmd.Stdout = writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return out.Write(p) })
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			_ = cmd.Process.Signal(syscall.SIGINT)
			_ = cmd.Wait()
		})
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			mu.Lock()
			t.Logf("pgbouncer output:\n%s", out.String())
			mu.Unlock()
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			c.Close()
			return port, stop
		}
		if time.Now().After(deadline) {
			mu.Lock()
			defer mu.Unlock()
			t.Fatalf("pgbouncer did not listen on %d: %v\n%s", port, err, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func freeTCPPort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func TestScaleOutBehindPgBouncer(t *testing.T) {
	srv, direct := dbtest.NewServer(t, pglocal.Options{})
	bouncerPort, stopBouncer := startPgBouncer(t, srv, 10)
	pooled := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/hris?sslmode=disable", bouncerPort)
	const execMode = "cache_describe"
	env := func(id string) map[string]string {
		return serveEnv(pooled,
			"HRIS_DB_DIRECT_URL", direct,
			"HRIS_DB_EXEC_MODE", execMode,
			"HRIS_DB_MAX_CONNS", "8",
			"HRIS_PGBOUNCER_POOL_SIZE", "10",
			"HRIS_INSTANCE_ID", id)
	}
	cli := func(stdin string, args ...string) string {
		p := start(t, env("cli"), stdin, args...)
		if code := p.wait(30 * time.Second); code != 0 {
			t.Fatalf("hris %s: exit %d\n%s", strings.Join(args, " "), code, p.output())
		}
		return p.output()
	}
	pw := "a long test password"
	cli(pw+"\n", "user", "create", "--email", "admin@example.com", "--name", "Admin", "--role", "admin")
	cli(pw+"\n", "user", "create", "--email", "hr@example.com", "--name", "Hanna HR", "--role", "hr")
	cli("", "seed", "--employees", "300")

	procA, baseA := serveApp(t, env("A"))
	procB, baseB := serveApp(t, env("B"))
	_ = procA

	// Log in through A, browse through B with the same session.
	admin := newBrowser(t, baseA)
	admin.login("admin@example.com", pw)
	cookie := sessionCookieOf(t, admin, baseA)
	adminOnB := newBrowser(t, baseB)
	setCookie(adminOnB, baseB, cookie)
	if code, _, _ := adminOnB.get("/users"); code != http.StatusOK {
		t.Fatalf("session from A on B: %d", code)
	}

	// Create on A, read on B.
	resp, body, err := admin.post("/employees", url.Values{
		"first_name": {"Grace"}, "last_name": {"Hopper"}, "email": {"grace@example.com"},
		"hire_date": {"2021-03-01"}, "idempotency_key": {uuid.NewString()},
	})
	if err != nil || resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("create on A: %v %v\n%s", err, resp, body)
	}
	loc := resp.Header.Get("Location")
	if code, page, _ := adminOnB.get(loc); code != http.StatusOK || !strings.Contains(page, "Grace") {
		t.Fatalf("read %s on B: %d", loc, code)
	}

	// Every page works through PgBouncer in transaction mode, on both.
	id := strings.TrimPrefix(loc, "/employees/")
	pages := []string{"/employees", "/employees?q=smith", "/employees?sort=hire_date", loc, loc + "/edit",
		"/employees/new", "/employees.csv", "/departments", "/departments/new", "/users", "/users/new", "/audit",
		"/ops", "/ops/pool", "/ops/activity", "/ops/locks", "/ops/database", "/ops/fleet", "/ops?period=24h",
		"/ops/queries", "/ops/queries?period=1h", "/ops/tables", "/health/detailed", "/metrics"}
	for _, b := range []*browser{admin, adminOnB} {
		for _, p := range pages {
			if code, page, err := b.get(p); code != http.StatusOK {
				t.Errorf("%s%s through PgBouncer: %d %v\n%.500s", b.base, p, code, err, page)
			}
		}
	}
	// An edit through B of the record made on A.
	resp, body, err = adminOnB.post(loc, url.Values{
		"first_name": {"Grace"}, "last_name": {"Hopper"}, "email": {"grace@example.com"},
		"hire_date": {"2021-03-01"}, "job_title": {"Rear Admiral"}, "status": {"active"}, "version": {"1"},
	})
	if err != nil || resp.StatusCode != http.StatusSeeOther {
		t.Errorf("edit %s on B: %v %v\n%.800s", id, err, resp, body)
	}

	// Throttling counts failures from both instances together.
	for i := range 3 {
		newBrowser(t, baseA).post("/login", url.Values{"email": {"hr@example.com"}, "password": {fmt.Sprint("guess", i)}})
		newBrowser(t, baseB).post("/login", url.Values{"email": {"hr@example.com"}, "password": {fmt.Sprint("guess", i)}})
	}
	if resp, _, _ := newBrowser(t, baseA).post("/login", url.Values{"email": {"hr@example.com"}, "password": {pw}}); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("after 6 failures spread over A and B the right password got %d, want 429", resp.StatusCode)
	}
	cli(pw+"\n", "user", "password", "--email", "hr@example.com") // lifts the lock

	// Deactivate through B; the hr user's session on A ends on its next request.
	hr := newBrowser(t, baseA)
	hr.login("hr@example.com", pw)
	if code, _, _ := hr.get("/employees"); code != http.StatusOK {
		t.Fatalf("hr on A: %d", code)
	}
	var hrID int
	conn, err := pgx.Connect(context.Background(), direct)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	_ = conn.QueryRow(context.Background(), "SELECT id FROM users WHERE email = 'hr@example.com'").Scan(&hrID)
	if resp, _, err := adminOnB.post(fmt.Sprintf("/users/%d/deactivate", hrID), nil); err != nil || resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("deactivate through B: %v %v", err, resp)
	}
	if code, _, _ := hr.get("/employees"); code != http.StatusSeeOther {
		t.Errorf("deactivated hr user's next request on A: %d, want 303 to /login", code)
	}

	// The fleet view on A lists both instances and their pools.
	_, fleet, _ := admin.get("/ops/fleet")
	for _, want := range []string{">A<", ">B<", "2 live instances", "PgBouncer pool 10", execMode} {
		if !strings.Contains(fleet, want) {
			t.Errorf("fleet panel on A lacks %q", want)
		}
	}

	// The list page's rate through PgBouncer, and straight to PostgreSQL.
	procDirect, baseDirect := serveApp(t, serveEnv(direct, "HRIS_DB_MAX_CONNS", "8", "HRIS_INSTANCE_ID", "direct"))
	viaBouncer := listRate(t, baseA, cookie, 16, 3*time.Second)
	straight := listRate(t, baseDirect, cookie, 16, 3*time.Second)
	t.Logf("GET /employees, 16 clients, 3 s: %.0f req/s through PgBouncer (transaction mode, %s), %.0f req/s direct (cache_statement): %.2f×",
		viaBouncer, execMode, straight, viaBouncer/straight)
	_ = procDirect.cmd.Process.Signal(syscall.SIGTERM)
	procDirect.wait(30 * time.Second)

	// B dies without a word: A's fleet view marks it stale.
	_ = procB.cmd.Process.Kill()
	procB.wait(10 * time.Second)
	staleRE := regexp.MustCompile(`(?s)>B<.*?badge warn"[^>]*>stale`)
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, fleet, _ = admin.get("/ops/fleet")
		if staleRE.MatchString(fleet) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("B not marked stale on A's fleet view 30 s after it was killed:\n%s", fleet)
		}
		time.Sleep(time.Second)
	}

	// PgBouncer goes down: the pages fail, and /health/detailed says so
	// (its own ping goes straight to PostgreSQL, which is still fine).
	stopBouncer()
	deadline = time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(baseA + "/health/detailed")
		if err == nil {
			var h struct {
				Status string `json:"status"`
				Checks struct {
					Database struct{ Healthy bool } `json:"database"`
					Pooler   *struct {
						Healthy bool   `json:"healthy"`
						Error   string `json:"error"`
					} `json:"pooler"`
				} `json:"checks"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&h)
			resp.Body.Close()
			if resp.StatusCode == http.StatusServiceUnavailable {
				if h.Checks.Pooler == nil || h.Checks.Pooler.Healthy || !h.Checks.Database.Healthy {
					t.Errorf("health with PgBouncer down: %+v", h)
				}
				t.Logf("PgBouncer down: /health/detailed 503, pooler error %q", h.Checks.Pooler.Error)
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("/health/detailed did not turn 503 within 10 s of PgBouncer stopping")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// listRate drives GET /employees with n concurrent clients for d and
// returns successful requests per second (failures fail the test).
func listRate(t *testing.T, base, cookie string, n int, d time.Duration) float64 {
	t.Helper()
	var ok, bad atomic.Int64
	stop := time.Now().Add(d)
	var wg sync.WaitGroup
	tr := &http.Transport{MaxIdleConnsPerHost: n}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) {
				req, _ := http.NewRequest(http.MethodGet, base+"/employees", nil)
				req.Header.Set("Cookie", "hris_session="+cookie)
				resp, err := hc.Do(req)
				if err != nil || resp.StatusCode != http.StatusOK {
					bad.Add(1)
					if resp != nil {
						resp.Body.Close()
					}
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	if bad.Load() > 0 {
		t.Errorf("%s: %d failed requests under load", base, bad.Load())
	}
	return float64(ok.Load()) / d.Seconds()
}

func sessionCookieOf(t *testing.T, b *browser, base string) string {
	u, _ := url.Parse(base)
	for _, c := range b.hc.Jar.Cookies(u) {
		if c.Name == "hris_session" {
			return c.Value
		}
	}
	t.Fatal("no session cookie")
	return ""
}

func setCookie(b *browser, base, value string) {
	u, _ := url.Parse(base)
	b.hc.Jar.SetCookies(u, []*http.Cookie{{Name: "hris_session", Value: value, Path: "/"}})
}
