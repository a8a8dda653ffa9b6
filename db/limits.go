package db

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Limits bound every statement of one transaction on the server: how long
// a statement may wait for a lock, and how long it may run. A dashboard
// query that meets a table locked by a migration gives up after Lock
// instead of queueing behind it (and holding the next locker up too).
//
// They are local to a transaction (SET LOCAL, set_config(..., true)), so
// they hold behind PgBouncer in transaction mode and end with the
// transaction: nothing is left on a pooled connection.
type Limits struct {
	Lock      time.Duration
	Statement time.Duration
}

// begin is a transaction's first round trip: BEGIN and the settings, in
// one simple-protocol message.
func (l Limits) begin() string {
	var b strings.Builder
	b.WriteString("BEGIN")
	if l.Lock > 0 {
		fmt.Fprintf(&b, "; SET LOCAL lock_timeout = %d", l.Lock.Milliseconds())
	}
	if l.Statement > 0 {
		fmt.Fprintf(&b, "; SET LOCAL statement_timeout = %d", l.Statement.Milliseconds())
	}
	return b.String()
}

// limitedBeginner begins transactions with Limits, for InTx.
type limitedBeginner struct {
	c   *pgxpool.Conn
	sql string
}

func (b limitedBeginner) Begin(ctx context.Context) (pgx.Tx, error) {
	return b.c.BeginTx(ctx, pgx.TxOptions{BeginQuery: b.sql})
}

// ReadLimited is Read with every statement bounded by lim (a lock wait
// past lim.Lock fails with SQLSTATE 55P03). Each statement goes out in
// one round trip with its settings ahead of it, as a batch (pgx sends it
// with a single Sync, so PostgreSQL runs it as one implicit transaction):
// no BEGIN and COMMIT of its own, so a dashboard read is never seen "idle
// in transaction", and nothing is left on the connection afterwards.
//
// In the cache_statement and cache_describe modes a statement new to the
// connection is prepared first, in a round trip of its own that the limits
// do not cover yet; parsing locks only the tables the statement names (the
// dashboard's name catalogs and hris's own tables), and the ops pool sends
// the limits as startup parameters too (Config.LockTimeout).
func (d *DB) ReadLimited(ctx context.Context, lim Limits, fn Query) error {
	return d.do(ctx, opRead, func(ctx context.Context) error {
		return d.withConn(ctx, func(ctx context.Context, c *pgxpool.Conn) error {
			return fn(ctx, New(limitedConn{c: c, lim: lim}))
		})
	})
}

// setLimits is the statement sent ahead of each limited one.
const setLimits = "SELECT set_config('lock_timeout', $1, true), set_config('statement_timeout', $2, true)"

// limitedConn is the DBTX of a limited read: every statement is a batch
// of setLimits and itself.
type limitedConn struct {
	c   *pgxpool.Conn
	lim Limits
}

func (l limitedConn) send(ctx context.Context, sql string, args []any) (pgx.BatchResults, error) {
	b := &pgx.Batch{}
	b.Queue(setLimits, strconv.FormatInt(l.lim.Lock.Milliseconds(), 10), strconv.FormatInt(l.lim.Statement.Milliseconds(), 10))
	b.Queue(sql, args...)
	br := l.c.SendBatch(ctx, b)
	if _, err := br.Exec(); err != nil {
		br.Close()
		return nil, err
	}
	return br, nil
}

func (l limitedConn) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	br, err := l.send(ctx, sql, args)
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	tag, err := br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return tag, err
}

func (l limitedConn) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	br, err := l.send(ctx, sql, args)
	if err != nil {
		return nil, err
	}
	rows, err := br.Query()
	if err != nil {
		br.Close()
		return nil, err
	}
	return batchRows{Rows: rows, br: br}, nil
}

func (l limitedConn) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	rows, err := l.Query(ctx, sql, args...)
	return batchRow{rows: rows, err: err}
}

// batchRows closes the batch with the rows.
type batchRows struct {
	pgx.Rows
	br pgx.BatchResults
}

func (r batchRows) Close() {
	r.Rows.Close()
	r.br.Close()
}

// batchRow is QueryRow's row: the first row, or pgx.ErrNoRows.
type batchRow struct {
	rows pgx.Rows
	err  error
}

func (r batchRow) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	defer r.rows.Close()
	if !r.rows.Next() {
		if err := r.rows.Err(); err != nil {
			return err
		}
		return pgx.ErrNoRows
	}
	if err := r.rows.Scan(dest...); err != nil {
		return err
	}
	r.rows.Close()
	return r.rows.Err()
}

// InTxLimited is InTx with every statement bounded by lim: background
// writers (the history capture) use it so that a locked table costs them
// a skipped round, never a stuck one.
func (d *DB) InTxLimited(ctx context.Context, lim Limits, fn Query) error {
	sql := lim.begin()
	return d.do(ctx, opTx, func(ctx context.Context) error {
		return d.withConn(ctx, func(ctx context.Context, c *pgxpool.Conn) error {
			return InTx(ctx, limitedBeginner{c, sql}, fn)
		})
	})
}
