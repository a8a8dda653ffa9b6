package web

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"hris/db"
	"hris/views/pages"
)

// Employees: the record page and what the other employee files share.
// The list is in employees_list.go, the form in employees_form.go, the
// changes in employees_write.go, the CSV in employees_export.go.

// auditEmployee is what the audit log keeps of an employee record.
type auditEmployee struct {
	ID              int64   `json:"id"`
	FirstName       string  `json:"first_name"`
	LastName        string  `json:"last_name"`
	Email           string  `json:"email"`
	JobTitle        string  `json:"job_title"`
	DepartmentID    *int64  `json:"department_id"`
	ManagerID       *int64  `json:"manager_id"`
	HireDate        string  `json:"hire_date"`
	Status          string  `json:"status"`
	TerminationDate *string `json:"termination_date"`
	Version         int32   `json:"version"`
}

func toAuditEmployee(e db.Employee) auditEmployee {
	a := auditEmployee{
		ID: e.ID, FirstName: e.FirstName, LastName: e.LastName, Email: e.Email, JobTitle: e.JobTitle,
		DepartmentID: e.DepartmentID, ManagerID: e.ManagerID, HireDate: e.HireDate.Format(time.DateOnly),
		Status: e.Status, Version: e.Version,
	}
	if e.TerminationDate != nil {
		d := e.TerminationDate.Format(time.DateOnly)
		a.TerminationDate = &d
	}
	return a
}

func employeeName(e db.Employee) string { return e.FirstName + " " + e.LastName }

func employeePath(id int64) string { return "/employees/" + strconv.FormatInt(id, 10) }

// employeeFromURL loads the employee named by the {id} path parameter.
func (a *App) employeeFromURL(r *http.Request) (db.Employee, error) {
	id, err := idFromURL(r)
	if err != nil {
		return db.Employee{}, err
	}
	var e db.Employee
	err = a.db.Read(r.Context(), func(ctx context.Context, q *db.Queries) (err error) {
		e, err = q.GetEmployee(ctx, id)
		return err
	})
	return e, err
}

func (a *App) employeeShow(w http.ResponseWriter, r *http.Request) {
	id, err := idFromURL(r)
	if err != nil {
		a.handleError(w, r, err)
		return
	}
	const maxReports = 25
	var (
		e       db.EmployeeDetailRow
		reports []db.DirectReportsRow
		history []db.AuditLog
		leave   pages.EmployeeLeave
	)
	err = a.db.Read(r.Context(), func(ctx context.Context, q *db.Queries) (err error) {
		if e, err = q.EmployeeDetail(ctx, id); err != nil {
			return err
		}
		if leave, err = a.employeeLeave(ctx, q, id); err != nil {
			return err
		}
		if reports, err = q.DirectReports(ctx, db.DirectReportsParams{ManagerID: &id, MaxRows: maxReports + 1}); err != nil {
			return err
		}
		history, err = q.RecordAudit(ctx, db.RecordAuditParams{Entity: "employee", EntityID: &id, MaxRows: 10})
		return err
	})
	if err != nil {
		a.handleError(w, r, err)
		return
	}
	v := pages.EmployeeDetailView{
		ID: e.ID, Version: e.Version, FirstName: e.FirstName, LastName: e.LastName, Email: e.Email,
		JobTitle: e.JobTitle, DepartmentID: e.DepartmentID, Department: e.DepartmentName,
		ManagerID: e.ManagerID, Manager: e.ManagerName, HireDate: e.HireDate, Status: e.Status,
		TerminationDate: e.TerminationDate, CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt,
		History: toAuditRows(history), CanDelete: currentUser(r.Context()).IsAdmin(), Leave: leave,
	}
	if len(reports) > maxReports {
		reports, v.MoreReports = reports[:maxReports], true
	}
	for _, rep := range reports {
		v.Reports = append(v.Reports, pages.ReportRow{ID: rep.ID, Name: rep.FirstName + " " + rep.LastName, JobTitle: rep.JobTitle, Status: rep.Status})
	}
	a.render(w, r, http.StatusOK, pages.EmployeeDetail(a.page(r, e.FirstName+" "+e.LastName, "employees"), v))
}
