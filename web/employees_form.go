package web

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"hris/account"
	"hris/db"
	"hris/views/components"
	"hris/views/pages"
)

// The employee form: what it holds, how it is read and checked, how it is
// shown (new, edit, and again with messages).

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
	v.Email, e["email"] = account.ValidateEmail(f.Email)
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
	if !components.IsEmployeeStatus(v.Status) {
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

func (a *App) employeeNew(w http.ResponseWriter, r *http.Request) {
	a.employeeFormPage(w, r, http.StatusOK, pages.EmployeeForm{
		IdempotencyKey: newIdempotencyKey(), Status: "active", HireDate: time.Now().Format(time.DateOnly),
		Errors: components.Errors{},
	})
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

// employeeWriteError turns what the database refused about an employee
// form into a message next to the field, or reports false.
func employeeWriteError(err error, e components.Errors) bool {
	if c, ok := db.IsUniqueViolation(err); ok && c == "employees_email_key" {
		e["email"] = "Another employee already has this email address."
		return true
	}
	if c, ok := db.IsForeignKeyViolation(err); ok {
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
