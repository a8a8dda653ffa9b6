package db

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// InTx runs fn in a transaction that commits only when fn returns nil and
// rolls back when fn returns an error or panics (the panic is re-raised).
// There is no other way to write: no auto-commit behind a handler's back.
//
// A failure before COMMIT is sent (a broken connection, a serialization
// failure, a deadlock) rolls the whole transaction back on the server, so
// InTx runs fn again. fn must therefore do only transactional work: an
// effect outside the transaction (a signal to a backend, a message sent)
// would happen twice; use Once for that. A connection lost while COMMIT is
// in flight leaves the outcome unknown; InTx does not repeat that (see
// InTxIdempotent).
func (d *DB) InTx(ctx context.Context, fn Query) error {
	return d.do(ctx, opTx, func(ctx context.Context) error { return d.txOnce(ctx, fn) })
}

// InTxIdempotent is InTx for work that recognises its own earlier result,
// such as an insert keyed by an idempotency key: a commit whose outcome is
// unknown is retried too, because a second run finds the first one's row.
func (d *DB) InTxIdempotent(ctx context.Context, fn Query) error {
	return d.do(ctx, opIdempotentTx, func(ctx context.Context) error { return d.txOnce(ctx, fn) })
}

func (d *DB) txOnce(ctx context.Context, fn Query) error {
	return d.withConn(ctx, func(ctx context.Context, c *pgxpool.Conn) error {
		return InTx(ctx, c, fn)
	})
}

// Beginner is what InTx needs: a pool, a connection or a transaction.
type Beginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// InTx is the transaction rule on its own, without acquiring or retrying:
// commit when fn returns nil, roll back otherwise (and on a panic). DB.InTx
// and the ops pool's limited transactions run through it, on a connection
// they hold; tests use it on a pool.
func InTx(ctx context.Context, b Beginner, fn Query) (err error) {
	tx, err := b.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() {
		if p := recover(); p != nil {
			rollback(ctx, tx)
			panic(p)
		}
		if err != nil {
			rollback(ctx, tx)
		}
	}()
	if err = fn(ctx, New(tx)); err != nil {
		return err
	}
	if err = tx.Commit(ctx); err != nil {
		if !pgconn.SafeToRetry(err) && isConnectionLost(err) && !errors.Is(err, context.Canceled) {
			return errCommitUnknown{err}
		}
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// rollback ends tx with a context of its own: the caller's may be the thing
// that ended, and a hung server must not hold us here for long.
func rollback(ctx context.Context, tx pgx.Tx) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = tx.Rollback(ctx)
}
