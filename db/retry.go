package db

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// RetryPolicy bounds retries: at most MaxAttempts tries, with exponential
// backoff and full jitter (sleep a random time in [0, min(MaxDelay,
// BaseDelay*2^n))), and never past the caller's deadline.
type RetryPolicy struct {
	MaxAttempts int
	BaseDelay   time.Duration
	MaxDelay    time.Duration
}

// DefaultRetryPolicy gives up after five tries, about a second in all.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{MaxAttempts: 5, BaseDelay: 20 * time.Millisecond, MaxDelay: 500 * time.Millisecond}
}

type opKind int

const (
	// opRead may be repeated freely.
	opRead opKind = iota
	// opTx is a transaction whose COMMIT might have been applied even if the
	// connection broke while we waited for its answer.
	opTx
	// opIdempotentTx is a transaction that finds its own earlier result
	// (an idempotency key), so repeating an unknown commit is harmless.
	opIdempotentTx
)

func (k opKind) String() string {
	switch k {
	case opRead:
		return "read"
	case opTx:
		return "tx"
	default:
		return "idempotent_tx"
	}
}

// errCommitUnknown marks a connection lost while COMMIT was in flight.
type errCommitUnknown struct{ err error }

func (e errCommitUnknown) Error() string { return "commit outcome unknown: " + e.err.Error() }
func (e errCommitUnknown) Unwrap() error { return e.err }

// retryReason says why err may be retried for an operation of kind k, or ""
// when it must not be.
func retryReason(k opKind, err error) string {
	if errors.Is(err, ErrPoolTimeout) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return "" // the budget is spent; a retry would only overrun it
	}
	switch SQLState(err) {
	case "40001":
		return "serialization_failure"
	case "40P01":
		return "deadlock"
	case "57014":
		return "" // statement timeout: running it again takes as long
	case "25006":
		// A read-only server refused a write: a demoted primary, or a
		// standby behind a proxy. Nothing was written (the transaction is
		// rolled back) and the connection is closed; another may reach
		// the new primary.
		return "read_only"
	}
	var unknown errCommitUnknown
	if errors.As(err, &unknown) {
		if k == opIdempotentTx {
			return "commit_unknown"
		}
		return ""
	}
	if pgconn.SafeToRetry(err) {
		return "not_sent"
	}
	if isConnectionLost(err) && !pgconn.Timeout(err) {
		// A read can always be repeated. A transaction that broke before its
		// COMMIT was sent was rolled back by the server, so it can too.
		return "connection_lost"
	}
	return ""
}

// do runs attempt under the retry policy.
func (d *DB) do(ctx context.Context, k opKind, attempt func(context.Context) error) error {
	p := d.retry
	var err error
	for n := 0; ; n++ {
		err = attempt(ctx)
		if err == nil {
			return nil
		}
		reason := retryReason(k, err)
		if reason == "connection_lost" || reason == "not_sent" || reason == "commit_unknown" || reason == "read_only" {
			d.markSuspect()
		}
		if reason == "" || n+1 >= p.MaxAttempts {
			break
		}
		sleep := backoff(p, n)
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < sleep+10*time.Millisecond {
			break // the caller's deadline would pass before the next try ends
		}
		d.Retries.inc(k.String(), reason)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(sleep):
		}
	}
	err = markUnavailable(err)
	if ctx.Err() == nil && errors.Is(err, ErrUnavailable) {
		// Logged once here, with what the server said; bugs and bad input
		// are the handler's to report.
		d.log.Warn("database unavailable", "op", k.String(), "sqlstate", SQLState(err), "err", err)
	}
	return err
}

func backoff(p RetryPolicy, n int) time.Duration {
	ceiling := p.BaseDelay << n
	if ceiling > p.MaxDelay || ceiling <= 0 {
		ceiling = p.MaxDelay
	}
	return rand.N(ceiling) + time.Millisecond
}

// RetryCounters counts retries by operation and reason, for /metrics.
type RetryCounters struct {
	mu sync.Mutex
	m  map[[2]string]int64
}

func (c *RetryCounters) inc(op, reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[[2]string]int64{}
	}
	c.m[[2]string{op, reason}]++
}

// Each calls f with every (op, reason, count).
func (c *RetryCounters) Each(f func(op, reason string, n int64)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, n := range c.m {
		f(k[0], k[1], n)
	}
}

// Total is the number of retries so far.
func (c *RetryCounters) Total() int64 {
	var t int64
	c.Each(func(_, _ string, n int64) { t += n })
	return t
}
