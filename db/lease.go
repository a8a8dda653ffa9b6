package db

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Lease is a named, expiring claim in the leases table, for work that one
// instance of the fleet should do at a time: whoever holds the lease does
// it, and renews the lease each round; when the holder stops renewing (it
// crashed, froze or lost the database) the lease expires and the next
// instance to try takes it over.
//
// A lease is a row, taken and renewed with one statement (committed
// without waiting for a synchronous standby: see ShortTx), not a session
// advisory lock: it holds through PgBouncer in transaction mode, where a
// session is not ours from one transaction to the next. Its clock is the
// database's, so instances whose clocks disagree still agree on it.
//
// A lease is not a fence by itself: a holder that stalls past the TTL may
// still act once after another has taken over. Work done under a lease
// must therefore be idempotent on its own (the history snapshots key each
// interval, so a second taker finds it done), or check the lease inside
// its own transaction with Fence (the alerts do).
type Lease struct {
	db     *DB
	name   string
	holder string
	ttl    time.Duration
	token  uuid.UUID
}

// NewLease returns this process's handle on the lease name; holder is
// what people see as the holder (HRIS_INSTANCE_ID). Two handles are two
// contenders, even with one holder name.
func NewLease(d *DB, name, holder string, ttl time.Duration) *Lease {
	return &Lease{db: d, name: name, holder: holder, ttl: ttl, token: uuid.New()}
}

// Name is the lease's name.
func (l *Lease) Name() string { return l.name }

// TTL is how long one Acquire holds the lease.
func (l *Lease) TTL() time.Duration { return l.ttl }

// Acquire takes the lease if it is free or has expired, or renews it if
// this handle holds it, for another TTL from now; it reports whether this
// handle holds the lease now.
func (l *Lease) Acquire(ctx context.Context) (bool, error) {
	held := false
	// Retrying is safe: a second try by the same token only renews.
	err := l.db.InTxIdempotent(ctx, func(ctx context.Context, q *Queries) error {
		if err := q.ShortTx(ctx); err != nil {
			return err
		}
		_, err := q.AcquireLease(ctx, AcquireLeaseParams{
			Name: l.name, Holder: l.holder, Token: l.token, TtlSeconds: l.ttl.Seconds(),
		})
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			held = false
			return nil
		case err != nil:
			return err
		}
		held = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("lease %s: %w", l.name, err)
	}
	return held, nil
}

// ErrLeaseLost says a fenced transaction found the lease held by another
// process, or expired.
var ErrLeaseLost = errors.New("lease not held")

// Fence checks, inside the caller's transaction, that this handle holds
// the lease, and keeps it from being taken over until that transaction
// ends; it returns ErrLeaseLost otherwise. A holder that stalled past its
// TTL then writes nothing, however stale its view.
func (l *Lease) Fence(ctx context.Context, q *Queries) error {
	_, err := q.LeaseFence(ctx, LeaseFenceParams{Name: l.name, Token: l.token})
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("lease %s: %w", l.name, ErrLeaseLost)
	}
	if err != nil {
		return fmt.Errorf("lease %s: fence: %w", l.name, err)
	}
	return nil
}

// Release gives the lease up now if this handle holds it, so another
// instance takes over on its next try instead of after the TTL.
func (l *Lease) Release(ctx context.Context) error {
	err := l.db.InTx(ctx, func(ctx context.Context, q *Queries) error {
		if err := q.ShortTx(ctx); err != nil {
			return err
		}
		_, err := q.ReleaseLease(ctx, ReleaseLeaseParams{Name: l.name, Token: l.token})
		return err
	})
	if err != nil {
		return fmt.Errorf("lease %s: release: %w", l.name, err)
	}
	return nil
}
