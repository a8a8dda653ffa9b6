// Measuring: every page at every size in turn (wrk between the halves of
// pgbench), the CSV export, and the extra scenarios of the first size.

package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

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
	if len(states) > 0 {
		if err := b.settle(ctx, states[0].conn); err != nil {
			return nil, err
		}
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

// settle waits for a quiet server before the measuring starts: the seeds
// leave gigabytes of dirty buffers to the checkpointer and fresh tables to
// autovacuum, which would otherwise run during the first pages measured
// (and counted as PostgreSQL's CPU per request).
func (b *bench) settle(ctx context.Context, conn *pgx.Conn) error {
	start := time.Now()
	if _, err := conn.Exec(ctx, "CHECKPOINT"); err != nil {
		return err
	}
	checkpointed := time.Since(start)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var workers int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'").Scan(&workers); err != nil {
			return err
		}
		if workers == 0 || time.Now().After(deadline) {
			b.step(fmt.Sprintf("server settled: checkpoint in %s, %d autovacuum workers after %s", checkpointed.Round(100*time.Millisecond),
				workers, time.Since(start).Round(100*time.Millisecond)))
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// sizeState is one size ready to measure: its pages' scripts, checked
// against what its hris serve sends, and that process, logged in.
type sizeState struct {
	sr      *sizeRun
	conn    *pgx.Conn
	pages   []benchPage
	scripts map[string]pageScript
	rows    map[string]int // rows each page shows
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
	st := &sizeState{sr: sr, conn: conn, scripts: map[string]pageScript{}, rows: map[string]int{}}
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
			stmts, page, err := traced.steadyLoad(p.Path)
			if err != nil {
				return err
			}
			if st.scripts[p.Key], err = buildScript(ctx, conn, stmts); err != nil {
				return fmt.Errorf("%s: %w", p.Key, err)
			}
			st.rows[p.Key] = rowsShown(page)
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
		Sequence: strings.Join(ps.Names, ", "), Rows: st.rows[p.Key]}
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
