package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
)

// Results is one run, as written to bench/results/*.json.
type Results struct {
	Started  time.Time     `json:"started"`
	Label    string        `json:"label,omitempty"`
	Machine  Machine       `json:"machine"`
	Settings Settings      `json:"settings"`
	Sizes    []Size        `json:"sizes"`
	GoBench  []GoBenchmark `json:"go_benchmarks"`
	Took     string        `json:"took"`
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
	Sizes            []int   `json:"employees"`
	AuditPerEmployee int     `json:"audit_per_employee"`
	Clients          int     `json:"clients"`
	Overload         int     `json:"overload_clients"`
	PoolSize         int     `json:"pool_size"`
	DurationS        float64 `json:"duration_s"`
	WarmupS          float64 `json:"warmup_s"`
	ProbeRate        int     `json:"probe_rate"`
	PGOptions        string  `json:"pgoptions"`
}

// Size is everything measured at one number of employees.
type Size struct {
	Employees    int          `json:"employees"`
	AuditEntries int          `json:"audit_entries"`
	SeedS        float64      `json:"seed_s"`
	Pages        []PageResult `json:"pages"`
	PeakRSSMB    float64      `json:"peak_rss_mib"`
	Extras       []Scenario   `json:"extras,omitempty"`
	Export       Export       `json:"export"`
}

// Export is one download of /employees.csv with every employee.
type Export struct {
	Rows      int     `json:"rows"`
	Bytes     int64   `json:"bytes"`
	Seconds   float64 `json:"seconds"`
	PeakRSSMB float64 `json:"peak_rss_mib"`
}

// PageResult is one page: one client, wrk at the bench's clients, and
// pgbench on the page's own statements at the same concurrency.
type PageResult struct {
	Key        string     `json:"key"`
	Name       string     `json:"name"`
	Path       string     `json:"path"`
	Statements int        `json:"statements"`
	RoundTrips int        `json:"round_trips"`
	Sequence   string     `json:"sequence"`
	Rows       int        `json:"rows_shown"`
	SingleMS   float64    `json:"single_client_p50_ms"`
	Load       Scenario   `json:"load"`
	Pgbench    PgbenchRun `json:"pgbench"`
}

// Scenario is one wrk run.
type Scenario struct {
	Name       string           `json:"name,omitempty"`
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
	Timeouts   int64            `json:"timeouts"`
	Codes      map[string]int64 `json:"codes"`
	PeakRSSMB  float64          `json:"peak_rss_mib,omitempty"`
	CPU        CPUSplit         `json:"cpu"`
	Probe      *probeResult     `json:"probe,omitempty"`
}

func (s Scenario) errors() int64 { return s.Non2xx + s.SocketErrs }

// CPUSplit is the CPU time of each party over the measured run, as
// microseconds per request and as cores busy.
type CPUSplit struct {
	AppUS      float64 `json:"app_us_per_req"`
	PostgresUS float64 `json:"postgres_us_per_req"`
	LoadUS     float64 `json:"load_generator_us_per_req"`
	AppCores   float64 `json:"app_cores"`
	PGCores    float64 `json:"postgres_cores"`
	LoadCores  float64 `json:"load_generator_cores"`
	// OtherCores is what everything else on the machine used meanwhile:
	// figures taken next to a busy machine are not comparable.
	OtherCores float64 `json:"other_cores"`
}

// PgbenchRun is pgbench on one page's SQL.
type PgbenchRun struct {
	Name    string   `json:"name"`
	Clients int      `json:"clients"`
	TPS     float64  `json:"tps"`
	P50MS   float64  `json:"p50_ms"`
	P99MS   float64  `json:"p99_ms"`
	Failed  int64    `json:"failed"`
	CPU     CPUSplit `json:"cpu"`
}

// GoBenchmark is one `go test -bench` line.
type GoBenchmark struct {
	Name     string  `json:"name"`
	NsPerOp  float64 `json:"ns_per_op"`
	BPerOp   float64 `json:"bytes_per_op"`
	AllocsOp float64 `json:"allocs_per_op"`
}

// printTables writes the cost curve: each page at each size, hris next to
// pgbench on its SQL, and the rate at the largest size against the first.
func printTables(w io.Writer, res Results) {
	m, s := res.Machine, res.Settings
	fmt.Fprintf(w, "\nhris bench  %s  commit %s", res.Started.Format(time.RFC3339), m.Commit)
	if res.Label != "" {
		fmt.Fprintf(w, "  (%s)", res.Label)
	}
	fmt.Fprintf(w, "\n%d cores (%s), %.0f GiB, %s, PostgreSQL %s, %s, %s\n", m.Cores, m.CPU, m.MemoryGiB, m.GoVersion, m.PostgreSQL, m.Wrk, m.Pgbench)
	fmt.Fprintf(w, "pool %d, %d clients; each page %.0f s of wrk after %.0f s of warm-up, between two halves of pgbench -M prepared on the page's own statements;\n",
		s.PoolSize, s.Clients, s.DurationS, s.WarmupS)
	fmt.Fprintf(w, "1 client: median of 30 requests one at a time; CPU: µs per request of hris / PostgreSQL; others: cores used by other processes meanwhile\n\n")
	for _, sz := range res.Sizes {
		fmt.Fprintf(w, "%d employees (seeded in %.1f s), %d audit entries, peak RSS %.0f MiB", sz.Employees, sz.SeedS, sz.AuditEntries, sz.PeakRSSMB)
		if ex := sz.Export; ex.Rows > 0 {
			fmt.Fprintf(w, "; CSV export of all of them %.1f s, %.0f MiB, peak RSS %.0f MiB", ex.Seconds, float64(ex.Bytes)/(1<<20), ex.PeakRSSMB)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "page\temployees\trows\t1 client ms\treq/s\tp50 ms\tp99 ms\terrors\tCPU µs hris/pg\tpgbench tps\tp50 ms\tp99 ms\tpage/pgbench\tothers\t")
	if len(res.Sizes) == 0 {
		return
	}
	for i, p := range res.Sizes[0].Pages {
		for _, sz := range res.Sizes {
			if i >= len(sz.Pages) {
				continue
			}
			r := sz.Pages[i]
			ratio := 0.0
			if r.Pgbench.TPS > 0 {
				ratio = r.Load.Rate / r.Pgbench.TPS
			}
			name := ""
			if sz.Employees == res.Sizes[0].Employees {
				name = p.Key
			}
			fmt.Fprintf(tw, "%s\t%d\t%d\t%.1f\t%.0f\t%.1f\t%.1f\t%d\t%.0f / %.0f\t%.0f\t%.1f\t%.1f\t%.2f\t%.2f\t\n", name, sz.Employees, r.Rows, r.SingleMS,
				r.Load.Rate, r.Load.P50MS, r.Load.P99MS, r.Load.errors(), r.Load.CPU.AppUS, r.Load.CPU.PostgresUS,
				r.Pgbench.TPS, r.Pgbench.P50MS, r.Pgbench.P99MS, ratio, r.Load.CPU.OtherCores)
		}
	}
	tw.Flush()
	if len(res.Sizes) > 1 {
		first, last := res.Sizes[0], res.Sizes[len(res.Sizes)-1]
		fmt.Fprintf(w, "\nrate at %d employees / rate at %d (target 0.8 or more):\n", last.Employees, first.Employees)
		for i, p := range first.Pages {
			if i >= len(last.Pages) || p.Load.Rate <= 0 {
				continue
			}
			l := last.Pages[i]
			fmt.Fprintf(w, "  %-12s %.2f", p.Key, l.Load.Rate/p.Load.Rate)
			if l.Rows != p.Rows {
				fmt.Fprintf(w, "  (not like for like: %d rows shown, then %d)", p.Rows, l.Rows)
			}
			fmt.Fprintln(w)
		}
	}
	fmt.Fprintln(w, "\nstatements per page (round trips):")
	for _, p := range res.Sizes[0].Pages {
		fmt.Fprintf(w, "  %-12s %s  %s (%d in %d)\n", p.Key, p.Path, p.Sequence, p.Statements, p.RoundTrips)
	}
	if ex := res.Sizes[0].Extras; len(ex) > 0 {
		fmt.Fprintf(w, "\nat %d employees:\n", res.Sizes[0].Employees)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "scenario\tclients\treq/s\tp50 ms\tp99 ms\terrors\tpeak RSS MiB\tKiB/resp\tCPU µs hris/pg\t")
		for _, sc := range ex {
			fmt.Fprintf(tw, "%s\t%d\t%.0f\t%.2f\t%.2f\t%d\t%.1f\t%.1f\t%.0f / %.0f\t\n", sc.Name, sc.Clients, sc.Rate, sc.P50MS, sc.P99MS,
				sc.errors(), sc.PeakRSSMB, float64(sc.BytesPer)/1024, sc.CPU.AppUS, sc.CPU.PostgresUS)
			if p := sc.Probe; p != nil {
				fmt.Fprintf(tw, "  GET /health/detailed at %.0f/s alongside\t\t%.0f\t%.2f\t%.2f\t%d\t\t\t\t\n", p.Rate, p.Rate, p.P50MS, p.P99MS, p.Errors)
			}
		}
		tw.Flush()
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
