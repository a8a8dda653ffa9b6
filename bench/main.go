// Command bench measures hris under load next to PostgreSQL's own ceiling
// for the same SQL. `make bench` runs it from the repository root.
//
// It starts a private throwaway PostgreSQL, migrates and seeds it through
// bin/hris, logs in over HTTP and drives a fresh `hris serve` per scenario
// with wrk (recording the process's peak RSS and the CPU time of hris,
// PostgreSQL and wrk). Then it runs pgbench with a script of exactly the
// statements one list page sends, taken from the sqlc output and checked
// against pg_stat_statements, at the same concurrency. Last come the Go
// micro-benchmarks. It prints one table and writes the figures as JSON
// under bench/results/.
package main

import (
	"bufio"
	"context"
	"encoding/json"
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
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
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
	employees int
	hris      string
	only      string
	goBench   bool
	results   string
	label     string
	search    string
	keep      bool
}

func main() {
	var o options
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "length of each measured run (whole seconds)")
	flag.DurationVar(&o.warmup, "warmup", 2*time.Second, "load before each measured run, not counted")
	flag.IntVar(&o.clients, "clients", 32, "concurrent clients of the main scenarios and of pgbench")
	flag.IntVar(&o.overload, "overload", 500, "clients of the overload scenario")
	flag.IntVar(&o.pool, "pool", 20, "hris's pool size (HRIS_DB_MAX_CONNS)")
	flag.IntVar(&o.probeRate, "probe-rate", 200, "/health/detailed probes per second while the list is under load")
	flag.IntVar(&o.employees, "employees", 10000, "employees to seed")
	flag.StringVar(&o.hris, "hris", "bin/hris", "the hris binary (built when missing)")
	flag.StringVar(&o.only, "only", "", "comma-separated scenarios to run (list,gzip,search,pool,health,overload,probe,pgbench,gobench); default all")
	flag.BoolVar(&o.goBench, "gobench", true, "run the Go micro-benchmarks too")
	flag.StringVar(&o.results, "results", "bench/results", "directory for the JSON results")
	flag.StringVar(&o.label, "label", "", "a note stored with the results (what this run measures)")
	flag.StringVar(&o.search, "q", "garcia", "the search of the search scenario")
	flag.BoolVar(&o.keep, "keep", false, "keep the temporary directory (PostgreSQL and hris logs)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// Results is one run, as written to bench/results/*.json.
type Results struct {
	Started   time.Time          `json:"started"`
	Label     string             `json:"label,omitempty"`
	Machine   Machine            `json:"machine"`
	Settings  Settings           `json:"settings"`
	Scenarios []Scenario         `json:"scenarios"`
	Pgbench   []PgbenchRun       `json:"pgbench"`
	Ratios    map[string]float64 `json:"ratios"`
	GoBench   []GoBenchmark      `json:"go_benchmarks"`
	Took      string             `json:"took"`
}

// Machine is what the figures were measured on.
type Machine struct {
	Cores      int     `json:"cores"`
	CPU        string  `json:"cpu"`
	MemoryGiB  float64 `json:"memory_gib"`
	Kernel     string  `json:"kernel"`
	GoVersion  string  `json:"go_version"`
	PostgreSQL string  `json:"postgresql"`
	Wrk        string  `json:"wrk"`
	Pgbench    string  `json:"pgbench"`
	Commit     string  `json:"commit"`
}

// Settings are the knobs of the run.
type Settings struct {
	Employees  int     `json:"employees"`
	Clients    int     `json:"clients"`
	Overload   int     `json:"overload_clients"`
	PoolSize   int     `json:"pool_size"`
	DurationS  float64 `json:"duration_s"`
	WarmupS    float64 `json:"warmup_s"`
	ProbeRate  int     `json:"probe_rate"`
	Search     string  `json:"search"`
	PGOptions  string  `json:"pgoptions"`
	ListSQL    string  `json:"list_page_statements"`
	SearchSQL  string  `json:"search_page_statements"`
	ListScript string  `json:"list_page_pgbench_script"`
}

// Scenario is one wrk run against a fresh hris process.
type Scenario struct {
	Name       string           `json:"name"`
	Path       string           `json:"path"`
	Clients    int              `json:"clients"`
	Rate       float64          `json:"requests_per_s"`
	P50MS      float64          `json:"p50_ms"`
	P99MS      float64          `json:"p99_ms"`
	MaxMS      float64          `json:"max_ms"`
	Requests   int64            `json:"requests"`
	BytesPer   int64            `json:"bytes_per_response"`
	Non2xx     int64            `json:"non_2xx"`
	SocketErrs int64            `json:"socket_errors"`
	Codes      map[string]int64 `json:"codes"`
	PeakRSSMB  float64          `json:"peak_rss_mib"`
	CPU        CPUSplit         `json:"cpu"`
	Probe      *probeResult     `json:"probe,omitempty"`
}

// CPUSplit is the CPU time of each party over the measured run, as
// microseconds per request and as cores busy.
type CPUSplit struct {
	AppUS      float64 `json:"app_us_per_req"`
	PostgresUS float64 `json:"postgres_us_per_req"`
	LoadUS     float64 `json:"load_generator_us_per_req"`
	AppCores   float64 `json:"app_cores"`
	PGCores    float64 `json:"postgres_cores"`
	LoadCores  float64 `json:"load_generator_cores"`
	// OtherCores is what everything else on the machine used meanwhile
	// (other people's tests, say): figures taken next to a busy machine
	// are not comparable.
	OtherCores float64 `json:"other_cores"`
}

// PgbenchRun is pgbench on one page's SQL.
type PgbenchRun struct {
	Name       string   `json:"name"`
	Clients    int      `json:"clients"`
	TPS        float64  `json:"tps"`
	P50MS      float64  `json:"p50_ms"`
	P99MS      float64  `json:"p99_ms"`
	Failed     int64    `json:"failed"`
	Statements int      `json:"statements"`
	RoundTrips int      `json:"round_trips"`
	CPU        CPUSplit `json:"cpu"`
}

// GoBenchmark is one `go test -bench` line.
type GoBenchmark struct {
	Name     string  `json:"name"`
	NsPerOp  float64 `json:"ns_per_op"`
	BPerOp   float64 `json:"bytes_per_op"`
	AllocsOp float64 `json:"allocs_per_op"`
}

// bench holds the running parts.
type bench struct {
	o       options
	dir     string
	pg      *pglocal.Server
	dbURL   string
	hrisBin string
	cookie  string
	params  pageParams
	wrkLua  string
	logFile *os.File
	pgbench string
	pgopts  string
}

const (
	adminEmail    = "bench@example.com"
	adminPassword = "bench password, long enough"
)

func (o options) want(name string) bool {
	if o.only == "" {
		return name != "gobench" || o.goBench
	}
	for _, s := range strings.Split(o.only, ",") {
		if strings.TrimSpace(s) == name {
			return true
		}
	}
	return false
}

func run(ctx context.Context, o options) error {
	began := time.Now()
	if _, err := os.Stat("go.mod"); err != nil {
		return errors.New("run from the repository root (make bench)")
	}
	for _, tool := range []string{"wrk"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s not found: install it (Debian: apt-get install %s)", tool, tool)
		}
	}
	b := &bench{o: o}
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

	// The database: private, throwaway, with pg_stat_statements loaded for
	// the check of the pgbench script (tracking is off during the runs).
	step := stepper(began)
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
	admin, err := pgx.Connect(ctx, b.pg.URL("postgres"))
	if err != nil {
		return err
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE hris"); err != nil {
		return err
	}
	admin.Close(ctx)
	b.dbURL = b.pg.URL("hris")
	step("PostgreSQL started")

	if err := b.hrisCmd(ctx, "", "migrate"); err != nil {
		return err
	}
	if err := b.hrisCmd(ctx, "", "seed", "--employees", strconv.Itoa(o.employees)); err != nil {
		return err
	}
	if err := b.hrisCmd(ctx, adminPassword+"\n", "user", "create", "--email", adminEmail, "--name", "Bench Admin", "--role", "admin"); err != nil {
		return err
	}
	step(fmt.Sprintf("migrated, seeded %d employees, admin created", o.employees))

	conn, err := pgx.Connect(ctx, b.dbURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"); err != nil {
		return err
	}
	// Fresh rows have no statistics until autovacuum comes by (up to a
	// minute later): without them the planner seq-scans the search (10x
	// slower) and results would depend on when autovacuum ran.
	if _, err := conn.Exec(ctx, "VACUUM ANALYZE"); err != nil {
		return err
	}
	var res Results
	res.Started = began.UTC()
	res.Label = o.label
	res.Machine = machine(ctx, conn, b.pgbench)
	res.Ratios = map[string]float64{}

	// The same session settings as the app's main pool, for pgbench.
	cfg := db.DefaultConfig()
	cfg.URL = b.dbURL
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

	// Log in once; the session lives in the database, so every fresh hris
	// process accepts the cookie.
	app, err := b.startHris(ctx)
	if err != nil {
		return err
	}
	if err := b.login(app.base); err != nil {
		app.stop()
		return err
	}
	if err := conn.QueryRow(ctx, "SELECT token FROM sessions ORDER BY expiry DESC LIMIT 1").Scan(&b.params.Token); err != nil {
		app.stop()
		return fmt.Errorf("session row: %w", err)
	}
	queries, err := loadQueries("db")
	if err != nil {
		app.stop()
		return err
	}
	listParams := b.params
	searchParams := b.params
	searchParams.Search = likeEscape(o.search)
	listScript, err := buildScript(queries, listPageStatements(listParams))
	if err != nil {
		app.stop()
		return err
	}
	searchScript, err := buildScript(queries, listPageStatements(searchParams))
	if err != nil {
		app.stop()
		return err
	}
	searchPath := "/employees?q=" + url.QueryEscape(o.search)
	if err := b.checkStatements(ctx, conn, app.base, "/employees", listScript.Names); err != nil {
		app.stop()
		return err
	}
	if err := b.checkStatements(ctx, conn, app.base, searchPath, searchScript.Names); err != nil {
		app.stop()
		return err
	}
	app.stop()
	if _, err := conn.Exec(ctx, "ALTER SYSTEM SET pg_stat_statements.track = 'none'"); err != nil {
		return err
	}
	if _, err := conn.Exec(ctx, "SELECT pg_reload_conf()"); err != nil {
		return err
	}
	step("logged in; pgbench scripts match what the pages send (pg_stat_statements)")

	res.Settings = Settings{
		Employees: o.employees, Clients: o.clients, Overload: o.overload, PoolSize: o.pool,
		DurationS: o.duration.Seconds(), WarmupS: o.warmup.Seconds(), ProbeRate: o.probeRate,
		Search: o.search, PGOptions: b.pgopts,
		ListSQL:    statementList(listPageStatements(listParams)),
		SearchSQL:  statementList(listPageStatements(searchParams)),
		ListScript: listScript.Script,
	}

	type scen struct {
		key, name, path string
		clients         int
		probe           bool
		header          string
	}
	gzip := "Accept-Encoding: gzip"
	scens := []scen{
		{"list", "GET /employees", "/employees", o.clients, false, ""},
		{"search", "GET " + searchPath, searchPath, o.clients, false, ""},
		{"gzip", "GET /employees, gzip (as browsers ask)", "/employees", o.clients, false, gzip},
		{"pool", "GET /ops/pool", "/ops/pool", o.clients, false, ""},
		{"health", "GET /health/detailed", "/health/detailed", o.clients, false, ""},
		{"overload", fmt.Sprintf("GET /employees, pool %d", o.pool), "/employees", o.overload, false, ""},
		{"probe", "GET /employees + probes", "/employees", o.clients, true, ""},
	}
	// The list and the search are each measured between the two halves of
	// the pgbench run on their SQL, so that the ratio compares runs taken
	// side by side: this machine's speed drifts by tens of percent over a
	// couple of minutes.
	pgPages := map[string]struct {
		name  string
		stmts []stmt
		ps    pageScript
	}{
		"list":   {"list page SQL", listPageStatements(listParams), listScript},
		"search": {"search page SQL", listPageStatements(searchParams), searchScript},
	}
	first, second := o.duration/2, o.duration-o.duration/2
	for _, s := range scens {
		pg, bracketed := pgPages[s.key]
		bracketed = bracketed && o.want("pgbench")
		var pieces []pgbenchPiece
		if bracketed {
			p, err := b.pgbenchPiece(ctx, pg.name, pg.ps, o.clients, first, true)
			if err != nil {
				return err
			}
			pieces = append(pieces, p)
		}
		if o.want(s.key) {
			sc, err := b.scenario(ctx, s.path, s.clients, s.probe, s.header)
			if err != nil {
				return fmt.Errorf("%s: %w", s.key, err)
			}
			sc.Name = s.name
			res.Scenarios = append(res.Scenarios, sc)
			step(fmt.Sprintf("%-8s %7.0f req/s  p99 %6.2f ms", s.key, sc.Rate, sc.P99MS))
		}
		if bracketed {
			d := second
			if !o.want(s.key) {
				d = o.duration - first
			}
			p, err := b.pgbenchPiece(ctx, pg.name, pg.ps, o.clients, d, false)
			if err != nil {
				return err
			}
			r := mergePieces(pg.name, o.clients, append(pieces, p))
			r.Statements, r.RoundTrips = statementCount(pg.stmts), roundTrips(pg.stmts)
			res.Pgbench = append(res.Pgbench, r)
			step(fmt.Sprintf("pgbench %s %7.0f tps", pg.name, r.TPS))
		}
	}
	ratio := func(key, scenName, pgName string) {
		var rate, tps float64
		for _, s := range res.Scenarios {
			if s.Name == scenName && s.Clients == o.clients {
				rate = s.Rate
			}
		}
		for _, p := range res.Pgbench {
			if p.Name == pgName {
				tps = p.TPS
			}
		}
		if rate > 0 && tps > 0 {
			res.Ratios[key] = rate / tps
		}
	}
	ratio("list", "GET /employees", "list page SQL")
	ratio("search", "GET "+searchPath, "search page SQL")

	if o.want("gobench") {
		gb, err := goBenchmarks(ctx)
		if err != nil {
			return err
		}
		res.GoBench = gb
		step("Go benchmarks")
	}
	res.Took = time.Since(began).Round(time.Second).String()
	printTable(os.Stdout, res)
	return writeResults(o.results, res)
}

func stepper(began time.Time) func(string) {
	return func(msg string) {
		fmt.Fprintf(os.Stderr, "[%5.1fs] %s\n", time.Since(began).Seconds(), msg)
	}
}

// hrisEnv is the environment of every hris command: the caller's, minus
// anything that would configure hris differently.
func (b *bench) hrisEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "HRIS_") || strings.HasPrefix(kv, "DATABASE_URL=") {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "DATABASE_URL="+b.dbURL, "HRIS_COOKIE_SECURE=false",
		"HRIS_DB_MAX_CONNS="+strconv.Itoa(b.o.pool), "HRIS_POOL_LOG_INTERVAL=0s")
	return append(env, extra...)
}

func (b *bench) hrisCmd(ctx context.Context, stdin string, args ...string) error {
	cmd := exec.CommandContext(ctx, b.hrisBin, args...)
	cmd.Dir = b.dir // no stray .env
	cmd.Env = b.hrisEnv()
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
func (b *bench) startHris(ctx context.Context) (*hrisProc, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.Command(b.hrisBin, "serve")
	cmd.Dir = b.dir
	cmd.Env = b.hrisEnv("HRIS_ADDR=" + addr)
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

// login posts the login form and keeps the session cookie.
func (b *bench) login(base string) error {
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.PostForm(base+"/login", url.Values{"email": {adminEmail}, "password": {adminPassword}})
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		return fmt.Errorf("login: status %d", resp.StatusCode)
	}
	for _, c := range resp.Cookies() {
		if c.Name == "hris_session" {
			b.cookie = c.Name + "=" + c.Value
		}
	}
	if b.cookie == "" {
		return errors.New("login: no session cookie")
	}
	return nil
}

func (b *bench) get(base, path string) (int, string, error) {
	req, _ := http.NewRequest(http.MethodGet, base+path, nil)
	req.Header.Set("Cookie", b.cookie)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

// checkStatements loads path a number of times with statement tracking on
// and compares what PostgreSQL executed with the declared statements.
func (b *bench) checkStatements(ctx context.Context, conn *pgx.Conn, base, path string, names []string) error {
	// A first load settles the session (a pending flash is consumed and
	// written back) and the statement cache.
	if code, body, err := b.get(base, path); err != nil || code != http.StatusOK || !strings.Contains(body, "<table") {
		return fmt.Errorf("GET %s: status %d, err %v: not the list page", path, code, err)
	}
	if _, err := conn.Exec(ctx, "SELECT pg_stat_statements_reset()"); err != nil {
		return err
	}
	const loads = 40
	for range loads {
		if code, _, err := b.get(base, path); err != nil || code != http.StatusOK {
			return fmt.Errorf("GET %s: status %d, err %v", path, code, err)
		}
	}
	got, err := statementCounts(ctx, conn, loads)
	if err != nil {
		return err
	}
	return compareStatements(names, got, loads)
}

// scenario runs wrk on path against a fresh hris process.
func (b *bench) scenario(ctx context.Context, path string, clients int, withProbe bool, header string) (Scenario, error) {
	sc := Scenario{Path: path, Clients: clients}
	app, err := b.startHris(ctx)
	if err != nil {
		return sc, err
	}
	defer app.stop()
	headers := []string{"Cookie: " + b.cookie}
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
	// session). The server also counts requests whose client left when
	// wrk stopped (logged as 500/503 that nobody received): those are
	// kept in Codes only.
	sc.Codes = codeDiff(before, after)
	sc.Non2xx = w.Status
	for code, n := range sc.Codes {
		if code < "200" || (code >= "300" && code < "400") {
			sc.Non2xx += n
		}
	}
	if sc.PeakRSSMB, err = peakRSS(app.pid()); err != nil {
		return sc, err
	}
	sc.Rate, sc.Requests = w.rate(), w.Requests
	sc.P50MS, sc.P99MS, sc.MaxMS = w.P50US/1000, w.P99US/1000, w.MaxUS/1000
	sc.SocketErrs = w.socketErrors()
	if w.Requests > 0 {
		sc.BytesPer = w.Bytes / w.Requests
	}
	load := w.CPU + (self1 - self0)
	sc.CPU = split(appCPU1-appCPU0, pgCPU1-pgCPU0, load, w.Requests, time.Duration(w.DurationUS)*time.Microsecond)
	sc.CPU.OtherCores = others(busy1-busy0, appCPU1-appCPU0+pgCPU1-pgCPU0+load, time.Duration(w.DurationUS)*time.Microsecond)
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
func (b *bench) pgbenchPiece(ctx context.Context, name string, ps pageScript, clients int, d time.Duration, warm bool) (pgbenchPiece, error) {
	var p pgbenchPiece
	file := strings.ReplaceAll(name, " ", "-")
	if warm && b.o.warmup > 0 {
		if _, err := runPgbench(ctx, b.pgbench, b.dir, file, ps.Script, ps.Defs, b.pgopts, b.dbURL, clients, max(b.o.warmup, time.Second), false); err != nil {
			return p, err
		}
	}
	pg0, busy0, start := serverCPU(b.pg.PID()), machineBusy(), time.Now()
	res, err := runPgbench(ctx, b.pgbench, b.dir, file, ps.Script, ps.Defs, b.pgopts, b.dbURL, clients, max(d, time.Second), true)
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

var (
	benchLine   = regexp.MustCompile(`^(Benchmark\S+?)(-\d+)?\s+\d+\s+([0-9.]+) ns/op`)
	benchBytes  = regexp.MustCompile(`\s([0-9.]+) B/op`)
	benchAllocs = regexp.MustCompile(`\s([0-9.]+) allocs/op`)
)

// goBenchmarks runs the micro-benchmarks of the packages they belong to.
func goBenchmarks(ctx context.Context) ([]GoBenchmark, error) {
	cmd := exec.CommandContext(ctx, "go", "test", "-run", "^$",
		"-bench", "^Benchmark(EmployeeListRender|LoadUser|SamplerRecord)$", "-benchmem", "-count", "1",
		"./views/pages", "./web", "./db")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("go test -bench: %w\n%s", err, out)
	}
	var res []GoBenchmark
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		m := benchLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		g := GoBenchmark{Name: m[1]}
		g.NsPerOp, _ = strconv.ParseFloat(m[3], 64)
		if m := benchBytes.FindStringSubmatch(sc.Text()); m != nil {
			g.BPerOp, _ = strconv.ParseFloat(m[1], 64)
		}
		if m := benchAllocs.FindStringSubmatch(sc.Text()); m != nil {
			g.AllocsOp, _ = strconv.ParseFloat(m[1], 64)
		}
		res = append(res, g)
	}
	return res, nil
}

func machine(ctx context.Context, conn *pgx.Conn, pgbench string) Machine {
	m := Machine{Cores: runtime.NumCPU(), GoVersion: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				m.CPU = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb float64
		fmt.Sscanf(strings.SplitN(string(b), "\n", 2)[0], "MemTotal: %f kB", &kb)
		m.MemoryGiB = kb / (1 << 20)
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if out, err := exec.CommandContext(ctx, "go", "env", "GOVERSION").Output(); err == nil {
		m.GoVersion = strings.TrimSpace(string(out))
	}
	_ = conn.QueryRow(ctx, "SHOW server_version").Scan(&m.PostgreSQL)
	// wrk --version prints its usage too and exits 1.
	out, _ := exec.CommandContext(ctx, "wrk", "--version").CombinedOutput()
	m.Wrk = strings.TrimSpace(strings.SplitN(strings.SplitN(string(out), "\n", 2)[0], "Copyright", 2)[0])
	if out, err := exec.CommandContext(ctx, pgbench, "--version").Output(); err == nil {
		m.Pgbench = strings.TrimSpace(string(out))
	}
	if out, err := exec.CommandContext(ctx, "git", "rev-parse", "--short", "HEAD").Output(); err == nil {
		m.Commit = strings.TrimSpace(string(out))
		if st, err := exec.CommandContext(ctx, "git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(st) > 0 {
			m.Commit += "-dirty"
		}
	}
	return m
}

// likeEscape is the app's escaping of a search for ILIKE (web/employees.go).
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

func writeResults(dir string, res Results) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	name := filepath.Join(dir, res.Started.Format("2006-01-02T15-04-05Z")+".json")
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(name, append(b, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Printf("\nresults: %s\n", name)
	return nil
}

func printTable(w io.Writer, res Results) {
	m, s := res.Machine, res.Settings
	fmt.Fprintf(w, "\nhris bench  %s  commit %s", res.Started.Format(time.RFC3339), m.Commit)
	if res.Label != "" {
		fmt.Fprintf(w, "  (%s)", res.Label)
	}
	fmt.Fprintf(w, "\n%d cores (%s), %.0f GiB, %s, PostgreSQL %s, %s, %s\n", m.Cores, m.CPU, m.MemoryGiB, m.GoVersion, m.PostgreSQL, m.Wrk, m.Pgbench)
	fmt.Fprintf(w, "%d employees, pool %d; every run %.0f s after a %.0f s warm-up (short runs: compare like with like), fresh hris per scenario, wrk -t2;\n",
		s.Employees, s.PoolSize, s.DurationS, s.WarmupS)
	fmt.Fprintf(w, "pgbench -M prepared -j 2 runs in two halves around the wrk run of its page; the prober runs in this process, on the same cores\n")
	fmt.Fprintf(w, "CPU: microseconds of CPU per request spent by hris / PostgreSQL / the load generator (wrk or pgbench);\n")
	fmt.Fprintf(w, "others: cores used meanwhile by other processes on the machine (figures beside a busy machine are not comparable)\n\n")
	// Names are padded here so that they stay left-aligned in a table
	// whose figures are right-aligned.
	width := len("scenario")
	for _, sc := range res.Scenarios {
		width = max(width, len(sc.Name))
	}
	for _, p := range res.Pgbench {
		width = max(width, len(pgbenchName(p)))
	}
	pad := func(s string) string { return fmt.Sprintf("%-*s", width, s) }
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, pad("scenario")+"\tclients\treq/s\tp50 ms\tp99 ms\terrors\tpeak RSS MiB\tKiB/resp\tCPU µs hris/pg/load\tothers\t")
	for _, sc := range res.Scenarios {
		errs := sc.Non2xx + sc.SocketErrs
		fmt.Fprintf(tw, "%s\t%d\t%.0f\t%.2f\t%.2f\t%d\t%.1f\t%.1f\t%.0f / %.0f / %.0f\t%.2f\t\n", pad(sc.Name), sc.Clients, sc.Rate, sc.P50MS, sc.P99MS,
			errs, sc.PeakRSSMB, float64(sc.BytesPer)/1024, sc.CPU.AppUS, sc.CPU.PostgresUS, sc.CPU.LoadUS, sc.CPU.OtherCores)
		if sc.Probe != nil {
			p := sc.Probe
			fmt.Fprintf(tw, "%s\t\t%.0f\t%.2f\t%.2f\t%d\t\t\t\t\t\n", pad(fmt.Sprintf("  GET /health/detailed at %.0f/s alongside", p.Rate)), p.Rate, p.P50MS, p.P99MS, p.Errors)
		}
	}
	for _, p := range res.Pgbench {
		fmt.Fprintf(tw, "%s\t%d\t%.0f\t%.2f\t%.2f\t%d\t\t\t- / %.0f / %.0f\t%.2f\t\n", pad(pgbenchName(p)), p.Clients, p.TPS, p.P50MS, p.P99MS, p.Failed,
			p.CPU.PostgresUS, p.CPU.LoadUS, p.CPU.OtherCores)
	}
	tw.Flush()
	if len(res.Ratios) > 0 {
		fmt.Fprintln(w)
	}
	for _, k := range []string{"list", "search"} {
		if r, ok := res.Ratios[k]; ok {
			fmt.Fprintf(w, "%s page rate / pgbench rate of its SQL at %d clients: %.2f\n", k, s.Clients, r)
		}
	}
	fmt.Fprintf(w, "list page SQL: %s\n", s.ListSQL)
	if s.PGOptions != "" {
		fmt.Fprintf(w, "pgbench session settings (as the app's pool): %s\n", s.PGOptions)
	}
	if len(res.GoBench) > 0 {
		fmt.Fprintln(w, "\nGo benchmarks (go test -bench):")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		for _, g := range res.GoBench {
			fmt.Fprintf(tw, "%s\t%.0f ns/op\t%.0f B/op\t%.0f allocs/op\t\n", g.Name, g.NsPerOp, g.BPerOp, g.AllocsOp)
		}
		tw.Flush()
	}
	fmt.Fprintf(w, "\ntook %s\n", res.Took)
}

func pgbenchName(p PgbenchRun) string {
	return fmt.Sprintf("pgbench: %s (%d statements, %d round trips)", p.Name, p.Statements, p.RoundTrips)
}
