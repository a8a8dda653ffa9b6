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
// reach the database only through Read, InTx and InTxIdempotent.
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
	pc.AfterConnect = func(_ context.Context, c *pgx.Conn) error {
		d.Backends.add(c.PgConn().PID())
		return nil
	}
	pc.BeforeClose = func(c *pgx.Conn) { d.Backends.remove(c.PgConn().PID()) }
	pc.ShouldPing = func(_ context.Context, p pgxpool.ShouldPingParams) bool {
		return p.IdleDuration > time.Second || time.Now().UnixNano() < d.suspectUntil.Load()
	}
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
	defer c.Release()
	if d.cfg.StatementTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d.cfg.StatementTimeout+statementGrace)
		defer cancel()
	}
	return fn(ctx, c)
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
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	c, err := d.Pool.Acquire(ctx)
	if err != nil {
		return time.Since(start), markUnavailable(err)
	}
	defer c.Release()
	err = c.Ping(ctx)
	if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("ping: no answer within %s: %w", timeout, context.DeadlineExceeded)
	}
	return time.Since(start), markUnavailable(err)
}
