package web

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"hris/db"
	"hris/views/components"
	"hris/views/pages"
)

// employeeStatuses are the statuses an employee can have.
var employeeStatuses = map[string]bool{"active": true, "on_leave": true, "terminated": true}

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

// employeeValues is a validated employee form.
type employeeValues struct {
	FirstName       string
	LastName        string
	Email           string
	JobTitle        string
	DepartmentID    *int64
	ManagerID       *int64
	HireDate        time.Time
	Status          string
	TerminationDate *time.Time
}

// sameAs reports whether saving v over e would change nothing.
func (v employeeValues) sameAs(e db.Employee) bool {
	return v.FirstName == e.FirstName && v.LastName == e.LastName && v.Email == e.Email &&
		v.JobTitle == e.JobTitle && equalID(v.DepartmentID, e.DepartmentID) && equalID(v.ManagerID, e.ManagerID) &&
		v.HireDate.Equal(e.HireDate) && v.Status == e.Status && equalDate(v.TerminationDate, e.TerminationDate)
}

func equalID(a, b *int64) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

func equalDate(a, b *time.Time) bool { return (a == nil) == (b == nil) && (a == nil || a.Equal(*b)) }

// parseDate reads a YYYY-MM-DD form value.
func parseDate(s string) (time.Time, bool) {
	t, err := time.Parse(time.DateOnly, strings.TrimSpace(s))
	return t, err == nil
}

// parseOptionalID reads an optional record number; "#42" is accepted as 42.
func parseOptionalID(s string) (*int64, bool) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "#")
	if s == "" {
		return nil, true
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return nil, false
	}
	return &id, true
}

// parseEmployeeForm reads and checks the employee form: the form to show
// again (what was typed, with a message next to each bad field) and the
// values to save.
func parseEmployeeForm(r *http.Request) (pages.EmployeeForm, employeeValues) {
	f := pages.EmployeeForm{
		FirstName:       r.PostFormValue("first_name"),
		LastName:        r.PostFormValue("last_name"),
		Email:           r.PostFormValue("email"),
		JobTitle:        r.PostFormValue("job_title"),
		DepartmentID:    strings.TrimSpace(r.PostFormValue("department_id")),
		ManagerID:       strings.TrimSpace(r.PostFormValue("manager_id")),
		HireDate:        strings.TrimSpace(r.PostFormValue("hire_date")),
		Status:          strings.TrimSpace(r.PostFormValue("status")),
		TerminationDate: strings.TrimSpace(r.PostFormValue("termination_date")),
		Errors:          components.Errors{},
	}
	var v employeeValues
	e := f.Errors
	v.FirstName, e["first_name"] = requiredText(f.FirstName, 100, "Enter the first name.")
	v.LastName, e["last_name"] = requiredText(f.LastName, 100, "Enter the last name.")
	v.Email, e["email"] = ValidateEmail(f.Email)
	v.JobTitle, e["job_title"] = optionalText(f.JobTitle, 200)
	f.FirstName, f.LastName, f.Email, f.JobTitle = v.FirstName, v.LastName, v.Email, v.JobTitle

	var ok bool
	if v.DepartmentID, ok = parseOptionalID(f.DepartmentID); !ok {
		e["department_id"] = "Choose a department from the list."
	}
	if v.ManagerID, ok = parseOptionalID(f.ManagerID); !ok {
		e["manager_id"] = "Choose the manager from the list, or type their name or employee number."
	}
	hireOK := false
	switch hire, ok := parseDate(f.HireDate); {
	case f.HireDate == "":
		e["hire_date"] = "Enter the hire date."
	case !ok:
		e["hire_date"] = "Enter the hire date as YYYY-MM-DD, such as 2024-03-01."
	case hire.Year() < 1900 || hire.After(time.Now().AddDate(1, 0, 0)):
		e["hire_date"] = "Enter a hire date between 1900 and a year from now."
	default:
		v.HireDate, hireOK = hire, true
	}
	if f.Status == "" {
		f.Status = "active"
	}
	v.Status = f.Status
	if !employeeStatuses[v.Status] {
		e["status"] = "Choose Active, On leave or Terminated."
	}
	// The termination date belongs to the status Terminated; with any other
	// status (reinstating someone) it is dropped.
	if v.Status == "terminated" {
		switch end, ok := parseDate(f.TerminationDate); {
		case f.TerminationDate == "":
			e["termination_date"] = "Enter the termination date of a terminated employee."
		case !ok:
			e["termination_date"] = "Enter the termination date as YYYY-MM-DD."
		case hireOK && end.Before(v.HireDate):
			e["termination_date"] = "The termination date cannot be before the hire date."
		default:
			v.TerminationDate = &end
		}
	}
	return f, v
}

// employeeForm fills the form from a saved record.
func employeeForm(e db.Employee) pages.EmployeeForm {
	f := pages.EmployeeForm{
		ID: e.ID, Version: e.Version, FirstName: e.FirstName, LastName: e.LastName, Email: e.Email,
		JobTitle: e.JobTitle, HireDate: e.HireDate.Format(time.DateOnly), Status: e.Status,
		TerminationDate: components.Date(e.TerminationDate), Errors: components.Errors{},
	}
	if e.DepartmentID != nil {
		f.DepartmentID = strconv.FormatInt(*e.DepartmentID, 10)
	}
	if e.ManagerID != nil {
		f.ManagerID = strconv.FormatInt(*e.ManagerID, 10)
	}
	return f
}

// employeeFormPage renders the new or edit form with status.
func (a *App) employeeFormPage(w http.ResponseWriter, r *http.Request, status int, f pages.EmployeeForm) {
	depts, err := a.departmentOptions(r.Context())
	if err != nil {
		a.handleError(w, r, err)
		return
	}
	f.Departments = depts
	if err := a.employeeManagerPicker(r.Context(), &f); err != nil {
		a.handleError(w, r, err)
		return
	}
	if f.ID == 0 {
		a.render(w, r, status, pages.EmployeeNew(a.page(r, "New employee", "employees"), f))
		return
	}
	a.render(w, r, status, pages.EmployeeEdit(a.page(r, "Edit employee", "employees"), f))
}

// employeeWriteError turns what the database refused about an employee
// form into a message next to the field, or reports false.
func employeeWriteError(err error, e components.Errors) bool {
	if c, ok := db.IsUniqueViolation(err); ok && c == "employees_email_key" {
		e["email"] = "Another employee already has this email address."
		return true
	}
	if c, ok := foreignKeyViolation(err); ok {
		switch c {
		case "employees_department_id_fkey":
			e["department_id"] = "That department no longer exists. Choose another."
			return true
		case "employees_manager_id_fkey":
			e["manager_id"] = "There is no employee with this number."
			return true
		}
	}
	if errors.Is(err, errManagerCycle) {
		e["manager_id"] = "This person reports to the employee (directly or further down), so they cannot be their manager."
		return true
	}
	if errors.Is(err, errSelfManager) {
		e["manager_id"] = "An employee cannot be their own manager."
		return true
	}
	return false
}

var (
	errManagerCycle = errors.New("manager reports to the employee")
	errSelfManager  = errors.New("employee is their own manager")
)

func (a *App) employeeNew(w http.ResponseWriter, r *http.Request) {
	a.employeeFormPage(w, r, http.StatusOK, pages.EmployeeForm{
		IdempotencyKey: newIdempotencyKey(), Status: "active", HireDate: time.Now().Format(time.DateOnly),
		Errors: components.Errors{},
	})
}

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
		if errors.Is(err, pgx.ErrNoRows) {
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

func (a *App) employeeEdit(w http.ResponseWriter, r *http.Request) {
	id, err := idFromURL(r)
	if err != nil {
		a.handleError(w, r, err)
		return
	}
	var e db.EmployeeDetailRow
	err = a.db.Read(r.Context(), func(ctx context.Context, q *db.Queries) (err error) {
		e, err = q.EmployeeDetail(ctx, id)
		return err
	})
	if err != nil {
		a.handleError(w, r, err)
		return
	}
	f := employeeForm(db.Employee{
		ID: e.ID, FirstName: e.FirstName, LastName: e.LastName, Email: e.Email, JobTitle: e.JobTitle,
		DepartmentID: e.DepartmentID, ManagerID: e.ManagerID, HireDate: e.HireDate, Status: e.Status,
		TerminationDate: e.TerminationDate, Version: e.Version,
	})
	a.employeeFormPage(w, r, http.StatusOK, f)
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
		if errors.Is(err, pgx.ErrNoRows) {
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

// statusLabel is an employee status in words, as the forms offer it.
func statusLabel(status string) string {
	for _, o := range pages.StatusOptions {
		if o.Value == status {
			return o.Label
		}
	}
	return status
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
			{Label: "Status", Stored: statusLabel(stored.Status), Submitted: statusLabel(v.Status)},
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
