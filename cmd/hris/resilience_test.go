package main

// Fault tests: each starts its own PostgreSQL, runs the real hris binary
// against it, and then breaks the database underneath — terminated
// backends, restarts, a frozen server, overload, shutdown under load —
// checking what users would see. Figures are logged for the closing notes.

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"sort"
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

// readPath is the HR staff's everyday page: each request reads the
// session, the user, and a page of employees with its count.
const readPath = "/employees"

// faultApp is hris serving a private PostgreSQL that the test may break.
type faultApp struct {
	t    *testing.T
	srv  *pglocal.Server
	url  string
	proc *proc
	base string
	b    *browser
}

func newFaultApp(t *testing.T, extraEnv ...string) *faultApp {
	t.Helper()
	srv, u := dbtest.NewServer(t, pglocal.Options{})
	pw := cliCreateUser(t, u, "admin@example.com", "admin")
	p, base := serveApp(t, serveEnv(u, extraEnv...))
	b := newBrowser(t, base)
	b.login("admin@example.com", pw)
	return &faultApp{t: t, srv: srv, url: u, proc: p, base: base, b: b}
}

// timedGet is one request with its outcome and duration.
type timedGet struct {
	code int
	err  error
	took time.Duration
}

func (f *faultApp) get(path string) timedGet {
	start := time.Now()
	code, _, err := f.b.get(path)
	return timedGet{code: code, err: err, took: time.Since(start)}
}

func (f *faultApp) admin() *pgx.Conn {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, f.url)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func terminateApp(ctx context.Context, c *pgx.Conn) (int, error) {
	var n int
	err := c.QueryRow(ctx, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name IN ('hris', 'hris-ops')").Scan(&n)
	return n, err
}

// 1. Every pooled connection killed: reads go on without a single error.
func TestFaultTerminatedBackendsReadsContinue(t *testing.T) {
	f := newFaultApp(t, "HRIS_DB_MAX_CONNS", "5", "HRIS_DB_MIN_IDLE_CONNS", "5")
	var wg sync.WaitGroup
	for range 5 { // fill the pool
		wg.Add(1)
		go func() { defer wg.Done(); f.get(readPath) }()
	}
	wg.Wait()
	admin := f.admin()
	ctx := context.Background()
	var failures atomic.Int64
	total := 0
	for round := range 3 {
		killed, err := terminateApp(ctx, admin)
		if err != nil {
			t.Fatal(err)
		}
		// Sequential reads, then a concurrent burst, right after the kill.
		for i := range 20 {
			if r := f.get(readPath); r.code != http.StatusOK {
				failures.Add(1)
				t.Errorf("round %d read %d after killing %d backends: %d %v", round, i, killed, r.code, r.err)
			}
			total++
		}
		if _, err := terminateApp(ctx, admin); err != nil {
			t.Fatal(err)
		}
		for range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if r := f.get(readPath); r.code != http.StatusOK {
					failures.Add(1)
					t.Errorf("concurrent read after kill: %d %v", r.code, r.err)
				}
			}()
			total++
		}
		wg.Wait()
	}
	t.Logf("%d reads across 6 mass terminations: %d failed", total, failures.Load())
}

// 2. PostgreSQL restarts: fast 503s while it is down, service again within
// a second of it accepting connections, no app restart.
func TestFaultRestartRecoversWithinASecond(t *testing.T) {
	f := newFaultApp(t)
	if r := f.get(readPath); r.code != http.StatusOK {
		t.Fatalf("before: %d %v", r.code, r.err)
	}
	if err := f.srv.Stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	var worst time.Duration
	for i := range 5 {
		r := f.get(readPath)
		if r.code != http.StatusServiceUnavailable {
			t.Errorf("while down, request %d: %d %v, want 503", i, r.code, r.err)
		}
		if r.took > 4*time.Second {
			t.Errorf("while down, request %d took %s, want under 4s", i, r.took)
		}
		worst = max(worst, r.took)
	}
	code, body, _ := f.b.get(readPath)
	if code == http.StatusServiceUnavailable && !containsAll(body, "The database is not answering", "Try again in 5 seconds") {
		t.Errorf("503 page does not explain itself:\n%s", body)
	}
	if err := f.srv.Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
	back := time.Now()
	var recovered time.Duration
	for {
		if r := f.get(readPath); r.code == http.StatusOK {
			recovered = time.Since(back)
			break
		}
		if time.Since(back) > 10*time.Second {
			t.Fatal("no 200 within 10s of PostgreSQL accepting connections again")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if recovered > time.Second {
		t.Errorf("first 200 %s after PostgreSQL came back, want under 1s", recovered)
	}
	t.Logf("while down: slowest 503 in %s; after restart: first 200 in %s", worst.Round(time.Millisecond), recovered.Round(time.Millisecond))
}

// 3. A frozen PostgreSQL (SIGSTOP on every process for 8 s): each request
// answers 503/504 within the acquire + statement budget; recovery after.
func TestFaultFrozenServerAnswersWithinBudget(t *testing.T) {
	const acquire, statement = time.Second, 2 * time.Second
	f := newFaultApp(t,
		"HRIS_DB_ACQUIRE_TIMEOUT", acquire.String(),
		"HRIS_DB_STATEMENT_TIMEOUT", statement.String(),
		"HRIS_DB_CONNECT_TIMEOUT", "2s")
	if r := f.get(readPath); r.code != http.StatusOK {
		t.Fatalf("before: %d", r.code)
	}
	budget := acquire + statement + time.Second // + the client-side grace and HTTP
	if err := f.srv.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	frozen := time.Now()
	thawed := false
	thaw := func() {
		if !thawed {
			thawed = true
			_ = f.srv.Signal(syscall.SIGCONT)
		}
	}
	defer thaw()
	var mu sync.Mutex
	var results []timedGet
	var wg sync.WaitGroup
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Since(frozen) < 8*time.Second-budget {
				r := f.get(readPath)
				mu.Lock()
				results = append(results, r)
				mu.Unlock()
				if r.code != http.StatusServiceUnavailable && r.code != http.StatusGatewayTimeout {
					t.Errorf("worker %d while frozen: %d %v after %s, want 503/504", w, r.code, r.err, r.took)
				}
			}
		}()
	}
	wg.Wait()
	for time.Since(frozen) < 8*time.Second {
		time.Sleep(50 * time.Millisecond)
	}
	thaw()
	var worst time.Duration
	for _, r := range results {
		worst = max(worst, r.took)
		if r.took > budget {
			t.Errorf("a request took %s while frozen, over the %s budget", r.took, budget)
		}
	}
	thawedAt := time.Now()
	for {
		if r := f.get(readPath); r.code == http.StatusOK {
			break
		}
		if time.Since(thawedAt) > 15*time.Second {
			t.Fatal("no recovery within 15s of SIGCONT")
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("frozen 8s: %d requests, all 503/504, slowest %s (budget %s); 200 again %s after SIGCONT",
		len(results), worst.Round(time.Millisecond), budget, time.Since(thawedAt).Round(time.Millisecond))
}

// 4. Overload: 200 concurrent clients on a pool of 5 queue fairly and all
// succeed; the server never sees more than 5 app connections. Past the
// acquire budget, requests get a quick 503.
func TestFaultOverloadQueuesWithinPool(t *testing.T) {
	f := newFaultApp(t, "HRIS_DB_MAX_CONNS", "5", "HRIS_DB_MIN_IDLE_CONNS", "0")
	admin := f.admin()
	ctx := context.Background()
	stop := make(chan struct{})
	var peak atomic.Int64
	var sampler sync.WaitGroup
	sampler.Add(1)
	go func() {
		defer sampler.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			var n int64
			if err := admin.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'hris'").Scan(&n); err == nil && n > peak.Load() {
				peak.Store(n)
			}
		}
	}()
	const clients, each = 200, 10
	var ok, bad atomic.Int64
	var lat []time.Duration
	var mu sync.Mutex
	start := time.Now()
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				r := f.get(readPath)
				if r.code == http.StatusOK {
					ok.Add(1)
				} else {
					bad.Add(1)
				}
				mu.Lock()
				lat = append(lat, r.took)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	took := time.Since(start)
	close(stop)
	sampler.Wait()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	if bad.Load() != 0 {
		t.Errorf("%d of %d requests failed under overload", bad.Load(), clients*each)
	}
	if peak.Load() > 5 {
		t.Errorf("server saw %d app connections, want at most HRIS_DB_MAX_CONNS=5", peak.Load())
	}
	t.Logf("200 clients × 10 requests on a pool of 5: %d ok, %d errors, %.0f req/s, p50 %s p99 %s, peak %d server connections",
		ok.Load(), bad.Load(), float64(ok.Load())/took.Seconds(), lat[len(lat)/2].Round(time.Millisecond),
		lat[len(lat)*99/100].Round(time.Millisecond), peak.Load())
}

// 4b. Past the acquire budget the answer is a quick 503, not a hang.
func TestFaultPoolExhaustedGivesQuick503(t *testing.T) {
	f := newFaultApp(t, "HRIS_DB_MAX_CONNS", "3", "HRIS_DB_MIN_IDLE_CONNS", "0",
		"HRIS_DB_ACQUIRE_TIMEOUT", "500ms", "HRIS_DB_STATEMENT_TIMEOUT", "4s")
	admin := f.admin()
	ctx := context.Background()
	// Hold a lock every page load needs, so the pool's connections all
	// wait on it and further requests find the pool empty.
	tx, err := admin.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "LOCK TABLE users IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	results := make([]timedGet, 12)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = f.get(readPath)
		}()
		time.Sleep(20 * time.Millisecond)
	}
	wg.Wait()
	_ = tx.Rollback(ctx)
	quick := 0
	for _, r := range results {
		if r.code != http.StatusServiceUnavailable {
			t.Errorf("request while the pool was exhausted: %d %v, want 503", r.code, r.err)
		}
		if r.took < 1500*time.Millisecond {
			quick++
		}
	}
	if quick < len(results)-3 {
		t.Errorf("only %d of %d requests got their 503 within 1.5s", quick, len(results))
	}
	t.Logf("pool of 3 blocked: %d of %d requests answered 503 within 1.5s (acquire budget 500ms)", quick, len(results))
	if r := f.get(readPath); r.code != http.StatusOK {
		t.Errorf("after the lock went: %d", r.code)
	}
}

// 5. Writes while connections die: 40 creates while every app backend is
// killed every 200 ms. The client retries each 503 with the same
// idempotency key, as a person pressing "save" again would; afterwards each
// submit is repeated once more. Exactly 40 rows, every acknowledged one kept.
func TestFaultCreatesWhileBackendsAreKilled(t *testing.T) {
	f := newFaultApp(t)
	admin := f.admin()
	ctx := context.Background()
	stop := make(chan struct{})
	var killer sync.WaitGroup
	var kills atomic.Int64
	killer.Add(1)
	go func() {
		defer killer.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
			}
			n, err := terminateApp(ctx, admin)
			if err != nil {
				t.Errorf("killer: %v", err)
				return
			}
			kills.Add(int64(n))
		}
	}()
	type submit struct {
		form url.Values
		loc  string
	}
	submits := make([]submit, 40)
	var retries atomic.Int64
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(submits); i += 4 {
				// People, not a loop: spread the creates over a couple of
				// seconds so they overlap the kills.
				time.Sleep(time.Duration(50+i*5) * time.Millisecond)
				form := url.Values{
					"first_name": {"Fault"}, "last_name": {fmt.Sprintf("Tolerant %02d", i)},
					"email": {fmt.Sprintf("fault.%02d@example.com", i)}, "hire_date": {"2024-02-29"},
					"idempotency_key": {uuid.NewString()},
				}
				for attempt := 0; ; attempt++ {
					resp, body, err := f.b.post("/employees", form)
					if err == nil && resp.StatusCode == http.StatusSeeOther {
						submits[i] = submit{form: form, loc: resp.Header.Get("Location")}
						break
					}
					if err == nil && resp.StatusCode != http.StatusServiceUnavailable {
						t.Errorf("create %d: status %d\n%s", i, resp.StatusCode, body)
						return
					}
					if attempt > 50 {
						t.Errorf("create %d never succeeded: %v", i, err)
						return
					}
					retries.Add(1)
					time.Sleep(50 * time.Millisecond)
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	killer.Wait()
	// Every submit again, with its key: the same employee, no new row.
	for i, s := range submits {
		resp, _, err := f.b.post("/employees", s.form)
		if err != nil || resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != s.loc {
			t.Errorf("repeat %d: %v %v, want 303 to %s", i, err, resp, s.loc)
		}
	}
	if kills.Load() == 0 {
		t.Fatal("no backend was killed while the creates ran; the test proved nothing")
	}
	var rows, audited int
	if err := admin.QueryRow(ctx, "SELECT count(*) FROM employees WHERE email LIKE 'fault.%'").Scan(&rows); err != nil {
		t.Fatal(err)
	}
	_ = admin.QueryRow(ctx, "SELECT count(*) FROM audit_log WHERE action = 'employee.create'").Scan(&audited)
	if rows != 40 || audited != 40 {
		t.Errorf("%d rows and %d create audit rows after 40 creates and 40 repeats, want 40 and 40", rows, audited)
	}
	for i, s := range submits {
		if code, _, _ := f.b.get(s.loc); code != http.StatusOK {
			t.Errorf("acknowledged employee %d (%s) not found: %d", i, s.loc, code)
		}
	}
	t.Logf("40 creates under %d backend kills: %d client retries after 503, %d rows, %d audit rows", kills.Load(), retries.Load(), rows, audited)
}

// 6. SIGTERM under load: readiness goes 503, in-flight requests finish,
// exit 0, no connection left behind.
func TestFaultSIGTERMUnderLoad(t *testing.T) {
	f := newFaultApp(t, "HRIS_SHUTDOWN_DELAY", "1s")
	admin := f.admin()
	ctx := context.Background()

	// One request held in flight by a lock, to prove draining waits for it.
	tx, err := admin.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "LOCK TABLE users IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	held := make(chan timedGet, 1)
	go func() { held <- f.get(readPath) }()
	time.Sleep(200 * time.Millisecond)

	// Load from other clients meanwhile: anonymous pages and health checks
	// (which do not need the locked table).
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var served, refused, failed atomic.Int64
	// closing is when the server stops accepting (SIGTERM plus the 1 s
	// delay). From then on a client can also see its connection reset or
	// closed without an answer: one that the kernel accepted into the
	// listen backlog, or a keep-alive one closed as idle just as a request
	// went out. Those count as refused; before that moment, any failure
	// is a real one.
	var closing atomic.Int64
	closing.Store(math.MaxInt64)
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			anon := newBrowser(t, f.base)
			path := []string{"/login", "/health/detailed"}[i%2]
			for {
				select {
				case <-stop:
					return
				default:
				}
				code, _, err := anon.get(path)
				switch {
				case err != nil && (errors.Is(err, syscall.ECONNREFUSED) || time.Now().UnixNano() >= closing.Load()):
					refused.Add(1)
					time.Sleep(10 * time.Millisecond)
				case err != nil:
					failed.Add(1)
					t.Errorf("request during shutdown: %v", err)
				case code == http.StatusOK || code == http.StatusSeeOther:
					served.Add(1)
				default:
					failed.Add(1)
					t.Errorf("request during shutdown: status %d", code)
				}
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	// A little before the delay ends, for the scheduling of a loaded machine.
	closing.Store(time.Now().Add(900 * time.Millisecond).UnixNano())
	_ = f.proc.cmd.Process.Signal(syscall.SIGTERM)
	// During HRIS_SHUTDOWN_DELAY the instance says it is not ready.
	sawDraining := false
	for range 20 {
		resp, err := http.Get(f.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusServiceUnavailable {
				sawDraining = true
				break
			}
		}
		time.Sleep(25 * time.Millisecond)
	}
	if !sawDraining {
		t.Error("/readyz never answered 503 while draining")
	}
	time.Sleep(1500 * time.Millisecond)
	_ = tx.Rollback(ctx) // let the held request finish
	r := <-held
	if r.code != http.StatusOK {
		t.Errorf("the request in flight at SIGTERM got %d %v, want 200", r.code, r.err)
	}
	code := f.proc.wait(30 * time.Second)
	close(stop)
	wg.Wait()
	if code != 0 {
		t.Errorf("exit %d after SIGTERM, want 0", code)
	}
	if n := appConnectionsAfterExit(t, f.srv.URL("postgres")); n != 0 {
		t.Errorf("%d app connections left 5s after exit", n)
	}
	t.Logf("SIGTERM under load: %d requests served, %d refused after close, %d failed; held request %d after %s",
		served.Load(), refused.Load(), failed.Load(), r.code, r.took.Round(time.Millisecond))
}

func containsAll(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}
