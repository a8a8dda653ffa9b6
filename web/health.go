package web

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"hris/db"
)

// requiredTables must exist for the app to work.
var requiredTables = []string{"users", "sessions", "departments", "employees", "audit_log", "login_throttle", "app_instances",
	"leave_requests", "leave_allowances", "failover_events", "employee_counts", "employee_words", "leases",
	"pool_history", "server_history", "query_snapshots", "query_stats", "alerts", "alert_transitions"}

const (
	// healthCacheFor: a flood of probes costs one database round trip a second.
	healthCacheFor = time.Second
	// healthBudget bounds a check well inside the 5 s a prober waits.
	healthBudget = 3 * time.Second
	// slowPing marks the database degraded when a ping takes longer.
	slowPing = 250 * time.Millisecond
)

// Health is the /health/detailed body.
type Health struct {
	Success bool         `json:"success"`
	Status  string       `json:"status"` // healthy, degraded or unhealthy
	Checks  HealthChecks `json:"checks"`
	// CheckedAt is when the database was last asked (answers are cached ~1s).
	CheckedAt time.Time `json:"checked_at"`
	Instance  string    `json:"instance,omitempty"`
	Draining  bool      `json:"draining"`
}

// HealthChecks are the parts of the verdict.
type HealthChecks struct {
	Database   DatabaseCheck  `json:"database"`
	Tables     TablesCheck    `json:"tables"`
	Migrations MigrationCheck `json:"migrations"`
	// Pooler is the DATABASE_URL path (PgBouncer), checked when the
	// database checks above go by HRIS_DB_DIRECT_URL.
	Pooler *PoolerCheck `json:"pooler,omitempty"`
}

// PoolerCheck is a fresh connection through DATABASE_URL.
type PoolerCheck struct {
	Healthy        bool    `json:"healthy"`
	ResponseTimeMS float64 `json:"response_time_ms"`
	Error          string  `json:"error,omitempty"`
}

// DatabaseCheck is the ping and the pool figures.
type DatabaseCheck struct {
	Healthy             bool    `json:"healthy"`
	ResponseTimeMS      float64 `json:"response_time_ms"`
	PoolSize            int32   `json:"pool_size"`
	PoolCheckedOut      int32   `json:"pool_checked_out"`
	PoolIdle            int32   `json:"pool_idle"`
	PoolTotal           int32   `json:"pool_total"`
	PoolConstructing    int32   `json:"pool_constructing"`
	PoolSaturated       bool    `json:"pool_saturated"`
	EmptyAcquires       int64   `json:"empty_acquires"`
	EmptyAcquireWaitMS  float64 `json:"empty_acquire_wait_ms"`
	CanceledAcquires    int64   `json:"canceled_acquires"`
	Retries             int64   `json:"retries"`
	AcquireTimeoutMS    int64   `json:"acquire_timeout_ms"`
	StatementTimeoutMS  int64   `json:"statement_timeout_ms"`
	Error               string  `json:"error,omitempty"`
	SlowPingThresholdMS float64 `json:"slow_ping_threshold_ms"`
	// Host is the host:port (as the URL names it) that answered the ping.
	Host string `json:"host,omitempty"`
	// Primary is where hris writes, and when that last changed.
	Primary *PrimaryCheck `json:"primary,omitempty"`
}

// PrimaryCheck is the host hris writes to (the main pool's primary) and,
// with several hosts in DATABASE_URL, what hris believes about each.
type PrimaryCheck struct {
	Host      string       `json:"host"`
	Since     time.Time    `json:"since"`
	Previous  string       `json:"previous,omitempty"`
	ChangedAt *time.Time   `json:"changed_at,omitempty"`
	Hosts     []HostHealth `json:"hosts,omitempty"`
}

// HostHealth is one host of a multi-host DATABASE_URL.
type HostHealth struct {
	Host  string    `json:"host"`
	State string    `json:"state"` // ok, mismatch (wrong role), down, unknown
	Since time.Time `json:"since,omitzero"`
}

// TablesCheck lists required tables that are missing.
type TablesCheck struct {
	Healthy bool     `json:"healthy"`
	Missing []string `json:"missing"`
}

// MigrationCheck compares the schema version with this build's.
type MigrationCheck struct {
	Healthy bool   `json:"healthy"`
	Current int64  `json:"current"`
	Latest  int64  `json:"latest"`
	Error   string `json:"error,omitempty"`
}

// healthChecker runs the database part of the check at most once per
// healthCacheFor, however many probes arrive (a reading).
type healthChecker struct {
	db, ops *db.DB
	log     *slog.Logger
	verdict *reading[Health]
	// prevEmpty detects acquires that had to wait since the last check:
	// the pool was saturated in between even if it is not at this moment.
	mu        sync.Mutex
	prevEmpty int64
	havePrev  bool
}

func newHealthChecker(main, ops *db.DB, log *slog.Logger) *healthChecker {
	h := &healthChecker{db: main, ops: ops, log: log}
	h.verdict = newReading(healthCacheFor, healthBudget, func(ctx context.Context) (Health, error) { return h.run(ctx), nil })
	// A move of the primary makes the verdict stale at once, so health
	// agrees with the first write on the new primary instead of a second
	// later.
	h.verdict.epoch = h.epoch
	return h
}

// Check returns the reused verdict or makes a new one.
func (h *healthChecker) Check(ctx context.Context) Health {
	v, _, _ := h.verdict.get(ctx)
	return v
}

func (h *healthChecker) run(ctx context.Context) Health {
	cfg := h.db.Config()
	res := Health{CheckedAt: time.Now().UTC()}
	d := &res.Checks.Database
	d.SlowPingThresholdMS = float64(slowPing.Milliseconds())
	d.AcquireTimeoutMS = cfg.AcquireTimeout.Milliseconds()
	d.StatementTimeoutMS = cfg.StatementTimeout.Milliseconds()

	// Ping through the small ops pool: it answers "is the server there?"
	// even while the main pool is saturated, which is reported separately.
	ping := h.ops.PingHost(ctx, 2*time.Second)
	rtt, err := ping.RTT, ping.Err
	d.ResponseTimeMS = float64(rtt.Microseconds()) / 1000
	d.Healthy = err == nil
	d.Host = ping.Host
	if err != nil {
		d.Error = db.Reason(err)
		h.log.Warn("health: database ping failed", "err", err)
	}
	d.Primary = primaryCheck(h.db.Hosts())

	// The ops pool goes straight to PostgreSQL when HRIS_DB_DIRECT_URL is
	// set; the pages go through DATABASE_URL (PgBouncer). Check that path
	// too, with a fresh connection: a dead PgBouncer must not look healthy.
	if h.ops.Config().URL != cfg.URL {
		prtt, err := db.CheckConnect(ctx, cfg, 2*time.Second)
		p := &PoolerCheck{Healthy: err == nil, ResponseTimeMS: float64(prtt.Microseconds()) / 1000}
		if err != nil {
			p.Error = db.Reason(err)
			h.log.Warn("health: DATABASE_URL connect failed", "err", err)
		}
		res.Checks.Pooler = p
	}

	s := db.SamplePool(h.db.Pool)
	d.PoolSize, d.PoolCheckedOut, d.PoolIdle = s.Max, s.Acquired, s.Idle
	d.PoolTotal, d.PoolConstructing = s.Total, s.Constructing
	d.EmptyAcquires, d.CanceledAcquires = s.EmptyAcquireCount, s.CanceledAcquireCount
	d.EmptyAcquireWaitMS = float64(s.EmptyAcquireWait.Microseconds()) / 1000
	d.Retries = h.db.Retries.Total()
	h.mu.Lock()
	waitedSinceLast := h.havePrev && s.EmptyAcquireCount > h.prevEmpty && s.Acquired >= s.Max-1
	h.prevEmpty, h.havePrev = s.EmptyAcquireCount, true
	h.mu.Unlock()
	d.PoolSaturated = s.Acquired >= s.Max || waitedSinceLast

	res.Checks.Tables.Missing = []string{}
	res.Checks.Migrations.Latest = db.LatestVersion()
	if d.Healthy {
		missing, version, err := h.ops.SchemaStatus(ctx, requiredTables)
		if missing != nil {
			res.Checks.Tables.Missing = missing
		}
		res.Checks.Migrations.Current = version
		res.Checks.Tables.Healthy = err == nil && len(res.Checks.Tables.Missing) == 0
		res.Checks.Migrations.Healthy = err == nil && version >= res.Checks.Migrations.Latest
		if err != nil {
			res.Checks.Migrations.Error = db.Reason(err)
			h.log.Warn("health: schema check failed", "err", err)
		}
	}
	poolerDown := res.Checks.Pooler != nil && !res.Checks.Pooler.Healthy

	switch {
	case !d.Healthy || poolerDown || !res.Checks.Tables.Healthy || !res.Checks.Migrations.Healthy:
		res.Status = "unhealthy"
	case d.PoolSaturated || rtt > slowPing:
		res.Status = "degraded"
	default:
		res.Status = "healthy"
	}
	res.Success = res.Status != "unhealthy"
	return res
}

// epoch changes whenever either pool's hosts change (see db.HostSet).
func (h *healthChecker) epoch() uint64 {
	return h.db.Hosts().Epoch()<<32 + h.ops.Hosts().Epoch()
}

func primaryCheck(hosts *db.HostSet) *PrimaryCheck {
	p := hosts.Primary()
	if p.Host == "" {
		return nil
	}
	c := &PrimaryCheck{Host: p.Host, Since: p.Since.UTC(), Previous: p.Previous}
	if !p.ChangedAt.IsZero() {
		t := p.ChangedAt.UTC()
		c.ChangedAt = &t
	}
	if hosts.Multi() {
		for _, s := range hosts.Status() {
			c.Hosts = append(c.Hosts, HostHealth{Host: s.Host, State: string(s.State), Since: s.Since.UTC()})
		}
	}
	return c
}

// healthLive is liveness: the process answers. It never touches the database,
// so a database outage does not get healthy app processes restarted.
func (a *App) healthLive(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// healthReady is readiness: 503 while draining for shutdown, so load balancers
// take the instance out before it stops. It does not fail on a database
// outage: every instance shares the database, and pulling all of them out
// would turn a 503 page with advice into a connection error.
func (a *App) healthReady(w http.ResponseWriter, r *http.Request) {
	if a.shuttingDown.Load() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "draining"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// healthDetailed is the full check: 200 when healthy or degraded, 503 when
// unhealthy; always within 5 s.
func (a *App) healthDetailed(w http.ResponseWriter, r *http.Request) {
	res := a.health.Check(r.Context())
	res.Instance = a.cfg.InstanceID
	res.Draining = a.shuttingDown.Load()
	status := http.StatusOK
	if !res.Success {
		status = http.StatusServiceUnavailable
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds))
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, res)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		http.Error(w, `{"success":false}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
