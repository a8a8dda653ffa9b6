package db

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DB is the application's handle on PostgreSQL: one pgxpool plus the rules
// for using it (acquire budget, statement deadline, safe retries). Handlers
// reach the database through Read (retried reads), InTx and InTxIdempotent
// (transactions, retried where safe) and Once (no retry, for work a retry
// would repeat outside the database); Pool itself is for what manages the
// pool (stats, health, tests) and the seed's bulk load.
type DB struct {
	Pool     *pgxpool.Pool
	Backends *Backends
	Retries  RetryCounters
	cfg      Config
	log      *slog.Logger
	retry    RetryPolicy

	// suspectUntil (unix nanoseconds) is set when a connection was found
	// broken: until then every connection is pinged before use, so a burst
	// of dead connections (server restart, pg_terminate_backend) is weeded
	// out by the pool instead of failing queries.
	suspectUntil atomic.Int64
	// pingTimeout bounds the ping of a connection before it is handed out.
	pingTimeout time.Duration
	// hosts is what the process knows of DATABASE_URL's hosts (failover).
	hosts *HostSet
}

// Open builds the pool (lazily connecting) and returns the DB. Call Verify
// before serving to fail fast with a clear message.
func Open(ctx context.Context, cfg Config, log *slog.Logger) (*DB, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := &DB{cfg: cfg, log: log, retry: DefaultRetryPolicy()}
	pc, err := PoolConfig(cfg)
	if err != nil {
		return nil, err
	}
	d.Backends = &Backends{pids: map[uint32]struct{}{}}
	d.pingTimeout = pc.PingTimeout
	d.hosts = hostSetFor(&pc.ConnConfig.Config)
	d.hosts.setProbe(&pc.ConnConfig.Config, d.noteHost)
	pc.BeforeConnect = func(_ context.Context, cc *pgx.ConnConfig) error {
		d.hosts.prepareConnect(&cc.Config, d.noteHost)
		return nil
	}
	pc.AfterConnect = func(_ context.Context, c *pgx.Conn) error {
		d.Backends.add(c.PgConn().PID())
		return nil
	}
	pc.BeforeClose = func(c *pgx.Conn) {
		d.Backends.remove(c.PgConn().PID())
		// A connection broken on a host that is given up would wait 15 s
		// for a cancel and a goodbye the host never acknowledges, holding
		// its pool slot (with two slots, the ops pool is then stuck).
		if h := holderOf(c); h != nil && c.IsClosed() && (h.stale() || d.hosts.isDown(h.Host())) {
			h.sever()
		}
	}
	// The pool's own ping cannot say why it failed; prepareConn pings
	// instead and tells a hung host (no answer in time) from a dead socket.
	pc.ShouldPing = func(context.Context, pgxpool.ShouldPingParams) bool { return false }
	pc.PrepareConn = d.prepareConn
	d.Pool, err = pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, err
	}
	return d, nil
}

// Config returns the settings the pool was built with.
func (d *DB) Config() Config { return d.cfg }

// Close closes every connection; it waits for acquired ones to be released.
func (d *DB) Close() { d.Pool.Close() }

// Hosts is what the process knows of the database hosts this DB uses.
func (d *DB) Hosts() *HostSet { return d.hosts }

// noteHost logs what the host tracker learnt, once per change.
func (d *DB) noteHost(ev hostEvent) { logHostEvent(d.log, ev) }

func logHostEvent(log *slog.Logger, ev hostEvent) {
	if log == nil {
		return
	}
	switch {
	case ev.Probing:
		log.Info("database primary is slow to answer: asking the other hosts whether one was promoted", "primary", ev.Host)
	case ev.Primary:
		log.Warn("database primary changed", "from", ev.Previous, "to", ev.Host, "sockets_closed_to_old", ev.Severed)
	case ev.Important && ev.NewState == HostDown:
		log.Warn("database host given up", "host", ev.Host, "reason", ev.Reason, "sockets_closed", ev.Severed, "recheck_after", hostRecheck.String())
	case ev.Important && ev.NewState == HostMismatch:
		log.Warn("database primary is read-only now", "host", ev.Host)
	case ev.NewState == HostOK && ev.OldState == HostDown:
		log.Info("database host answers again", "host", ev.Host)
	}
}

// prepareConn decides whether an idle connection may be handed out: not
// if its host turned bad since it was made (a primary that moved, a host
// that stopped answering), and not if it fails a ping when it sat idle or
// connections were seen breaking. A ping with no answer in time marks its
// host down, which matters with several hosts (see hosts.go).
func (d *DB) prepareConn(ctx context.Context, c *pgx.Conn) (bool, error) {
	h := holderOf(c)
	if h != nil && h.stale() {
		return false, nil
	}
	idle := time.Hour // not known: ping
	if h != nil {
		idle = time.Duration(time.Now().UnixNano() - h.lastUsed.Load())
	}
	if idle <= time.Second && time.Now().UnixNano() >= d.suspectUntil.Load() {
		return true, nil
	}
	start := time.Now()
	pctx, cancel := context.WithTimeout(ctx, d.pingTimeout)
	stop := d.hosts.watchPing(h.Host())
	err := c.Ping(pctx)
	stop()
	cancel()
	if err == nil {
		return true, nil
	}
	// A deadline, ours or the caller's, after a fair wait is no answer; a
	// caller that left (canceled), or whose time was nearly spent before
	// the ping, says nothing about the server.
	if h != nil && errors.Is(pctx.Err(), context.DeadlineExceeded) && time.Since(start) >= d.pingTimeout/2 {
		d.noteHost(d.hosts.markDown(h.Host(), reasonNoAnswer))
	}
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	return false, nil
}

// release returns c to the pool, noting when it was last used.
func release(c *pgxpool.Conn) {
	if h := holderOf(c.Conn()); h != nil {
		h.lastUsed.Store(time.Now().UnixNano())
	}
	c.Release()
}

// afterError learns from a failed query on c: a read-only server (SQLSTATE
// 25006: a demoted primary, or a standby behind a proxy) is not the
// primary, and the connection is closed rather than reused; a statement
// whose client-side deadline passed (the server did not even send its own
// statement_timeout error) means the host is not answering.
func (d *DB) afterError(caller, stmt context.Context, c *pgxpool.Conn, err error) {
	h := holderOf(c.Conn())
	switch {
	case SQLState(err) == "25006":
		if h != nil {
			d.noteHost(d.hosts.markMismatch(h.Host()))
		}
		cctx, cancel := context.WithTimeout(context.WithoutCancel(caller), time.Second)
		_ = c.Conn().Close(cctx)
		cancel()
	case h != nil && caller.Err() == nil && errors.Is(stmt.Err(), context.DeadlineExceeded):
		// Only our own deadline says the server is silent: the caller's
		// ending (a closed browser tab, a short budget) says nothing.
		d.noteHost(d.hosts.markDown(h.Host(), reasonNoAnswer))
	}
}

// markSuspect asks the pool to ping connections for the next few seconds.
func (d *DB) markSuspect() {
	d.suspectUntil.Store(time.Now().Add(3 * time.Second).UnixNano())
}

// Query is a unit of database work run on one connection.
type Query func(ctx context.Context, q *Queries) error

// Read runs fn on a pooled connection, retrying it when the failure is safe
// to retry for a read: the query never reached the server, the connection
// broke, or the server reported a serialization failure or deadlock. fn
// must not have effects outside the database that a retry would repeat.
func (d *DB) Read(ctx context.Context, fn Query) error {
	return d.do(ctx, opRead, func(ctx context.Context) error {
		return d.withConn(ctx, func(ctx context.Context, c *pgxpool.Conn) error {
			return fn(ctx, New(c))
		})
	})
}

// Once runs fn on a pooled connection exactly once, without retrying: for
// work a retry would repeat outside the database — rows already streamed
// to the client, a signal already sent to a backend.
func (d *DB) Once(ctx context.Context, fn Query) error {
	err := d.withConn(ctx, func(ctx context.Context, c *pgxpool.Conn) error {
		return fn(ctx, New(c))
	})
	if err != nil && isConnectionLost(err) {
		d.markSuspect()
	}
	return markUnavailable(err)
}

// withConn acquires a connection within the acquire budget and runs fn with
// a context bounded by the statement timeout. The server enforces
// statement_timeout itself; the client-side deadline covers a server that
// does not answer at all.
func (d *DB) withConn(ctx context.Context, fn func(context.Context, *pgxpool.Conn) error) error {
	c, err := d.acquire(ctx)
	if err != nil {
		return err
	}
	defer release(c)
	sctx := ctx
	if d.cfg.StatementTimeout > 0 {
		var cancel context.CancelFunc
		sctx, cancel = context.WithTimeout(ctx, d.cfg.StatementTimeout+statementGrace)
		defer cancel()
	}
	err = fn(sctx, c)
	if err != nil {
		d.afterError(ctx, sctx, c, err)
	}
	return err
}

// statementGrace lets the server's own statement_timeout fire (with a clear
// SQLSTATE 57014) before the client gives up on a silent server.
const statementGrace = 500 * time.Millisecond

// acquire takes a connection from the pool, waiting at most the acquire
// budget; running out of it is ErrPoolTimeout.
func (d *DB) acquire(ctx context.Context) (*pgxpool.Conn, error) {
	actx := ctx
	if d.cfg.AcquireTimeout > 0 {
		var cancel context.CancelFunc
		actx, cancel = context.WithTimeout(ctx, d.cfg.AcquireTimeout)
		defer cancel()
	}
	c, err := d.Pool.Acquire(actx)
	if err == nil {
		return c, nil
	}
	if ctx.Err() != nil {
		return nil, ctx.Err() // the caller gave up, not the pool
	}
	if actx.Err() != nil {
		return nil, fmt.Errorf("%w (after %s): %w", ErrPoolTimeout, d.cfg.AcquireTimeout, err)
	}
	return nil, err
}

// Ping checks that a connection can be acquired and answers, within
// timeout; it reports how long the round trip took.
func (d *DB) Ping(ctx context.Context, timeout time.Duration) (time.Duration, error) {
	p := d.PingHost(ctx, timeout)
	return p.RTT, p.Err
}

// PingResult is a ping's answer and the host that gave it.
type PingResult struct {
	RTT  time.Duration
	Host string // host:port of the URL the connection was made to; "" if none was acquired
	Err  error
}

// PingHost is Ping that also says which host answered. A ping that gets no
// answer in time marks its host down: the health check must not keep
// pinging a hung server through a connection it cannot use.
func (d *DB) PingHost(parent context.Context, timeout time.Duration) PingResult {
	ctx, cancel := context.WithTimeout(parent, timeout)
	defer cancel()
	start := time.Now()
	c, err := d.Pool.Acquire(ctx)
	if err != nil {
		return PingResult{RTT: time.Since(start), Err: markUnavailable(err)}
	}
	defer release(c)
	h := holderOf(c.Conn())
	pingStart := time.Now()
	stop := d.hosts.watchPing(h.Host())
	err = c.Ping(ctx)
	stop()
	if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("ping: no answer within %s: %w", timeout, context.DeadlineExceeded)
		// Only after a fair wait: an acquire that used up the time says
		// nothing about this connection's server.
		if h != nil && parent.Err() == nil && time.Since(pingStart) >= d.pingTimeout/2 {
			d.noteHost(d.hosts.markDown(h.Host(), reasonNoAnswer))
		}
	}
	return PingResult{RTT: time.Since(start), Host: h.Host(), Err: markUnavailable(err)}
}
