package db

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// ListBatch sends the queries of a list page to PostgreSQL in one round
// trip: a pgx.Batch, which pgx writes as one pipeline ending in a single
// Sync, and which PostgreSQL therefore runs as one implicit transaction.
//
// It begins with UsePlans, local to the batch's transaction: the session
// lookup and everything else on the connection keep the plan cache's own
// choice, and the setting costs no round trip of its own.
//
// Queue the generated query methods with Queue, then send the batch with
// Queries.SendListBatch; each queued call runs again with its result.
type ListBatch struct {
	b pgx.Batch
}

// Plans is how the statements of a batch are planned: a value of
// plan_cache_mode.
type Plans string

const (
	// CustomPlans plans each statement for its parameter values, every
	// time: the list queries' optional filters fold away only then, and
	// only then do the partial indexes of a status apply (see
	// queries/employees.sql).
	CustomPlans Plans = "force_custom_plan"
	// GenericPlans runs each statement on the plan made for it once per
	// connection, whatever the values: for statements with one right plan
	// (a search's word counts, its merge in name order), whose custom
	// planning costs more than running them. The plan is made under the
	// settings in force the first time, so a statement must always be sent
	// after the same ones (MergeInOrder before SearchEmployeesByName).
	GenericPlans Plans = "force_generic_plan"
)

// NewListBatch starts a batch planned as plans says.
func NewListBatch(plans Plans) *ListBatch {
	lb := &ListBatch{}
	lb.b.Queue(usePlans, string(plans))
	return lb
}

// Queue adds the query that call makes (one sqlc-generated method) to the
// batch. call runs twice: now, against a recorder, which learns the query
// and its arguments in the generated method's own order; and when the batch
// is sent, against the query's result, which the generated method reads
// into its own row type. So the batch sends exactly what the method would
// send alone, and nothing here repeats its SQL, arguments or columns.
//
//	lb.Queue(func(q *db.Queries) (err error) { rows, err = q.ListEmployeesByName(ctx, arg); return })
func (lb *ListBatch) Queue(call func(q *Queries) error) {
	var rec recorder
	_ = call(New(&rec))
	qq := lb.b.Queue(rec.sql, rec.args...)
	if rec.exec {
		qq.Exec(func(tag pgconn.CommandTag) error { return call(New(replay{tag: tag})) })
		return
	}
	if rec.one {
		qq.QueryRow(func(row pgx.Row) error { return call(New(replay{row: row})) })
		return
	}
	qq.Query(func(rows pgx.Rows) error { return call(New(replay{rows: rows})) })
}

type batchSender interface {
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// SendListBatch sends lb and reads all its results, returning the first
// error. On a connection of its own the plan setting ends with the batch;
// inside a transaction it lasts until the transaction ends.
func (q *Queries) SendListBatch(ctx context.Context, lb *ListBatch) error {
	s, ok := q.db.(batchSender)
	if !ok {
		return errors.New("db: SendListBatch needs a connection or a transaction")
	}
	return s.SendBatch(ctx, &lb.b).Close()
}

// errRecorded stops a generated method after its query was recorded.
var errRecorded = errors.New("db: query recorded for a batch")

// recorder is a DBTX that notes the query a generated method makes.
type recorder struct {
	sql       string
	args      []any
	one, exec bool
}

func (r *recorder) Exec(_ context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	r.sql, r.args, r.exec = sql, args, true
	return pgconn.CommandTag{}, errRecorded
}

func (r *recorder) Query(_ context.Context, sql string, args ...any) (pgx.Rows, error) {
	r.sql, r.args = sql, args
	return nil, errRecorded
}

func (r *recorder) QueryRow(_ context.Context, sql string, args ...any) pgx.Row {
	r.sql, r.args, r.one = sql, args, true
	return errRow{}
}

type errRow struct{}

func (errRow) Scan(...any) error { return errRecorded }

// replay is a DBTX that hands a generated method the result the batch
// received for its query.
type replay struct {
	rows pgx.Rows
	row  pgx.Row
	tag  pgconn.CommandTag
}

func (r replay) Exec(context.Context, string, ...any) (pgconn.CommandTag, error) {
	return r.tag, nil
}

func (r replay) Query(context.Context, string, ...any) (pgx.Rows, error) {
	if r.rows == nil {
		return nil, errors.New("db: a list batch query read as a row")
	}
	return r.rows, nil
}

func (r replay) QueryRow(context.Context, string, ...any) pgx.Row {
	if r.row == nil {
		return errRow{}
	}
	return r.row
}
