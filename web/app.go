// Package web is the HTTP side of hris: one App whose methods are the
// handlers, the middleware around them, and the mapping of errors to pages.
// routes.go lists every URL.
package web

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alexedwards/scs/v2"

	"hris/account"
	"hris/db"
)

// Config holds the web settings (see cmd/hris/config.go for their variables).
type Config struct {
	CookieSecure       bool
	SessionIdleTimeout time.Duration
	SessionLifetime    time.Duration
	LongQueryThreshold time.Duration
	PoolLogInterval    time.Duration
	MetricsToken       string
	InstanceID         string
	Version            string
	// TrustedProxies may set X-Forwarded-For (HRIS_TRUSTED_PROXIES).
	TrustedProxies []netip.Prefix
	// PgBouncerPoolSize, when set, is the number of server connections
	// PgBouncer may open; the fleet view checks the instances against it.
	PgBouncerPoolSize int32
	// LeaveAnnualDays is the annual leave allowance of an employee whose
	// allowance HR did not set (HRIS_LEAVE_ANNUAL_DAYS); 0 means
	// DefaultLeaveAnnualDays.
	LeaveAnnualDays int32
	// Calendar counts the working days of leave; nil means Weekdays.
	Calendar Calendar
	// QueryStatsInterval is how often pg_stat_statements is snapshotted
	// (HRIS_QUERY_STATS_INTERVAL); zero takes no snapshots.
	QueryStatsInterval time.Duration
	// HistoryRetention is how long history is kept (HRIS_HISTORY_RETENTION,
	// 168h when zero).
	HistoryRetention time.Duration
	// HistoryStep is the resolution of the pool and server history: a
	// minute when zero (tests shorten it).
	HistoryStep time.Duration
	// SlowQueryMean and SlowQueryCalls flag a statement as slow on
	// /ops/queries: PgHero's rule, a mean of 20 ms or more over at least
	// 100 calls, when zero.
	SlowQueryMean  time.Duration
	SlowQueryCalls int64
	// Alerts are the alert rules' settings (HRIS_ALERT_*).
	Alerts AlertConfig
}

// withDefaults fills in the settings whose zero value means "the default".
func (c Config) withDefaults() Config {
	if c.HistoryRetention <= 0 {
		c.HistoryRetention = 7 * 24 * time.Hour
	}
	if c.HistoryStep <= 0 {
		c.HistoryStep = time.Minute
	}
	if c.SlowQueryMean <= 0 {
		c.SlowQueryMean = 20 * time.Millisecond
	}
	if c.SlowQueryCalls <= 0 {
		c.SlowQueryCalls = 100
	}
	if c.LeaveAnnualDays <= 0 {
		c.LeaveAnnualDays = DefaultLeaveAnnualDays
	}
	if c.Calendar == nil {
		c.Calendar = Weekdays{}
	}
	c.Alerts = c.Alerts.withDefaults()
	return c
}

// App holds the dependencies every handler needs.
type App struct {
	cfg      Config
	db       *db.DB // the main pool: every page's work
	opsDB    *db.DB // a tiny pool for health and ops queries, so they work when the main pool is saturated
	log      *slog.Logger
	sessions *scs.SessionManager
	health   *healthChecker
	metrics  *metrics
	sampler  *db.Sampler
	ops      *opsDashboard // the /ops panels' cached readings
	history  *history      // the capture of pool, server and query history
	alerts   *alerts       // the alert rules' state and notifications

	// unavailable counts requests answered 503 (database unavailable),
	// for the pool history.
	unavailable atomic.Int64

	// shuttingDown turns /readyz to 503 so load balancers stop sending new
	// requests while in-flight ones finish.
	shuttingDown atomic.Bool
	// dummyHash is checked against when the email is unknown, so that an
	// unknown email takes as long as a wrong password.
	dummyHash string
}

// New wires an App. database is the main pool; opsDB the small one for
// health checks and the ops dashboard (it may be the same DB in tests).
func New(cfg Config, database, opsDB *db.DB, log *slog.Logger) *App {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opsDB == nil {
		opsDB = database
	}
	cfg = cfg.withDefaults()
	a := &App{cfg: cfg, db: database, opsDB: opsDB, log: log}
	a.sessions = newSessionManager(cfg, database)
	a.sessions.ErrorFunc = a.sessionError
	a.sampler = db.NewSampler(database.Pool, time.Second, 15*time.Minute)
	a.health = newHealthChecker(database, opsDB, log)
	a.ops = newOpsDashboard(opsDB)
	a.history = newHistory(a)
	a.alerts = newAlerts(a)
	a.metrics = newMetrics(a)
	a.dummyHash, _ = account.HashPassword("not a real password, only something to compare against")
	return a
}

// Run starts the background work (pool sampling, heartbeats, history,
// alerts, session cleanup, pool log lines) and returns when ctx ends.
//
// Run returns only when all of it has stopped (the heartbeat's last write
// included), so the caller may close the pools afterwards.
func (a *App) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, loop := range []func(context.Context){
		a.sampler.Run,
		a.heartbeat,
		a.recordPoolHistory,
		a.captureHistory,
		a.watchFailover,
		a.evaluateAlerts,
		a.deliverAlerts,
		a.watchInstance,
		a.sendLocal,
		func(ctx context.Context) { db.NewSessionStore(a.db).Cleanup(ctx, 5*time.Minute) },
		func(ctx context.Context) {
			if a.cfg.PoolLogInterval > 0 {
				a.logPool(ctx, a.cfg.PoolLogInterval)
			}
		},
	} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			loop(ctx)
		}()
	}
	wg.Wait()
}

// StartShutdown marks the app as draining: /readyz answers 503 from now on.
func (a *App) StartShutdown() { a.shuttingDown.Store(true) }

// logPool writes one structured line of pool figures every interval, so
// pool trouble is visible in plain logs without the dashboard.
func (a *App) logPool(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s := a.db.Pool.Stat()
		a.log.Info("pool",
			"total", s.TotalConns(), "acquired", s.AcquiredConns(), "idle", s.IdleConns(),
			"constructing", s.ConstructingConns(), "max", s.MaxConns(),
			"acquire_count", s.AcquireCount(), "acquire_ms", s.AcquireDuration().Milliseconds(),
			"empty_acquire_count", s.EmptyAcquireCount(), "empty_acquire_wait_ms", s.EmptyAcquireWaitTime().Milliseconds(),
			"canceled_acquire_count", s.CanceledAcquireCount(), "new_conns", s.NewConnsCount(),
			"lifetime_destroys", s.MaxLifetimeDestroyCount(), "idle_destroys", s.MaxIdleDestroyCount(),
			"retries", a.db.Retries.Total())
	}
}

// Handler returns the HTTP handler with every route and middleware.
func (a *App) Handler() http.Handler { return a.routes() }
