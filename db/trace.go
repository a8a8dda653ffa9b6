package db

import (
	"context"
	"sync"

	"github.com/jackc/pgx/v5"
)

// Statement is one statement a connection sent: its SQL, its arguments as
// the caller passed them, and the batch it went in (0: on its own; batches
// are numbered from 1 in the order they were sent).
type Statement struct {
	SQL   string
	Args  []any
	Batch int
}

// Recorder is a pgx tracer that keeps the statements sent through the
// pools it is set on (Config.Tracer). The plan tests and the bench use it
// to learn exactly what a page sends: its SQL, arguments and round trips.
type Recorder struct {
	mu      sync.Mutex
	stmts   []Statement
	batches int
	inBatch bool
}

var (
	_ pgx.QueryTracer = (*Recorder)(nil)
	_ pgx.BatchTracer = (*Recorder)(nil)
)

// Take returns the statements recorded since the last Take and forgets them.
func (r *Recorder) Take() []Statement {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.stmts
	r.stmts = nil
	return out
}

func (r *Recorder) add(sql string, args []any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := Statement{SQL: sql, Args: append([]any(nil), args...)}
	if r.inBatch {
		s.Batch = r.batches
	}
	r.stmts = append(r.stmts, s)
}

// TraceQueryStart records a statement sent on its own.
func (r *Recorder) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	r.add(d.SQL, d.Args)
	return ctx
}

// TraceQueryEnd implements pgx.QueryTracer.
func (r *Recorder) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// TraceBatchStart opens a batch: the statements until its end go together.
func (r *Recorder) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	r.mu.Lock()
	r.batches++
	r.inBatch = true
	r.mu.Unlock()
	return ctx
}

// TraceBatchQuery records a statement of the open batch.
func (r *Recorder) TraceBatchQuery(_ context.Context, _ *pgx.Conn, d pgx.TraceBatchQueryData) {
	r.add(d.SQL, d.Args)
}

// TraceBatchEnd closes the batch.
func (r *Recorder) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {
	r.mu.Lock()
	r.inBatch = false
	r.mu.Unlock()
}
