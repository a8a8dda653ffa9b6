package db

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
)

// ListBatch sends the queries of a list page to PostgreSQL in one round
// trip: a pgx.Batch, which pgx writes as one pipeline ending in a single
// Sync, and which PostgreSQL therefore runs as one implicit transaction.
//
// It begins with UseCustomPlans, so every query after it is planned for
// its actual parameter values: the list queries' optional filters fold
// away only then, and only then can a search use the trigram index (see
// queries/employees.sql). (Left to itself, the plan cache plans these
// queries anew on every call anyway: their generic plans cost more.) The
// setting is local to the batch's transaction, so the session lookup and
// everything else on the connection keep the plan cache's cheaper generic
// plans; and it costs no round trip of its own.
//
// Queue queries with the methods named after them, then send the batch
// with Queries.SendListBatch; the results land where the queueing call
// said. The SQL is sqlc's (the generated constants); the arguments are
// passed in the generated methods' order, which TestListBatchMatchesQueries
// checks.
type ListBatch struct {
	b pgx.Batch
}

// NewListBatch starts a batch planned for its parameter values.
func NewListBatch() *ListBatch {
	lb := &ListBatch{}
	lb.b.Queue(useCustomPlans)
	return lb
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

// CountEmployees queues the size of the filtered list into total.
func (lb *ListBatch) CountEmployees(arg CountEmployeesParams, total *int64) {
	lb.b.Queue(countEmployees, arg.Search, arg.DepartmentID, arg.Status).QueryRow(func(row pgx.Row) error {
		return row.Scan(total)
	})
}

// CountMatchesUpTo queues a search's match count, capped at arg.UpTo, into total.
func (lb *ListBatch) CountMatchesUpTo(arg CountMatchesUpToParams, total *int64) {
	lb.b.Queue(countMatchesUpTo, arg.Search, arg.DepartmentID, arg.Status, arg.UpTo).QueryRow(func(row pgx.Row) error {
		return row.Scan(total)
	})
}

// ListEmployeesByName queues a page in name order into rows.
func (lb *ListBatch) ListEmployeesByName(arg ListEmployeesByNameParams, rows *[]ListEmployeesByNameRow) {
	lb.b.Queue(listEmployeesByName, arg.AfterLastName, arg.AfterFirstName, arg.AfterID,
		arg.Search, arg.DepartmentID, arg.Status, arg.PageSize).Query(scanEmployeeRows(rows))
}

// ListEmployeesByHireDate queues a page in hire-date order into rows.
func (lb *ListBatch) ListEmployeesByHireDate(arg ListEmployeesByHireDateParams, rows *[]ListEmployeesByNameRow) {
	lb.b.Queue(listEmployeesByHireDate, arg.AfterHireDate, arg.AfterID,
		arg.Search, arg.DepartmentID, arg.Status, arg.PageSize).Query(scanEmployeeRows(rows))
}

// SearchEmployeesByName queues a page of a narrow search in name order.
func (lb *ListBatch) SearchEmployeesByName(arg SearchEmployeesByNameParams, rows *[]ListEmployeesByNameRow) {
	lb.b.Queue(searchEmployeesByName, arg.PageSize, arg.Search, arg.AfterLastName, arg.AfterFirstName,
		arg.AfterID, arg.DepartmentID, arg.Status).Query(scanEmployeeRows(rows))
}

// SearchEmployeesByHireDate queues a page of a narrow search in hire-date order.
func (lb *ListBatch) SearchEmployeesByHireDate(arg SearchEmployeesByHireDateParams, rows *[]ListEmployeesByNameRow) {
	lb.b.Queue(searchEmployeesByHireDate, arg.PageSize, arg.Search, arg.AfterHireDate,
		arg.AfterID, arg.DepartmentID, arg.Status).Query(scanEmployeeRows(rows))
}

// DepartmentOptions queues the department choices of the filter form.
func (lb *ListBatch) DepartmentOptions(rows *[]DepartmentOptionsRow) {
	lb.b.Queue(departmentOptions).Query(func(r pgx.Rows) error {
		items := []DepartmentOptionsRow{}
		for r.Next() {
			var i DepartmentOptionsRow
			if err := r.Scan(&i.ID, &i.Name); err != nil {
				return err
			}
			items = append(items, i)
		}
		*rows = items
		return r.Err()
	})
}

// scanEmployeeRows reads any of the four list queries, which return the
// same columns.
func scanEmployeeRows(dst *[]ListEmployeesByNameRow) func(pgx.Rows) error {
	return func(rows pgx.Rows) error {
		items := []ListEmployeesByNameRow{}
		for rows.Next() {
			var i ListEmployeesByNameRow
			if err := rows.Scan(&i.ID, &i.FirstName, &i.LastName, &i.Email, &i.JobTitle,
				&i.HireDate, &i.Status, &i.DepartmentID, &i.DepartmentName); err != nil {
				return err
			}
			items = append(items, i)
		}
		*dst = items
		return rows.Err()
	}
}
