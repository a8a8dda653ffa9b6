// Command bench measures hris under load next to PostgreSQL's own ceiling
// for the same SQL, at one or more sizes: `make bench` runs it from the
// repository root, `make bench BENCH_FLAGS="-employees 10000,1000000"`
// prints the cost curve.
//
// For each size it seeds a private throwaway PostgreSQL through bin/hris
// (employees, twice as many audit entries), learns what each page sends by
// loading it in an in-process hris with a statement recorder (trace.go),
// checks with pg_stat_statements that `hris serve` sends the same, then
// drives `hris serve` with wrk on every page, each run bracketed by the two
// halves of a pgbench run of that page's own statements at the same
// concurrency; the sizes take turns, page by page. It downloads the whole
// CSV export at each size. At the first size it also runs the dashboard, health,
// gzip, overload and probe scenarios. It prints the tables and writes the
// figures as JSON under bench/results/.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"hris/db"
	"hris/db/pglocal"
)

type options struct {
	duration  time.Duration
	warmup    time.Duration
	clients   int
	overload  int
	probeRate int
	pool      int
	sizes     []int
	auditPer  int
	hris      string
	only      map[string]bool
	extras    bool
	goBench   bool
	results   string
	label     string
	keep      bool
	explain   bool
}

func main() {
	var o options
	var sizes, only string
	flag.DurationVar(&o.duration, "duration", 6*time.Second, "length of each measured run (whole seconds)")
	flag.DurationVar(&o.warmup, "warmup", time.Second, "load before each measured run, not counted")
	flag.IntVar(&o.clients, "clients", 32, "concurrent clients of wrk and of pgbench")
	flag.IntVar(&o.overload, "overload", 500, "clients of the overload scenario")
	flag.IntVar(&o.pool, "pool", 20, "hris's pool size (HRIS_DB_MAX_CONNS)")
	flag.IntVar(&o.probeRate, "probe-rate", 200, "/health/detailed probes per second while the list is under load")
	flag.StringVar(&sizes, "employees", "10000", "comma-separated numbers of employees to measure at (the cost curve)")
	flag.IntVar(&o.auditPer, "audit-per-employee", 2, "audit entries seeded per employee")
	flag.StringVar(&o.hris, "hris", "bin/hris", "the hris binary (built when missing)")
	flag.StringVar(&only, "only", "", "comma-separated page keys to measure (see bench/pages.go), and export for the CSV download; default all")
	flag.BoolVar(&o.extras, "extras", true, "at the first size, also the dashboard, health, gzip, overload and probe scenarios")
	flag.BoolVar(&o.goBench, "gobench", true, "run the Go micro-benchmarks too")
	flag.StringVar(&o.results, "results", "bench/results", "directory for the JSON results")
	flag.StringVar(&o.label, "label", "", "a note stored with the results (what this run measures)")
	flag.BoolVar(&o.keep, "keep", false, "keep the temporary directory (PostgreSQL and hris logs)")
	flag.BoolVar(&o.explain, "explain", false, "print EXPLAIN (ANALYZE, BUFFERS) of every statement of every page at each size, instead of measuring")
	flag.Parse()
	for _, s := range strings.Split(sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 100 {
			fmt.Fprintf(os.Stderr, "bench: -employees: %q is not a number of employees (100 or more)\n", s)
			os.Exit(2)
		}
		o.sizes = append(o.sizes, n)
	}
	if only != "" {
		o.only = map[string]bool{}
		for _, k := range strings.Split(only, ",") {
			o.only[strings.TrimSpace(k)] = true
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func (o options) want(key string) bool { return o.only == nil || o.only[key] }

// bench holds the running parts.
type bench struct {
	o       options
	dir     string
	pg      *pglocal.Server
	hrisBin string
	wrkLua  string
	logFile *os.File
	pgbench string
	pgopts  string
	step    func(string)
}

// sizeRun is the database of one size and what runs against it.
type sizeRun struct {
	b      *bench
	n      int
	dbURL  string
	cookie string
	seed   time.Duration // how long seeding the employees took
}

const (
	adminEmail    = "bench@example.com"
	adminPassword = "bench password, long enough"
)

func run(ctx context.Context, o options) error {
	began := time.Now()
	if _, err := os.Stat("go.mod"); err != nil {
		return errors.New("run from the repository root (make bench)")
	}
	if _, err := exec.LookPath("wrk"); err != nil {
		return errors.New("wrk not found: install it (Debian: apt-get install wrk)")
	}
	b := &bench{o: o, step: stepper(began)}
	var err error
	if b.hrisBin, err = filepath.Abs(o.hris); err != nil {
		return err
	}
	if _, err := os.Stat(b.hrisBin); err != nil {
		fmt.Fprintf(os.Stderr, "building %s\n", o.hris)
		if out, err := exec.CommandContext(ctx, "go", "build", "-o", b.hrisBin, "./cmd/hris").CombinedOutput(); err != nil {
			return fmt.Errorf("go build: %w\n%s", err, out)
		}
	}
	if b.dir, err = os.MkdirTemp("", "hris-bench-"); err != nil {
		return err
	}
	if o.keep {
		fmt.Fprintf(os.Stderr, "keeping %s\n", b.dir)
	} else {
		defer os.RemoveAll(b.dir)
	}
	b.wrkLua = filepath.Join(b.dir, "report.lua")
	if err := os.WriteFile(b.wrkLua, []byte(wrkScript), 0o644); err != nil {
		return err
	}
	if b.logFile, err = os.Create(filepath.Join(b.dir, "hris.log")); err != nil {
		return err
	}
	defer b.logFile.Close()

	// One private, throwaway PostgreSQL for every size, with
	// pg_stat_statements loaded for the script check (tracking is off
	// during the runs).
	pgLog, err := os.Create(filepath.Join(b.dir, "postgres.log"))
	if err != nil {
		return err
	}
	defer pgLog.Close()
	b.pg, err = pglocal.Start(ctx, pglocal.Options{
		Dir:       filepath.Join(b.dir, "data"),
		Throwaway: true,
		Log:       pgLog,
		Settings: map[string]string{
			"shared_preload_libraries": "pg_stat_statements",
			"max_connections":          "200",
		},
	})
	if err != nil {
		return err
	}
	defer b.pg.Stop(10 * time.Second)
	b.pgbench = filepath.Join(b.pg.BinDir(), "pgbench")
	if _, err := os.Stat(b.pgbench); err != nil {
		if b.pgbench, err = exec.LookPath("pgbench"); err != nil {
			return errors.New("pgbench not found: install postgresql-contrib")
		}
	}
	b.step("PostgreSQL started")

	// The same session settings as the app's main pool, for pgbench.
	cfg := db.DefaultConfig()
	cfg.URL = b.pg.URL("postgres")
	pc, err := db.PoolConfig(cfg)
	if err != nil {
		return err
	}
	var opts []string
	for k, v := range pc.ConnConfig.RuntimeParams {
		if k != "application_name" {
			opts = append(opts, "-c "+k+"="+v)
		}
	}
	slices.Sort(opts)
	b.pgopts = strings.Join(opts, " ")

	res := Results{Started: began.UTC(), Label: o.label}
	res.Settings = Settings{Sizes: o.sizes, AuditPerEmployee: o.auditPer, Clients: o.clients, Overload: o.overload,
		PoolSize: o.pool, DurationS: o.duration.Seconds(), WarmupS: o.warmup.Seconds(), ProbeRate: o.probeRate, PGOptions: b.pgopts}
	var runs []*sizeRun
	for i, n := range o.sizes {
		sr, err := b.prepareSize(ctx, n)
		if err != nil {
			return err
		}
		if o.explain {
			if err := sr.explainPages(ctx, os.Stdout); err != nil {
				return err
			}
			continue
		}
		runs = append(runs, sr)
		if i == 0 {
			conn, err := pgx.Connect(ctx, sr.dbURL)
			if err == nil {
				res.Machine = machine(ctx, conn, b.pgbench)
				conn.Close(ctx)
			}
		}
	}
	if o.explain {
		return nil
	}
	var err2 error
	if res.Sizes, err2 = b.measureAll(ctx, runs); err2 != nil {
		return err2
	}
	if o.goBench {
		gb, err := goBenchmarks(ctx)
		if err != nil {
			return err
		}
		res.GoBench = gb
		b.step("Go benchmarks")
	}
	res.Took = time.Since(began).Round(time.Second).String()
	printTables(os.Stdout, res)
	return writeResults(o.results, res)
}

func stepper(began time.Time) func(string) {
	return func(msg string) {
		fmt.Fprintf(os.Stderr, "[%6.1fs] %s\n", time.Since(began).Seconds(), msg)
	}
}

// prepareSize creates, migrates and seeds the database of n employees and
// logs in.
func (b *bench) prepareSize(ctx context.Context, n int) (*sizeRun, error) {
	sr := &sizeRun{b: b, n: n}
	name := fmt.Sprintf("hris_%d", n)
	admin, err := pgx.Connect(ctx, b.pg.URL("postgres"))
	if err != nil {
		return nil, err
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		admin.Close(ctx)
		return nil, err
	}
	admin.Close(ctx)
	sr.dbURL = b.pg.URL(name)
	if err := sr.hrisCmd(ctx, "", "migrate"); err != nil {
		return nil, err
	}
	start := time.Now()
	if err := sr.hrisCmd(ctx, "", "seed", "--employees", strconv.Itoa(n)); err != nil {
		return nil, err
	}
	sr.seed = time.Since(start)
	auditStart := time.Now()
	if err := sr.hrisCmd(ctx, "", "seed", "--employees", strconv.Itoa(n), "--audit", strconv.Itoa(n*b.o.auditPer)); err != nil {
		return nil, err
	}
	b.step(fmt.Sprintf("%d employees seeded in %s, then %d audit entries in %s", n, sr.seed.Round(100*time.Millisecond),
		n*b.o.auditPer, time.Since(auditStart).Round(100*time.Millisecond)))
	if err := sr.hrisCmd(ctx, adminPassword+"\n", "user", "create", "--email", adminEmail, "--name", "Bench Admin", "--role", "admin"); err != nil {
		return nil, err
	}
	conn, err := pgx.Connect(ctx, sr.dbURL)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"); err != nil {
		return nil, err
	}
	return sr, nil
}

// measureAll measures every page at every size. The sizes take turns,
// page by page: a machine that slows down or speeds up during the run (a
// noisy neighbour, a thermal limit) then weighs on every size alike, not
// on whichever size happened to run last.
func (b *bench) measureAll(ctx context.Context, runs []*sizeRun) ([]Size, error) {
	var states []*sizeState
	defer func() {
		for _, st := range states {
			st.close()
		}
	}()
	for _, sr := range runs {
		st, err := sr.prepare(ctx)
		if err != nil {
			return nil, fmt.Errorf("%d employees: %w", sr.n, err)
		}
		states = append(states, st)
	}
	sizes := make([]Size, len(runs))
	for i, sr := range runs {
		sizes[i] = Size{Employees: sr.n, AuditEntries: sr.n * b.o.auditPer, SeedS: sr.seed.Seconds()}
	}
	if len(states) == 0 {
		return sizes, nil
	}
	for k, p := range states[0].pages {
		if _, ok := states[0].scripts[p.Key]; !ok {
			continue
		}
		for i, st := range states {
			pr, err := st.measurePage(ctx, st.pages[k])
			if err != nil {
				return nil, fmt.Errorf("%d employees: %s: %w", st.sr.n, p.Key, err)
			}
			sizes[i].Pages = append(sizes[i].Pages, pr)
		}
	}
	for i, st := range states {
		sr := st.sr
		if peak, err := peakRSS(st.app.pid()); err == nil {
			sizes[i].PeakRSSMB = peak
		}
		if b.o.want("export") {
			ex, err := sr.export(ctx)
			if err != nil {
				return nil, fmt.Errorf("%d employees: export: %w", sr.n, err)
			}
			sizes[i].Export = ex
			b.step(fmt.Sprintf("%8d  CSV export of every employee: %.1f s, %.0f MiB, peak RSS %.0f MiB", sr.n,
				ex.Seconds, float64(ex.Bytes)/(1<<20), ex.PeakRSSMB))
		}
		if i == 0 && b.o.extras {
			ex, err := sr.extras(ctx)
			if err != nil {
				return nil, err
			}
			sizes[i].Extras = ex
		}
	}
	return sizes, nil
}

// sizeState is one size ready to measure: its pages' scripts, checked
// against what its hris serve sends, and that process, logged in.
type sizeState struct {
	sr      *sizeRun
	conn    *pgx.Conn
	pages   []benchPage
	scripts map[string]pageScript
	app     *hrisProc
}

func (st *sizeState) close() {
	if st.app != nil {
		st.app.stop()
	}
	st.conn.Close(context.Background())
}

// prepare learns what each page sends, starts hris serve and checks that
// it sends the same.
func (sr *sizeRun) prepare(ctx context.Context) (_ *sizeState, err error) {
	b := sr.b
	conn, err := pgx.Connect(ctx, sr.dbURL)
	if err != nil {
		return nil, err
	}
	st := &sizeState{sr: sr, conn: conn, scripts: map[string]pageScript{}}
	defer func() {
		if err != nil {
			st.close()
		}
	}()
	s, err := findSample(ctx, conn)
	if err != nil {
		return nil, err
	}
	st.pages = benchPages(s)

	// What each page sends, learned in-process.
	traced, err := startTraced(ctx, sr.dbURL)
	if err != nil {
		return nil, err
	}
	err = func() error {
		defer traced.Close()
		if err := traced.login(adminEmail, adminPassword); err != nil {
			return err
		}
		for _, p := range st.pages {
			if !b.o.want(p.Key) {
				continue
			}
			// The second load is the steady state (the first may settle
			// the session, a flash, the statement cache).
			if _, _, err := traced.load(p.Path); err != nil {
				return err
			}
			stmts, _, err := traced.load(p.Path)
			if err != nil {
				return err
			}
			if st.scripts[p.Key], err = buildScript(ctx, conn, stmts); err != nil {
				return fmt.Errorf("%s: %w", p.Key, err)
			}
		}
		return nil
	}()
	if err != nil {
		return nil, err
	}

	if st.app, err = sr.startHris(ctx); err != nil {
		return nil, err
	}
	if err := sr.login(st.app.base); err != nil {
		return nil, err
	}
	// Statements are tracked for the check, not during the runs (tracking
	// costs a little on every statement).
	if err := trackStatements(ctx, conn, true); err != nil {
		return nil, err
	}
	for _, p := range st.pages {
		if ps, ok := st.scripts[p.Key]; ok {
			if err := sr.checkStatements(ctx, conn, st.app.base, p.Path, ps.Names); err != nil {
				return nil, fmt.Errorf("%s: %w", p.Key, err)
			}
		}
	}
	if err := trackStatements(ctx, conn, false); err != nil {
		return nil, err
	}
	b.step(fmt.Sprintf("%d employees: %d pages traced; pgbench scripts match what hris serve sends (pg_stat_statements)", sr.n, len(st.scripts)))
	return st, nil
}

// trackStatements turns pg_stat_statements' counting on or off, for the
// whole server.
func trackStatements(ctx context.Context, conn *pgx.Conn, on bool) error {
	set := "ALTER SYSTEM SET pg_stat_statements.track = 'none'"
	if on {
		set = "ALTER SYSTEM SET pg_stat_statements.track = 'top'"
	}
	if _, err := conn.Exec(ctx, set); err != nil {
		return err
	}
	_, err := conn.Exec(ctx, "SELECT pg_reload_conf()")
	return err
}

// measurePage measures one page: one client alone, then wrk between the
// two halves of pgbench on the page's own statements.
func (st *sizeState) measurePage(ctx context.Context, p benchPage) (PageResult, error) {
	sr, b := st.sr, st.sr.b
	ps := st.scripts[p.Key]
	pr := PageResult{Key: p.Key, Name: p.Name, Path: p.Path, Statements: ps.Statements, RoundTrips: ps.RoundTrips,
		Sequence: strings.Join(ps.Names, ", ")}
	var err error
	// One client first: what a single request costs.
	if pr.SingleMS, err = sr.singleRequest(st.app.base, p.Path, 30); err != nil {
		return pr, err
	}
	first, second := b.o.duration/2, b.o.duration-b.o.duration/2
	a, err := b.pgbenchPiece(ctx, sr, p.Key, ps, b.o.clients, first, true)
	if err != nil {
		return pr, err
	}
	if pr.Load, err = sr.scenario(ctx, st.app, p.Path, b.o.clients, false, ""); err != nil {
		return pr, err
	}
	c, err := b.pgbenchPiece(ctx, sr, p.Key, ps, b.o.clients, second, false)
	if err != nil {
		return pr, err
	}
	pr.Pgbench = mergePieces(p.Key, b.o.clients, []pgbenchPiece{a, c})
	b.step(fmt.Sprintf("%8d  %-12s %6.0f req/s  p99 %6.1f ms  1 client %5.1f ms | pgbench %6.0f tps", sr.n, p.Key,
		pr.Load.Rate, pr.Load.P99MS, pr.SingleMS, pr.Pgbench.TPS))
	return pr, nil
}

// export downloads /employees.csv (every employee) once, alone, from a
// fresh hris process: the export streams, so its memory should not grow
// with the table.
func (sr *sizeRun) export(ctx context.Context) (Export, error) {
	app, err := sr.startHris(ctx)
	if err != nil {
		return Export{}, err
	}
	defer app.stop()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, app.base+"/employees.csv", nil)
	req.Header.Set("Cookie", sr.cookie)
	start := time.Now()
	resp, err := plainClient.Do(req)
	if err != nil {
		return Export{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return Export{}, fmt.Errorf("GET /employees.csv: %s", resp.Status)
	}
	var ex Export
	buf := make([]byte, 64<<10)
	for {
		n, err := resp.Body.Read(buf)
		ex.Bytes += int64(n)
		ex.Rows += bytes.Count(buf[:n], []byte{'\n'})
		if err == io.EOF {
			break
		}
		if err != nil {
			return ex, err
		}
	}
	ex.Seconds = time.Since(start).Seconds()
	ex.Rows-- // the header
	if ex.Rows != sr.n {
		return ex, fmt.Errorf("GET /employees.csv: %d rows, want %d", ex.Rows, sr.n)
	}
	ex.PeakRSSMB, err = peakRSS(app.pid())
	return ex, err
}

// extras are the scenarios of the first size beyond the pages, each
// against a fresh hris process (so its peak RSS is its own).
func (sr *sizeRun) extras(ctx context.Context) ([]Scenario, error) {
	b := sr.b
	gzip := "Accept-Encoding: gzip"
	type scen struct {
		name, path string
		clients    int
		probe      bool
		header     string
	}
	var out []Scenario
	for _, s := range []scen{
		{"GET /employees, gzip (as browsers ask)", "/employees", b.o.clients, false, gzip},
		{"GET /ops/pool", "/ops/pool", b.o.clients, false, ""},
		{"GET /health/detailed", "/health/detailed", b.o.clients, false, ""},
		{fmt.Sprintf("GET /employees, pool %d", b.o.pool), "/employees", b.o.overload, false, ""},
		{"GET /employees + probes", "/employees", b.o.clients, true, ""},
	} {
		app, err := sr.startHris(ctx)
		if err != nil {
			return nil, err
		}
		sc, err := sr.scenario(ctx, app, s.path, s.clients, s.probe, s.header)
		if err == nil {
			sc.PeakRSSMB, err = peakRSS(app.pid())
		}
		app.stop()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.name, err)
		}
		sc.Name = s.name
		out = append(out, sc)
		b.step(fmt.Sprintf("%-40s %7.0f req/s  p99 %6.2f ms", s.name, sc.Rate, sc.P99MS))
	}
	return out, nil
}

// hrisEnv is the environment of every hris command: the caller's, minus
// anything that would configure hris differently.
func (sr *sizeRun) hrisEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "HRIS_") || strings.HasPrefix(kv, "DATABASE_URL=") {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "DATABASE_URL="+sr.dbURL, "HRIS_COOKIE_SECURE=false",
		"HRIS_DB_MAX_CONNS="+strconv.Itoa(sr.b.o.pool), "HRIS_POOL_LOG_INTERVAL=0s")
	return append(env, extra...)
}

func (sr *sizeRun) hrisCmd(ctx context.Context, stdin string, args ...string) error {
	cmd := exec.CommandContext(ctx, sr.b.hrisBin, args...)
	cmd.Dir = sr.b.dir // no stray .env
	cmd.Env = sr.hrisEnv()
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("hris %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

type hrisProc struct {
	cmd  *exec.Cmd
	base string
	done chan struct{}
}

func (p *hrisProc) pid() int { return p.cmd.Process.Pid }

// stop sends SIGTERM and waits for the drain.
func (p *hrisProc) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// startHris starts `hris serve` on a free port and waits until it answers.
func (sr *sizeRun) startHris(ctx context.Context) (*hrisProc, error) {
	b := sr.b
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.Command(b.hrisBin, "serve")
	cmd.Dir = b.dir
	cmd.Env = sr.hrisEnv("HRIS_ADDR=" + addr)
	cmd.Stdout, cmd.Stderr = b.logFile, b.logFile
	killOnExit(cmd)
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &hrisProc{cmd: cmd, base: "http://" + addr, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(p.base + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, nil
			}
		}
		select {
		case <-p.done:
			return nil, fmt.Errorf("hris serve exited during startup; see %s", b.logFile.Name())
		case <-ctx.Done():
			p.stop()
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, errors.New("hris serve did not answer /health within 20s")
		}
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// login posts the login form and keeps the session cookie. The session
// lives in the database, so every hris process of this size accepts it.
func (sr *sizeRun) login(base string) error {
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequest(http.MethodPost, base+"/login",
		strings.NewReader(url.Values{"email": {adminEmail}, "password": {adminPassword}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		return fmt.Errorf("login: status %d", resp.StatusCode)
	}
	for _, c := range resp.Cookies() {
		if c.Name == "hris_session" {
			sr.cookie = c.Name + "=" + c.Value
		}
	}
	if sr.cookie == "" {
		return errors.New("login: no session cookie")
	}
	return nil
}

func (sr *sizeRun) get(client *http.Client, base, path string) (int, string, error) {
	req, _ := http.NewRequest(http.MethodGet, base+path, nil)
	req.Header.Set("Cookie", sr.cookie)
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

var plainClient = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// singleRequest loads path n times, one at a time, and returns the median
// latency: what one request costs with nobody else around.
func (sr *sizeRun) singleRequest(base, path string, n int) (float64, error) {
	var lat []time.Duration
	for i := range n + 3 {
		start := time.Now()
		code, _, err := sr.get(plainClient, base, path)
		if err != nil || code != http.StatusOK {
			return 0, fmt.Errorf("GET %s: %d %v", path, code, err)
		}
		if i >= 3 { // after the statement cache is warm
			lat = append(lat, time.Since(start))
		}
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return ms(pct(lat, 50)), nil
}

// checkStatements loads path a number of times with statement tracking on
// and compares what PostgreSQL executed with the page's script.
func (sr *sizeRun) checkStatements(ctx context.Context, conn *pgx.Conn, base, path string, names []string) error {
	// A first load settles the session and the statement cache.
	if code, _, err := sr.get(plainClient, base, path); err != nil || code != http.StatusOK {
		return fmt.Errorf("GET %s: status %d, err %v", path, code, err)
	}
	if _, err := conn.Exec(ctx, "SELECT pg_stat_statements_reset()"); err != nil {
		return err
	}
	const loads = 20
	for range loads {
		if code, _, err := sr.get(plainClient, base, path); err != nil || code != http.StatusOK {
			return fmt.Errorf("GET %s: status %d, err %v", path, code, err)
		}
	}
	got, err := statementCounts(ctx, conn, loads)
	if err != nil {
		return err
	}
	return compareStatements(names, got, loads)
}

// scenario runs wrk on path against app.
func (sr *sizeRun) scenario(ctx context.Context, app *hrisProc, path string, clients int, withProbe bool, header string) (Scenario, error) {
	b := sr.b
	sc := Scenario{Path: path, Clients: clients}
	headers := []string{"Cookie: " + sr.cookie}
	if header != "" {
		headers = append(headers, header)
	}
	target := app.base + path
	if b.o.warmup > 0 {
		if _, err := runWrk(ctx, b.wrkLua, target, clients, b.o.warmup, headers); err != nil {
			return sc, err
		}
	}
	route := path
	if i := strings.IndexByte(route, '?'); i >= 0 {
		route = route[:i]
	}
	before, err := statusCounts(app.base, route)
	if err != nil {
		return sc, err
	}
	appCPU0, _, _ := procCPU(app.pid(), false)
	pgCPU0 := serverCPU(b.pg.PID())
	busy0, self0 := machineBusy(), selfCPU()
	probeDone := make(chan probeResult, 1)
	if withProbe {
		go func() { probeDone <- probe(ctx, app.base+"/health/detailed", b.o.probeRate, b.o.duration) }()
	}
	w, err := runWrk(ctx, b.wrkLua, target, clients, b.o.duration, headers)
	if err != nil {
		return sc, err
	}
	if withProbe {
		p := <-probeDone
		sc.Probe = &p
	}
	appCPU1, _, _ := procCPU(app.pid(), false)
	pgCPU1 := serverCPU(b.pg.PID())
	busy1, self1 := machineBusy(), selfCPU()
	after, err := statusCounts(app.base, route)
	if err != nil {
		return sc, err
	}
	// Errors are what the client saw: wrk counts answers of 400 and above
	// and socket errors, the server's own counts add redirects (a lost
	// session). Requests whose client left when wrk stopped are in Codes
	// only.
	sc.Codes = codeDiff(before, after)
	sc.Non2xx = w.Status
	for code, n := range sc.Codes {
		if code < "200" || (code >= "300" && code < "400") {
			sc.Non2xx += n
		}
	}
	sc.Rate, sc.Requests = w.rate(), w.Requests
	sc.P50MS, sc.P99MS, sc.MaxMS = w.P50US/1000, w.P99US/1000, w.MaxUS/1000
	sc.SocketErrs = w.socketErrors()
	sc.Timeouts = w.Timeout
	if w.Requests > 0 {
		sc.BytesPer = w.Bytes / w.Requests
	}
	load := w.CPU + (self1 - self0)
	wall := time.Duration(w.DurationUS) * time.Microsecond
	sc.CPU = split(appCPU1-appCPU0, pgCPU1-pgCPU0, load, w.Requests, wall)
	sc.CPU.OtherCores = others(busy1-busy0, appCPU1-appCPU0+pgCPU1-pgCPU0+load, wall)
	return sc, nil
}

// others is the cores used by other processes: the machine's busy time
// less ours, over wall.
func others(busy, ours, wall time.Duration) float64 {
	if wall <= 0 || busy <= ours {
		return 0
	}
	return (busy - ours).Seconds() / wall.Seconds()
}

func split(app, pg, load time.Duration, n int64, wall time.Duration) CPUSplit {
	if n == 0 || wall == 0 {
		return CPUSplit{}
	}
	per := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(n) }
	cores := func(d time.Duration) float64 { return d.Seconds() / wall.Seconds() }
	return CPUSplit{AppUS: per(app), PostgresUS: per(pg), LoadUS: per(load),
		AppCores: cores(app), PGCores: cores(pg), LoadCores: cores(load)}
}

// pgbenchPiece is one measured pgbench run on a page's SQL, with the CPU
// the server and everything else used meanwhile.
type pgbenchPiece struct {
	res               pgbenchResult
	pgCPU, busy, wall time.Duration
}

// pgbenchPiece runs the page's script for d, after a warm-up when asked.
func (b *bench) pgbenchPiece(ctx context.Context, sr *sizeRun, key string, ps pageScript, clients int, d time.Duration, warm bool) (pgbenchPiece, error) {
	var p pgbenchPiece
	file := fmt.Sprintf("%d-%s", sr.n, key)
	if warm && b.o.warmup > 0 {
		if _, err := runPgbench(ctx, b.pgbench, b.dir, file, ps.Script, ps.Defs, b.pgopts, sr.dbURL, clients, max(b.o.warmup, 3*time.Second), false); err != nil {
			return p, err
		}
	}
	pg0, busy0, start := serverCPU(b.pg.PID()), machineBusy(), time.Now()
	res, err := runPgbench(ctx, b.pgbench, b.dir, file, ps.Script, ps.Defs, b.pgopts, sr.dbURL, clients, max(d, 3*time.Second), true)
	if err != nil {
		return p, err
	}
	p.res, p.wall = res, time.Since(start)
	p.pgCPU, p.busy = serverCPU(b.pg.PID())-pg0, machineBusy()-busy0
	return p, nil
}

// mergePieces adds up the pieces of one pgbench run.
func mergePieces(name string, clients int, pieces []pgbenchPiece) PgbenchRun {
	r := PgbenchRun{Name: name, Clients: clients}
	var tx int64
	var active float64 // seconds of measured running, as pgbench counts them
	var pgCPU, loadCPU, busy, wall time.Duration
	var lat []time.Duration
	for _, p := range pieces {
		tx += p.res.Transactions
		if p.res.TPS > 0 {
			active += float64(p.res.Transactions) / p.res.TPS
		}
		r.Failed += p.res.Failed
		pgCPU, loadCPU, busy, wall = pgCPU+p.pgCPU, loadCPU+p.res.CPU, busy+p.busy, wall+p.wall
		lat = append(lat, p.res.Latencies...)
	}
	if active > 0 {
		r.TPS = float64(tx) / active
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	r.P50MS, r.P99MS = ms(pct(lat, 50)), ms(pct(lat, 99))
	r.CPU = split(0, pgCPU, loadCPU, tx, wall)
	r.CPU.OtherCores = others(busy, pgCPU+loadCPU, wall)
	return r
}

// explainPages prints the plan of every statement every page sends, run
// as the page runs it (see explainText).
func (sr *sizeRun) explainPages(ctx context.Context, w io.Writer) error {
	conn, err := connectAsApp(ctx, sr.dbURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	s, err := findSample(ctx, conn)
	if err != nil {
		return err
	}
	traced, err := startTraced(ctx, sr.dbURL)
	if err != nil {
		return err
	}
	defer traced.Close()
	if err := traced.login(adminEmail, adminPassword); err != nil {
		return err
	}
	for _, p := range benchPages(s) {
		if !sr.b.o.want(p.Key) {
			continue
		}
		if _, _, err := traced.load(p.Path); err != nil {
			return err
		}
		stmts, _, err := traced.load(p.Path)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "\n## %s at %d employees: GET %s\n", p.Name, sr.n, p.Path)
		for i, st := range stmts {
			name := statementName(st.SQL)
			if name == "begin" || name == "commit" || planSettings[name] {
				continue
			}
			plan, err := explainText(ctx, conn, stmts, i)
			if err != nil {
				return fmt.Errorf("%s %s: %w", p.Key, name, err)
			}
			fmt.Fprintf(w, "\n### %s\n%s", name, plan)
		}
	}
	return nil
}

// connectAsApp connects with the session settings of the app's pool (no
// JIT, its timeouts), so that plans and timings are the app's.
func connectAsApp(ctx context.Context, url string) (*pgx.Conn, error) {
	cfg := db.DefaultConfig()
	cfg.URL = url
	pc, err := db.PoolConfig(cfg)
	if err != nil {
		return nil, err
	}
	return pgx.ConnectConfig(ctx, pc.ConnConfig)
}

// explainText is EXPLAIN (ANALYZE, BUFFERS) of stmts[i] as the app ran it:
// after the plan settings its batch sent before it. It runs in a
// transaction that is rolled back.
func explainText(ctx context.Context, conn *pgx.Conn, stmts []db.Statement, i int) (string, error) {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return "", err
	}
	defer tx.Rollback(ctx)
	if err := replaySettings(ctx, tx, stmts, i); err != nil {
		return "", err
	}
	st := stmts[i]
	rows, err := tx.Query(ctx, "EXPLAIN (ANALYZE, BUFFERS) "+st.SQL, st.Args...)
	if err != nil {
		return "", err
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return "", err
	}
	return strings.Join(lines, "\n") + "\n", nil
}

// planSettings are the statements a batch sends to set how the rest of it
// is planned (local to its transaction).
var planSettings = map[string]bool{"UseCustomPlans": true, "WalkInOrder": true, "MergeInOrder": true}

// replaySettings runs, in tx, the plan settings sent before stmts[i] in
// the same batch.
func replaySettings(ctx context.Context, tx pgx.Tx, stmts []db.Statement, i int) error {
	if stmts[i].Batch == 0 {
		return nil
	}
	for _, s := range stmts[:i] {
		if s.Batch == stmts[i].Batch && planSettings[statementName(s.SQL)] {
			if _, err := tx.Exec(ctx, s.SQL, s.Args...); err != nil {
				return err
			}
		}
	}
	return nil
}
