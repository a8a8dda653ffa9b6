package web

import (
	"context"
	"encoding/csv"
	"net/http"
	"strconv"
	"time"

	"hris/db"
	"hris/views/components"
)

// exportFlushEvery is how many CSV rows are buffered before they are sent.
const exportFlushEvery = 500

// employeeExport streams the filtered employee list as CSV, row by row as
// PostgreSQL sends it: memory stays flat however long the list. It reads
// with Once because a retry would repeat rows already sent; a failure
// after the first row aborts the response, so a cut-off file cannot pass
// for a complete one.
func (a *App) employeeExport(w http.ResponseWriter, r *http.Request) {
	f := employeeFilterFrom(r.URL.Query())
	params := db.ExportEmployeesParams{DepartmentID: f.Department, Status: f.Status}
	// A search with nothing to search by shows nobody; so does the file.
	nobody := false
	if f.Q != "" {
		s, ok := newEmployeeSearch(f.Q)
		if nobody = !ok; ok {
			params.Word, params.Phrase = s.Words[0].Word, s.Phrase
		}
	}
	cw := csv.NewWriter(w)
	flusher := http.NewResponseController(w)
	started, n := false, 0
	start := func() error {
		started = true
		h := w.Header()
		h.Set("Content-Type", "text/csv; charset=utf-8")
		h.Set("Content-Disposition", `attachment; filename="employees-`+time.Now().Format("2006-01-02")+`.csv"`)
		h.Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(http.StatusOK)
		return cw.Write([]string{"id", "first_name", "last_name", "email", "job_title", "department",
			"manager_id", "hire_date", "status", "termination_date", "created_at", "updated_at"})
	}
	err := a.db.Once(r.Context(), func(ctx context.Context, q *db.Queries) error {
		if nobody {
			return nil
		}
		return q.EachExportEmployee(ctx, params, func(e db.ExportEmployeesRow) error {
			if !started {
				if err := start(); err != nil {
					return err
				}
			}
			manager := ""
			if e.ManagerID != nil {
				manager = strconv.FormatInt(*e.ManagerID, 10)
			}
			err := cw.Write([]string{
				strconv.FormatInt(e.ID, 10), csvCell(e.FirstName), csvCell(e.LastName), csvCell(e.Email),
				csvCell(e.JobTitle), csvCell(e.DepartmentName), manager, e.HireDate.Format(time.DateOnly),
				e.Status, components.Date(e.TerminationDate),
				e.CreatedAt.UTC().Format(time.RFC3339), e.UpdatedAt.UTC().Format(time.RFC3339),
			})
			if err != nil {
				return err
			}
			if n++; n%exportFlushEvery == 0 {
				cw.Flush()
				if err := cw.Error(); err != nil {
					return err
				}
				_ = flusher.Flush()
			}
			return nil
		})
	})
	if err == nil && !started {
		err = start() // no rows: the header line alone
	}
	if err == nil {
		cw.Flush()
		err = cw.Error()
	}
	if err == nil {
		return
	}
	if !started {
		a.handleError(w, r, err)
		return
	}
	if r.Context().Err() != nil {
		a.log.Debug("employee export canceled by client", "rows", n, "request_id", requestID(r.Context()))
	} else {
		a.log.Error("employee export failed after it started", "err", err, "rows", n, "request_id", requestID(r.Context()))
	}
	panic(http.ErrAbortHandler)
}

// csvCell defuses text a spreadsheet would run as a formula (=, +, -, @,
// and tab or carriage return, which some treat the same) by prefixing a
// quote, as OWASP recommends. Only free text goes through it.
func csvCell(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}
