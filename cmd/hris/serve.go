package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"hris/db"
	"hris/web"
)

func cmdServe(ctx context.Context, e env, args []string, std stdio) error {
	fs := newFlags("serve", std.err)
	migrate := fs.Bool("migrate", false, "apply pending migrations before serving")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := parseConfig(e, true)
	if err != nil {
		return err
	}
	return serve(ctx, cfg, newLogger(cfg, std.err), *migrate, nil)
}

// connect verifies that the database answers (bounded by the startup
// budget, with one actionable line on failure) and that the schema is
// current, applying migrations when asked.
func connect(ctx context.Context, cfg config, log *slog.Logger, migrate bool) error {
	if err := db.Verify(ctx, cfg.DB, cfg.StartupTimeout, log); err != nil {
		return err
	}
	if cfg.DirectURL != "" {
		if err := db.Verify(ctx, cfg.directDB(), cfg.StartupTimeout, log); err != nil {
			return fmt.Errorf("HRIS_DB_DIRECT_URL: %w", err)
		}
	}
	m, err := db.NewMigrator(cfg.directDB(), log)
	if err != nil {
		return err
	}
	defer m.Close()
	if migrate {
		n, err := m.Up(ctx)
		if err != nil {
			return err
		}
		if n > 0 {
			log.Info("migrations applied", "count", n)
		}
	}
	st, err := m.Status(ctx)
	if err != nil && !migrate {
		// An empty database has no goose table yet.
		return fmt.Errorf("database schema is missing: run `hris migrate` (or start with `hris serve --migrate`) [%v]", err)
	}
	if err != nil {
		return err
	}
	if st.Pending() {
		return fmt.Errorf("database schema is at version %d but this hris needs %d: run `hris migrate` (or start with `hris serve --migrate`)", st.Current, st.Latest)
	}
	if st.Current > st.Latest {
		log.Warn("database schema is newer than this build; a newer hris has migrated it", "schema", st.Current, "build", st.Latest)
	}
	return nil
}

// openDB is the start of every command that works on the data: the
// configuration, the logger, the database checked (reachable, schema
// current) and the pool opened. The caller closes the DB.
func openDB(ctx context.Context, e env, std stdio, opts ...func(*config)) (*db.DB, error) {
	cfg, err := parseConfig(e, true)
	if err != nil {
		return nil, err
	}
	for _, o := range opts {
		o(&cfg)
	}
	log := newLogger(cfg, std.err)
	if err := connect(ctx, cfg, log, false); err != nil {
		return nil, err
	}
	return db.Open(ctx, cfg.DB, log)
}

// withoutStatementTimeout is for batch commands (the seed) whose
// statements may rightly run for minutes.
func withoutStatementTimeout(c *config) { c.DB.StatementTimeout = 0 }

// opsConfig is the tiny second pool for health checks and the ops
// dashboard: it answers even when the main pool is saturated, and its
// short statement timeout keeps a slow catalog query from piling up.
func opsConfig(cfg config) db.Config {
	c := cfg.directDB()
	c.MaxConns = 2
	c.MinIdleConns = 1
	c.AcquireTimeout = 2 * time.Second
	// The dashboard's reads set their own 5 s and 1 s lock_timeout with
	// every statement (db.ReadLimited); as startup parameters they also
	// bound what happens before that (preparing a statement) on a direct
	// connection, and the client gives up on a silent server after 5.5 s.
	c.StatementTimeout = 5 * time.Second
	c.LockTimeout = time.Second
	c.ApplicationName = "hris-ops"
	return c
}

// serve runs the HTTP server until ctx ends, then drains it: readiness
// turns 503, in-flight requests finish (within HRIS_SHUTDOWN_TIMEOUT), the
// pools close. ready, when set, is called with the listening address.
func serve(ctx context.Context, cfg config, log *slog.Logger, migrate bool, ready func(addr string)) error {
	start := time.Now()
	if err := connect(ctx, cfg, log, migrate); err != nil {
		return err
	}
	mainDB, err := db.Open(ctx, cfg.DB, log)
	if err != nil {
		return err
	}
	defer mainDB.Close()
	opsDB, err := db.Open(ctx, opsConfig(cfg), log)
	if err != nil {
		return err
	}
	defer opsDB.Close()

	app := web.New(web.Config{
		CookieSecure:       cfg.CookieSecure,
		SessionIdleTimeout: cfg.SessionIdleTimeout,
		SessionLifetime:    cfg.SessionLifetime,
		LongQueryThreshold: cfg.LongQueryThreshold,
		PoolLogInterval:    cfg.PoolLogInterval,
		MetricsToken:       cfg.MetricsToken,
		InstanceID:         cfg.InstanceID,
		PgBouncerPoolSize:  cfg.PgBouncerPoolSize,
		LeaveAnnualDays:    cfg.LeaveAnnualDays,
		TrustedProxies:     cfg.TrustedProxies,
		QueryStatsInterval: cfg.QueryStatsInterval,
		HistoryRetention:   cfg.HistoryRetention,
		SlowQueryMean:      cfg.SlowQueryMean,
		SlowQueryCalls:     int64(cfg.SlowQueryCalls),
		Alerts: web.AlertConfig{
			WebhookURL:     cfg.Alerts.WebhookURL,
			Interval:       cfg.Alerts.Interval,
			LongQuery:      cfg.Alerts.LongQuery,
			IdleInTx:       cfg.Alerts.IdleInTx,
			Blocked:        cfg.Alerts.Blocked,
			ConnectionsPct: int(cfg.Alerts.ConnectionsPct),
		},
		Version: version,
	}, mainDB, opsDB, log)

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("HRIS_ADDR=%s: %w", cfg.Addr, err)
	}
	srv := &http.Server{
		Handler:           app.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      5 * time.Minute, // CSV exports of large lists stream for a while
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	bg, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBackground()
	backgroundDone := make(chan struct{})
	go func() {
		app.Run(bg)
		close(backgroundDone)
	}()

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	log.Info("listening", "addr", ln.Addr().String(), "instance", cfg.InstanceID, "version", version,
		"startup_ms", time.Since(start).Milliseconds(), "max_conns", cfg.DB.MaxConns, "exec_mode", cfg.DB.ExecMode)
	if ready != nil {
		ready(ln.Addr().String())
	}

	select {
	case err := <-serveErr:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: draining requests", "delay", cfg.ShutdownDelay.String(), "timeout", cfg.ShutdownTimeout.String())
	app.StartShutdown()
	// Behind a load balancer, keep serving while it notices /readyz is 503
	// and stops sending new requests here (HRIS_SHUTDOWN_DELAY).
	if cfg.ShutdownDelay > 0 {
		time.Sleep(cfg.ShutdownDelay)
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		log.Warn("requests still running after the shutdown timeout were cut off", "err", err)
		_ = srv.Close()
	}
	if err := <-serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Warn("http server", "err", err)
	}
	stopBackground()
	<-backgroundDone // the last heartbeat is written before the pools close
	opsDB.Close()
	mainDB.Close()
	log.Info("stopped", "after_ms", time.Since(start).Milliseconds())
	return nil
}
