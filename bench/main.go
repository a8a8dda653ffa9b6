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
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
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
			"shared_buffers":           "1GB",
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
