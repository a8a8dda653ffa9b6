package db

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Limits bound every statement of one transaction on the server: how long
// a statement may wait for a lock, and how long it may run. A dashboard
// query that meets a table locked by a migration gives up after Lock
// instead of queueing behind it (and holding the next locker up too).
//
// They are sent as SET LOCAL in the transaction's first round trip, so
// they hold behind PgBouncer in transaction mode and end with the
// transaction: nothing is left on a pooled connection.
type Limits struct {
	Lock      time.Duration
	Statement time.Duration
}

// begin is the transaction's first round trip: BEGIN and the settings, in
// one simple-protocol message.
func (l Limits) begin(readOnly bool) string {
	var b strings.Builder
	b.WriteString("BEGIN")
	if readOnly {
		b.WriteString(" READ ONLY")
	}
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

// ReadLimited is Read in a read-only transaction whose statements are
// bounded by lim (a lock wait past lim.Lock fails with SQLSTATE 55P03).
func (d *DB) ReadLimited(ctx context.Context, lim Limits, fn Query) error {
	sql := lim.begin(true)
	return d.do(ctx, opRead, func(ctx context.Context) error {
		return d.withConn(ctx, func(ctx context.Context, c *pgxpool.Conn) error {
			return InTx(ctx, limitedBeginner{c, sql}, fn)
		})
	})
}

// InTxLimited is InTx with every statement bounded by lim: background
// writers (the history capture) use it so that a locked table costs them
// a skipped round, never a stuck one.
func (d *DB) InTxLimited(ctx context.Context, lim Limits, fn Query) error {
	sql := lim.begin(false)
	return d.do(ctx, opTx, func(ctx context.Context) error {
		return d.withConn(ctx, func(ctx context.Context, c *pgxpool.Conn) error {
			return InTx(ctx, limitedBeginner{c, sql}, fn)
		})
	})
}
