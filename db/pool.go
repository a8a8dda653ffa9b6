package db

import (
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Config holds the database settings of the contract (HRIS_DB_*). The zero
// value is not useful: start from DefaultConfig.
type Config struct {
	URL               string
	MaxConns          int32
	MinIdleConns      int32
	AcquireTimeout    time.Duration
	StatementTimeout  time.Duration
	ConnectTimeout    time.Duration
	MaxConnLifetime   time.Duration
	MaxConnIdleTime   time.Duration
	HealthCheckPeriod time.Duration
	// IdleInTxTimeout ends sessions that sit in an open transaction, so a
	// forgotten transaction cannot hold locks and a connection for ever.
	IdleInTxTimeout time.Duration
	// LockTimeout, when set, is sent as lock_timeout: the ops pool's
	// statements never queue behind a lock for longer.
	LockTimeout time.Duration
	// ExecMode is pgx's query execution mode: cache_statement by default;
	// exec, cache_describe or simple_protocol behind PgBouncer.
	ExecMode string
	// ApplicationName is sent unless the URL names one already.
	ApplicationName string
	// Tracer, when set, sees every statement (a Recorder, in tests and the
	// bench).
	Tracer pgx.QueryTracer
}

// DefaultConfig returns the documented defaults.
func DefaultConfig() Config {
	return Config{
		MaxConns:          20,
		MinIdleConns:      2,
		AcquireTimeout:    5 * time.Second,
		StatementTimeout:  30 * time.Second,
		ConnectTimeout:    10 * time.Second,
		MaxConnLifetime:   time.Hour,
		MaxConnIdleTime:   30 * time.Minute,
		HealthCheckPeriod: time.Minute,
		IdleInTxTimeout:   time.Minute,
		ExecMode:          "cache_statement",
		ApplicationName:   "hris",
	}
}

// ExecModes maps the HRIS_DB_EXEC_MODE names to pgx's modes.
var ExecModes = map[string]pgx.QueryExecMode{
	"cache_statement": pgx.QueryExecModeCacheStatement,
	"cache_describe":  pgx.QueryExecModeCacheDescribe,
	"describe_exec":   pgx.QueryExecModeDescribeExec,
	"exec":            pgx.QueryExecModeExec,
	"simple_protocol": pgx.QueryExecModeSimpleProtocol,
}

// cancelGrace is how long a statement whose context ended may take to
// stop after the cancel request before its connection is closed: a cancel
// is answered in about a millisecond, a hung server never answers.
const cancelGrace = 100 * time.Millisecond

// PoolConfig turns c into a pgxpool configuration. It is separate from
// Open so tests can check the mapping without a server.
func PoolConfig(c Config) (*pgxpool.Config, error) {
	pc, err := pgxpool.ParseConfig(c.URL)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL: %w", err)
	}
	mode, ok := ExecModes[c.ExecMode]
	if !ok {
		return nil, fmt.Errorf("HRIS_DB_EXEC_MODE: unknown mode %q", c.ExecMode)
	}
	pc.MaxConns = c.MaxConns
	pc.MinIdleConns = min(c.MinIdleConns, c.MaxConns)
	pc.MaxConnLifetime = c.MaxConnLifetime
	// Connections made together would otherwise expire together and leave
	// the pool empty at once; spread their end over a fifth of the lifetime.
	pc.MaxConnLifetimeJitter = c.MaxConnLifetime / 5
	pc.MaxConnIdleTime = c.MaxConnIdleTime
	pc.HealthCheckPeriod = c.HealthCheckPeriod
	// pgx pings a connection that sat idle for more than a second before
	// handing it out (SQLAlchemy's pool_pre_ping); a dead server must not
	// hold the request for longer than this.
	pc.PingTimeout = min(c.ConnectTimeout, 2*time.Second)
	pc.ConnConfig.ConnectTimeout = c.ConnectTimeout
	pc.ConnConfig.DefaultQueryExecMode = mode
	pc.ConnConfig.Tracer = c.Tracer
	// A request whose client leaves mid-query (a closed tab, an htmx poll
	// replaced by the next) ends its context. pgx would then close the
	// connection, and the pool would replace it with a cold backend whose
	// catalog caches, prepared statements and generic plans are all made
	// again: under load, a burst of such replacements stalled every
	// request for up to half a second. Instead the server is asked to
	// cancel the statement and the connection is kept; only a server that
	// has not answered cancelGrace later loses it, as before.
	pc.ConnConfig.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{Conn: c, DeadlineDelay: cancelGrace}
	}
	rp := pc.ConnConfig.RuntimeParams
	if _, set := rp["application_name"]; !set && c.ApplicationName != "" {
		rp["application_name"] = c.ApplicationName
	}
	// Startup parameters, not SET commands: they hold for the whole session
	// with no extra round trip. PgBouncer cannot keep per-client settings on
	// shared server connections: behind it they are listed in
	// ignore_startup_parameters and set per role instead (see README).
	// No JIT: every statement of hris reads a page's worth of rows, and a
	// cost overestimate (a lateral join's guessed row count) would have
	// PostgreSQL spend hundreds of milliseconds compiling a query that runs
	// in five.
	rp["jit"] = "off"
	if c.StatementTimeout > 0 {
		rp["statement_timeout"] = strconv.FormatInt(c.StatementTimeout.Milliseconds(), 10)
	}
	if c.IdleInTxTimeout > 0 {
		rp["idle_in_transaction_session_timeout"] = strconv.FormatInt(c.IdleInTxTimeout.Milliseconds(), 10)
	}
	if c.LockTimeout > 0 {
		rp["lock_timeout"] = strconv.FormatInt(c.LockTimeout.Milliseconds(), 10)
	}
	return pc, nil
}

// Backends is the set of server process ids of this process's pooled
// connections, so the ops dashboard can tell the app's own sessions apart
// (and refuse to kill them by accident).
type Backends struct {
	mu   sync.Mutex
	pids map[uint32]struct{}
}

func (b *Backends) add(pid uint32) {
	b.mu.Lock()
	b.pids[pid] = struct{}{}
	b.mu.Unlock()
}

func (b *Backends) remove(pid uint32) {
	b.mu.Lock()
	delete(b.pids, pid)
	b.mu.Unlock()
}

// Has reports whether pid is one of our pooled connections.
func (b *Backends) Has(pid int32) bool {
	if b == nil {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	_, ok := b.pids[uint32(pid)]
	return ok
}
