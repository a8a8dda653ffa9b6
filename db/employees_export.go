package db

import "context"

// EachExportEmployee runs the ExportEmployees query and calls fn with each
// row as it arrives from the server, so a large export is streamed instead
// of held in memory (the generated ExportEmployees collects every row). It
// stops at the first error fn returns.
func (q *Queries) EachExportEmployee(ctx context.Context, arg ExportEmployeesParams, fn func(ExportEmployeesRow) error) error {
	var rec recorder // the generated method's arguments, in its order
	_, _ = New(&rec).ExportEmployees(ctx, arg)
	rows, err := q.db.Query(ctx, rec.sql, rec.args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var i ExportEmployeesRow
		if err := rows.Scan(
			&i.ID,
			&i.FirstName,
			&i.LastName,
			&i.Email,
			&i.JobTitle,
			&i.DepartmentName,
			&i.ManagerID,
			&i.HireDate,
			&i.Status,
			&i.TerminationDate,
			&i.CreatedAt,
			&i.UpdatedAt,
		); err != nil {
			return err
		}
		if err := fn(i); err != nil {
			return err
		}
	}
	return rows.Err()
}
