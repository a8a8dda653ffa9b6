package web

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"hris/db"
	"hris/views/components"
	"hris/views/pages"
)

// The changes to employees: create (idempotent), edit (versioned, with the
// conflict page), terminate and delete, each audited in its transaction.

func (a *App) employeeCreatePost(w http.ResponseWriter, r *http.Request) {
	f, v := parseEmployeeForm(r)
	key, ok := idempotencyKey(r)
	if !ok {
		key, f.General = uuid.New(), brokenFormMessage
	}
	// A re-rendered form keeps its key: nothing was created with it yet.
	f.IdempotencyKey = key.String()
	if err := a.pickManager(r, &f, &v); err != nil {
		a.handleError(w, r, err)
		return
	}
	if f.Errors.Any() || f.General != "" {
		a.employeeFormPage(w, r, http.StatusUnprocessableEntity, f)
		return
	}
	var (
		emp     db.Employee
		replay  bool
		created bool
	)
	// The key makes the whole transaction repeatable: a retry after an
	// unknown commit, a double click or a resubmitted page finds the first
	// row instead of adding a second one.
	err := a.db.InTxIdempotent(r.Context(), func(ctx context.Context, q *db.Queries) (err error) {
		replay, created = false, false
		emp, err = q.CreateEmployee(ctx, db.CreateEmployeeParams{
			FirstName: v.FirstName, LastName: v.LastName, Email: v.Email, JobTitle: v.JobTitle,
			DepartmentID: v.DepartmentID, ManagerID: v.ManagerID, HireDate: v.HireDate,
			Status: v.Status, TerminationDate: v.TerminationDate, CreateKey: &key,
		})
		if errors.Is(err, db.ErrNotFound) {
			// ON CONFLICT (create_key) DO NOTHING: this form was saved before
			// (if that insert was still running, we waited for its commit).
			replay = true
			emp, err = q.GetEmployeeByCreateKey(ctx, &key)
			return err
		}
		if err != nil {
			return err
		}
		created = true
		return a.audit(ctx, q, r, auditEntry{Action: "employee.create", Entity: "employee", EntityID: emp.ID, After: toAuditEmployee(emp)})
	})
	if err != nil && employeeWriteError(err, f.Errors) {
		a.employeeFormPage(w, r, http.StatusUnprocessableEntity, f)
		return
	}
	if err != nil {
		a.handleError(w, r, err)
		return
	}
	switch {
	case created:
		a.flash(r, "success", "Employee "+employeeName(emp)+" created.")
	case replay:
		a.flash(r, "info", "This form was already submitted; here is "+employeeName(emp)+".")
	}
	redirect(w, r, employeePath(emp.ID))
}

func (a *App) employeeEditPost(w http.ResponseWriter, r *http.Request) {
	id, err := idFromURL(r)
	if err != nil {
		a.handleError(w, r, err)
		return
	}
	f, v := parseEmployeeForm(r)
	f.ID = id
	version, ok := formVersion(r)
	f.Version = version
	if !ok {
		f.General = brokenFormMessage
	}
	if err := a.pickManager(r, &f, &v); err != nil {
		a.handleError(w, r, err)
		return
	}
	if f.Errors.Any() || f.General != "" {
		a.employeeFormPage(w, r, http.StatusUnprocessableEntity, f)
		return
	}
	var before, after db.Employee
	unchanged := false
	err = a.db.InTx(r.Context(), func(ctx context.Context, q *db.Queries) (err error) {
		unchanged = false
		if before, err = q.GetEmployeeForUpdate(ctx, id); err != nil {
			return err // no rows: 404
		}
		if before.Version != version {
			return errStale
		}
		if v.sameAs(before) {
			unchanged = true
			return nil
		}
		if v.ManagerID != nil && !equalID(v.ManagerID, before.ManagerID) {
			if *v.ManagerID == id {
				return errSelfManager
			}
			// Checked under a lock every reporting-line change takes, so a
			// concurrent edit cannot close a loop this check did not see.
			if err := q.LockManagerChanges(ctx); err != nil {
				return err
			}
			cycle, err := q.ManagerCreatesCycle(ctx, db.ManagerCreatesCycleParams{EmployeeID: id, ManagerID: *v.ManagerID})
			if err != nil {
				return err
			}
			if cycle {
				return errManagerCycle
			}
		}
		after, err = q.UpdateEmployee(ctx, db.UpdateEmployeeParams{
			ID: id, Version: version,
			FirstName: v.FirstName, LastName: v.LastName, Email: v.Email, JobTitle: v.JobTitle,
			DepartmentID: v.DepartmentID, ManagerID: v.ManagerID, HireDate: v.HireDate,
			Status: v.Status, TerminationDate: v.TerminationDate,
		})
		if errors.Is(err, db.ErrNotFound) {
			return errStale // the row is locked, so only in theory
		}
		if err != nil {
			return err
		}
		return a.audit(ctx, q, r, auditEntry{Action: "employee.update", Entity: "employee", EntityID: id,
			Before: toAuditEmployee(before), After: toAuditEmployee(after)})
	})
	switch {
	case errors.Is(err, errStale):
		a.employeeConflict(w, r, before, f, v)
	case err != nil && employeeWriteError(err, f.Errors):
		a.employeeFormPage(w, r, http.StatusUnprocessableEntity, f)
	case err != nil:
		a.handleError(w, r, err)
	case unchanged:
		a.flash(r, "info", "Nothing changed, so nothing was saved.")
		redirect(w, r, employeePath(id))
	default:
		a.flash(r, "success", "Employee "+employeeName(after)+" updated.")
		redirect(w, r, employeePath(id))
	}
}

// employeeConflict answers an edit of an outdated version with 409: the
// saved record next to what the user submitted, and the choice between
// reloading and re-applying their values on top of the saved version.
func (a *App) employeeConflict(w http.ResponseWriter, r *http.Request, stored db.Employee, f pages.EmployeeForm, v employeeValues) {
	depts, err := a.departmentOptions(r.Context())
	if err != nil {
		a.handleError(w, r, err)
		return
	}
	deptName := func(id *int64) string {
		if id == nil {
			return ""
		}
		for _, d := range depts {
			if d.Value == strconv.FormatInt(*id, 10) {
				return d.Label
			}
		}
		return "#" + strconv.FormatInt(*id, 10)
	}
	manager := func(id *int64) string {
		if id == nil {
			return ""
		}
		return "#" + strconv.FormatInt(*id, 10)
	}
	path := employeePath(stored.ID)
	c := pages.ConflictView{
		Heading:          "Your changes to " + employeeName(stored) + " were not saved",
		StoredVersion:    stored.Version,
		SubmittedVersion: f.Version,
		UpdatedAt:        stored.UpdatedAt.Format("2006-01-02 15:04:05"),
		ReloadURL:        path + "/edit",
		ReapplyAction:    path,
		CancelURL:        path,
		Fields: []pages.ConflictField{
			{Label: "First name", Stored: stored.FirstName, Submitted: v.FirstName},
			{Label: "Last name", Stored: stored.LastName, Submitted: v.LastName},
			{Label: "Email", Stored: stored.Email, Submitted: v.Email},
			{Label: "Job title", Stored: stored.JobTitle, Submitted: v.JobTitle},
			{Label: "Department", Stored: deptName(stored.DepartmentID), Submitted: deptName(v.DepartmentID)},
			{Label: "Manager", Stored: manager(stored.ManagerID), Submitted: manager(v.ManagerID)},
			{Label: "Hire date", Stored: stored.HireDate.Format(time.DateOnly), Submitted: v.HireDate.Format(time.DateOnly)},
			{Label: "Status", Stored: components.StatusLabel(stored.Status), Submitted: components.StatusLabel(v.Status)},
			{Label: "Termination date", Stored: components.Date(stored.TerminationDate), Submitted: components.Date(v.TerminationDate)},
		},
		Reapply: map[string]string{
			"version":    strconv.Itoa(int(stored.Version)),
			"first_name": f.FirstName, "last_name": f.LastName, "email": f.Email, "job_title": f.JobTitle,
			"department_id": f.DepartmentID, "manager_id": f.ManagerID, "hire_date": f.HireDate,
			"status": f.Status, "termination_date": f.TerminationDate,
		},
	}
	a.render(w, r, http.StatusConflict, pages.Conflict(a.page(r, "Edit conflict", "employees"), c))
}

func (a *App) employeeTerminate(w http.ResponseWriter, r *http.Request) {
	e, err := a.employeeFromURL(r)
	if err != nil {
		a.handleError(w, r, err)
		return
	}
	v := terminateView(e)
	v.TerminationDate = time.Now().Format(time.DateOnly)
	a.render(w, r, http.StatusOK, pages.EmployeeTerminate(a.page(r, "Terminate "+employeeName(e), "employees"), v))
}

func terminateView(e db.Employee) pages.TerminateView {
	v := pages.TerminateView{ID: e.ID, Name: employeeName(e), Version: e.Version, HireDate: e.HireDate.Format(time.DateOnly)}
	if e.Status == "terminated" {
		v.AlreadyTerminatedOn = components.Date(e.TerminationDate)
	}
	return v
}

var errAlreadyTerminated = errors.New("already terminated")

func (a *App) employeeTerminatePost(w http.ResponseWriter, r *http.Request) {
	id, err := idFromURL(r)
	if err != nil {
		a.handleError(w, r, err)
		return
	}
	raw := strings.TrimSpace(r.PostFormValue("termination_date"))
	end, dateOK := parseDate(raw)
	version, versionOK := formVersion(r)
	var before, after db.Employee
	var invalid string
	err = a.db.InTx(r.Context(), func(ctx context.Context, q *db.Queries) (err error) {
		invalid = ""
		if before, err = q.GetEmployeeForUpdate(ctx, id); err != nil {
			return err
		}
		switch {
		case before.Status == "terminated":
			return errAlreadyTerminated
		case raw == "":
			invalid = "Enter the termination date."
		case !dateOK:
			invalid = "Enter the termination date as YYYY-MM-DD."
		case end.Before(before.HireDate):
			invalid = "The termination date cannot be before the hire date " + before.HireDate.Format(time.DateOnly) + "."
		}
		if invalid != "" {
			return nil // nothing written; the form is shown again
		}
		if !versionOK || before.Version != version {
			return errStale
		}
		after, err = q.TerminateEmployee(ctx, db.TerminateEmployeeParams{ID: id, Version: version, TerminationDate: &end})
		if err != nil {
			return err
		}
		return a.audit(ctx, q, r, auditEntry{Action: "employee.terminate", Entity: "employee", EntityID: id,
			Before: toAuditEmployee(before), After: toAuditEmployee(after)})
	})
	page := func(status int, v pages.TerminateView) {
		a.render(w, r, status, pages.EmployeeTerminate(a.page(r, "Terminate "+employeeName(before), "employees"), v))
	}
	switch {
	case errors.Is(err, errAlreadyTerminated):
		a.flash(r, "info", employeeName(before)+" was already terminated.")
		redirect(w, r, employeePath(id))
	case errors.Is(err, errStale):
		v := terminateView(before)
		v.TerminationDate = raw
		v.Notice = "Someone changed this record since you opened the page (it is now version " +
			strconv.Itoa(int(before.Version)) + "). Check the record, then confirm again."
		page(http.StatusConflict, v)
	case err != nil:
		a.handleError(w, r, err)
	case invalid != "":
		v := terminateView(before)
		v.Version = version
		v.TerminationDate, v.Error = raw, invalid
		page(http.StatusUnprocessableEntity, v)
	default:
		a.flash(r, "success", employeeName(after)+" is terminated as of "+end.Format(time.DateOnly)+".")
		redirect(w, r, employeePath(id))
	}
}

func (a *App) employeeDelete(w http.ResponseWriter, r *http.Request) {
	e, err := a.employeeFromURL(r)
	if err != nil {
		a.handleError(w, r, err)
		return
	}
	path := employeePath(e.ID)
	a.render(w, r, http.StatusOK, pages.Confirm(a.page(r, "Delete employee", "employees"), pages.ConfirmView{
		Heading: "Delete " + employeeName(e) + " for good?",
		Message: "This removes the record and cannot be undone; people who report to " + e.FirstName +
			" will have no manager. To record that someone left, terminate them instead: the record stays.",
		Action: path + "/delete",
		Button: "Delete for good",
		Danger: true,
		Cancel: path,
	}))
}

func (a *App) employeeDeletePost(w http.ResponseWriter, r *http.Request) {
	id, err := idFromURL(r)
	if err != nil {
		a.handleError(w, r, err)
		return
	}
	var before db.Employee
	err = a.db.InTx(r.Context(), func(ctx context.Context, q *db.Queries) (err error) {
		if before, err = q.GetEmployeeForUpdate(ctx, id); err != nil {
			return err
		}
		// The foreign key would clear their manager_id anyway; doing it here
		// bumps their versions, so edit forms open on them notice.
		if _, err := q.DetachReports(ctx, &id); err != nil {
			return err
		}
		if _, err := q.DeleteEmployee(ctx, id); err != nil {
			return err
		}
		return a.audit(ctx, q, r, auditEntry{Action: "employee.delete", Entity: "employee", EntityID: id, Before: toAuditEmployee(before)})
	})
	if err != nil {
		a.handleError(w, r, err)
		return
	}
	a.flash(r, "success", "Employee "+employeeName(before)+" deleted.")
	redirect(w, r, "/employees")
}
