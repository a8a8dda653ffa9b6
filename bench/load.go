package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// wrkScript prints wrk's summary as one JSON line; it defines no request
// or response callback, so wrk runs at full speed.
const wrkScript = `
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"p999_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
    latency.max, latency.mean))
end
`

// wrkResult is wrk's summary of one run.
type wrkResult struct {
	Requests   int64   `json:"requests"`
	DurationUS int64   `json:"duration_us"`
	Bytes      int64   `json:"bytes"`
	Connect    int64   `json:"connect"`
	Read       int64   `json:"read"`
	Write      int64   `json:"write"`
	Status     int64   `json:"status"`
	Timeout    int64   `json:"timeout"`
	P50US      float64 `json:"p50_us"`
	P90US      float64 `json:"p90_us"`
	P99US      float64 `json:"p99_us"`
	P999US     float64 `json:"p999_us"`
	MaxUS      float64 `json:"max_us"`
	MeanUS     float64 `json:"mean_us"`
	// CPU is the user+system time wrk used.
	CPU time.Duration `json:"-"`
}

func (w wrkResult) socketErrors() int64 { return w.Connect + w.Read + w.Write + w.Timeout }

func (w wrkResult) rate() float64 {
	if w.DurationUS == 0 {
		return 0
	}
	return float64(w.Requests) / (float64(w.DurationUS) / 1e6)
}

// runWrk runs wrk against url with the given connections for d.
func runWrk(ctx context.Context, scriptPath, url string, conns int, d time.Duration, headers []string) (wrkResult, error) {
	threads := min(2, conns)
	args := []string{"-t", strconv.Itoa(threads), "-c", strconv.Itoa(conns), "-d", fmt.Sprintf("%ds", int(d.Seconds())),
		"--timeout", "10s", "--latency", "-s", scriptPath}
	for _, h := range headers {
		args = append(args, "-H", h)
	}
	args = append(args, url)
	cmd := exec.CommandContext(ctx, "wrk", args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return wrkResult{}, fmt.Errorf("wrk: %w: %s%s", err, errb.String(), out.String())
	}
	var res wrkResult
	for _, line := range strings.Split(out.String(), "\n") {
		if j, ok := strings.CutPrefix(line, "BENCHJSON "); ok {
			if err := json.Unmarshal([]byte(j), &res); err != nil {
				return res, fmt.Errorf("wrk: parse %q: %w", j, err)
			}
			res.CPU = rusageCPU(cmd.ProcessState)
			return res, nil
		}
	}
	return res, fmt.Errorf("wrk printed no summary:\n%s%s", out.String(), errb.String())
}

func rusageCPU(ps *os.ProcessState) time.Duration {
	if ps == nil {
		return 0
	}
	return ps.UserTime() + ps.SystemTime()
}

// probeResult is the fixed-rate prober's view of one endpoint.
type probeResult struct {
	Sent   int     `json:"sent"`
	Errors int     `json:"errors"`
	P50MS  float64 `json:"p50_ms"`
	P99MS  float64 `json:"p99_ms"`
	MaxMS  float64 `json:"max_ms"`
	Rate   float64 `json:"rate"`
}

// probe sends GET url at a fixed rate for d, open loop: a request starts
// on schedule however slow the previous ones are, and its latency counts
// from its scheduled start (no coordinated omission).
func probe(ctx context.Context, url string, rate int, d time.Duration) probeResult {
	client := &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 256, DisableCompression: true},
	}
	defer client.CloseIdleConnections()
	interval := time.Second / time.Duration(rate)
	var (
		mu   sync.Mutex
		lat  []time.Duration
		errs int
		wg   sync.WaitGroup
	)
	start := time.Now()
	n := int(d / interval)
	for i := range n {
		at := start.Add(time.Duration(i) * interval)
		if w := time.Until(at); w > 0 {
			select {
			case <-ctx.Done():
				n = i
			case <-time.After(w):
			}
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok := false
			resp, err := client.Get(url)
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				ok = resp.StatusCode == http.StatusOK
			}
			took := time.Since(at)
			mu.Lock()
			lat = append(lat, took)
			if !ok {
				errs++
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	res := probeResult{Sent: len(lat), Errors: errs, Rate: float64(len(lat)) / elapsed.Seconds()}
	if len(lat) > 0 {
		res.P50MS = ms(pct(lat, 50))
		res.P99MS = ms(pct(lat, 99))
		res.MaxMS = ms(lat[len(lat)-1])
	}
	return res
}

func pct(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p/100+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// clockTick is USER_HZ, the unit of /proc/PID/stat times on Linux.
const clockTick = 10 * time.Millisecond

// procCPU reads a process's user+system time, and its reaped children's
// when children is set.
func procCPU(pid int, children bool) (time.Duration, int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	// fields[0] is state (field 3); utime is field 14.
	get := func(field int) int64 {
		v, _ := strconv.ParseInt(fields[field-3], 10, 64)
		return v
	}
	ticks := get(14) + get(15)
	if children {
		ticks += get(16) + get(17)
	}
	ppid, _ := strconv.Atoi(fields[1])
	return time.Duration(ticks) * clockTick, ppid, nil
}

// machineBusy is the CPU time all cores spent outside idle and iowait
// since boot (/proc/stat).
func machineBusy() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal ...
	var ticks int64
	for i, v := range f[1:] {
		if i == 3 || i == 4 || i >= 8 { // idle, iowait; guest time is in user already
			continue
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		ticks += n
	}
	return time.Duration(ticks) * clockTick
}

// selfCPU is the bench's own CPU time (the prober runs in it).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// serverCPU is the CPU time of PostgreSQL: the postmaster, its exited
// children (reaped into its cutime) and its live ones.
func serverCPU(postmaster int) time.Duration {
	total, _, _ := procCPU(postmaster, true)
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == postmaster {
			continue
		}
		cpu, ppid, err := procCPU(pid, false)
		if err == nil && ppid == postmaster {
			total += cpu
		}
	}
	return total
}

// peakRSS is the process's high-water resident set size (VmHWM), in MiB.
func peakRSS(pid int) (float64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024, err
		}
	}
	return 0, fmt.Errorf("no VmHWM for pid %d", pid)
}

var metricLine = regexp.MustCompile(`^hris_http_request_duration_seconds_count\{([^}]*)\} (\S+)$`)
var labelPair = regexp.MustCompile(`(\w+)="([^"]*)"`)

// statusCounts scrapes /metrics: responses of route by status code.
func statusCounts(base, route string) (map[string]int64, error) {
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string]int64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		m := metricLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		labels := map[string]string{}
		for _, p := range labelPair.FindAllStringSubmatch(m[1], -1) {
			labels[p[1]] = p[2]
		}
		if labels["route"] != route {
			continue
		}
		v, _ := strconv.ParseFloat(m[2], 64)
		out[labels["code"]] += int64(v)
	}
	return out, sc.Err()
}

// codeDiff is the responses by status code between two scrapes.
func codeDiff(before, after map[string]int64) map[string]int64 {
	codes := map[string]int64{}
	for code, v := range after {
		if d := v - before[code]; d > 0 {
			codes[code] = d
		}
	}
	return codes
}

// pgbenchResult is pgbench's summary plus latency percentiles from its
// per-transaction log.
type pgbenchResult struct {
	TPS          float64 `json:"tps"`
	Transactions int64   `json:"transactions"`
	Failed       int64   `json:"failed"`
	CPU          time.Duration
	// Latencies of every transaction, when logged.
	Latencies []time.Duration
}

var (
	tpsLine    = regexp.MustCompile(`tps = ([0-9.]+) \(without initial connection time\)`)
	txLine     = regexp.MustCompile(`number of transactions actually processed: (\d+)`)
	failedLine = regexp.MustCompile(`number of failed transactions: (\d+)`)
)

// runPgbench runs pgbench with script at conns clients for d.
func runPgbench(ctx context.Context, bin, dir, name, script string, defs []string, pgoptions, dbURL string, conns int, d time.Duration, logLatency bool) (pgbenchResult, error) {
	var res pgbenchResult
	scriptPath := filepath.Join(dir, name+".sql")
	if err := os.WriteFile(scriptPath, []byte(script), 0o644); err != nil {
		return res, err
	}
	logDir := filepath.Join(dir, "pgbench-log-"+name)
	_ = os.RemoveAll(logDir)
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return res, err
	}
	args := []string{"-n", "-M", "prepared", "-c", strconv.Itoa(conns), "-j", strconv.Itoa(min(2, conns)),
		"-T", strconv.Itoa(int(d.Seconds())), "-f", scriptPath}
	if logLatency {
		args = append(args, "--log", "--log-prefix", filepath.Join(logDir, "tx"))
	}
	for _, def := range defs {
		args = append(args, "-D", def)
	}
	args = append(args, dbURL)
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "PGOPTIONS="+pgoptions)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return res, fmt.Errorf("pgbench: %w\n%s", err, out.String())
	}
	res.CPU = rusageCPU(cmd.ProcessState)
	text := out.String()
	m := tpsLine.FindStringSubmatch(text)
	if m == nil {
		return res, fmt.Errorf("pgbench printed no tps:\n%s", text)
	}
	res.TPS, _ = strconv.ParseFloat(m[1], 64)
	if m := txLine.FindStringSubmatch(text); m != nil {
		res.Transactions, _ = strconv.ParseInt(m[1], 10, 64)
	}
	if m := failedLine.FindStringSubmatch(text); m != nil {
		res.Failed, _ = strconv.ParseInt(m[1], 10, 64)
	}
	if !logLatency {
		return res, nil
	}
	// Log lines: client_id transaction_no time_us script_no epoch epoch_us.
	files, _ := filepath.Glob(filepath.Join(logDir, "tx*"))
	var lat []time.Duration
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return res, err
		}
		for _, line := range strings.Split(string(b), "\n") {
			fs := strings.Fields(line)
			if len(fs) < 3 {
				continue
			}
			us, err := strconv.ParseInt(fs[2], 10, 64)
			if err == nil {
				lat = append(lat, time.Duration(us)*time.Microsecond)
			}
		}
	}
	res.Latencies = lat
	_ = os.RemoveAll(logDir)
	return res, nil
}

// killOnExit makes sure a child started by the bench does not outlive it.
func killOnExit(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}

// runPgbenchCount runs the page's script exactly n times on one client:
// the check that it runs, and sends what it should.
func runPgbenchCount(ctx context.Context, bin, dir, name string, ps pageScript, dbURL string, n int) error {
	scriptPath := filepath.Join(dir, name+".sql")
	if err := os.WriteFile(scriptPath, []byte(ps.Script), 0o644); err != nil {
		return err
	}
	args := []string{"-n", "-M", "prepared", "-c", "1", "-t", strconv.Itoa(n), "-f", scriptPath}
	for _, def := range ps.Defs {
		args = append(args, "-D", def)
	}
	out, err := exec.CommandContext(ctx, bin, append(args, dbURL)...).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "number of failed transactions: 0") {
		return fmt.Errorf("pgbench: %v\n%s\nscript:\n%s", err, out, ps.Script)
	}
	return nil
}
