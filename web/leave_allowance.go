package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"hris/db"
	"hris/views/components"
	"hris/views/pages"
)

// auditAllowance is what the audit log keeps of an allowance change.
type auditAllowance struct {
	Year    int   `json:"year"`
	Days    int32 `json:"days"`
	Default bool  `json:"default"` // HRIS_LEAVE_ANNUAL_DAYS applied
}

// yearFromURL parses the {year} path parameter.
func yearFromURL(r *http.Request) (int, error) {
	y, err := strconv.Atoi(chi.URLParam(r, "year"))
	if err != nil || y < 1900 || y > 9999 {
		return 0, errNoSuchRecord
	}
	return y, nil
}

// allowanceForm loads the form of employee id's allowance in year.
func (a *App) allowanceForm(ctx context.Context, id int64, year int) (pages.AllowanceForm, error) {
	f := pages.AllowanceForm{EmployeeID: id, Year: year, Default: a.cfg.LeaveAnnualDays}
	err := a.db.Read(ctx, func(ctx context.Context, q *db.Queries) error {
		e, err := q.PickedEmployee(ctx, id)
		if err != nil {
			return err
		}
		f.Employee = e.FirstName + " " + e.LastName
		f.Balance, err = a.leaveBalance(ctx, q, id, year)
		return err
	})
	f.Days = strconv.Itoa(int(f.Balance.Allowance))
	f.Version = f.Balance.Version
	return f, err
}

func (a *App) allowanceEdit(w http.ResponseWriter, r *http.Request) {
	id, err := idFromURL(r)
	if err != nil {
		a.handleError(w, r, err)
		return
	}
	year, err := yearFromURL(r)
	if err != nil {
		a.handleError(w, r, err)
		return
	}
	f, err := a.allowanceForm(r.Context(), id, year)
	if err != nil {
		a.handleError(w, r, err)
		return
	}
	a.render(w, r, http.StatusOK, pages.AllowanceEdit(a.page(r, "Annual leave allowance", "employees"), f))
}

// errAllowanceBelowTaken refuses an allowance below the days approved.
type errAllowanceBelowTaken struct{ taken int32 }

func (e errAllowanceBelowTaken) Error() string { return "allowance below approved leave" }

func (a *App) allowanceEditPost(w http.ResponseWriter, r *http.Request) {
	id, err := idFromURL(r)
	if err != nil {
		a.handleError(w, r, err)
		return
	}
	year, err := yearFromURL(r)
	if err != nil {
		a.handleError(w, r, err)
		return
	}
	raw := strings.TrimSpace(r.PostFormValue("days"))
	days, daysErr := strconv.Atoi(raw)
	// Version 0 is a form opened while the default applied (no row yet).
	version, versionErr := strconv.Atoi(r.PostFormValue("version"))
	var (
		before    components.Balance
		saved     db.LeaveAllowance
		unchanged bool
		invalid   string
	)
	switch {
	case raw == "":
		invalid = "Enter the number of days."
	case daysErr != nil || days < 0 || days > 366:
		invalid = "Enter a whole number of days from 0 to 366."
	}
	if invalid == "" {
		err = a.db.InTx(r.Context(), func(ctx context.Context, q *db.Queries) (err error) {
			unchanged = false
			// The employee's lock, as for approvals: an approval cannot
			// slip in between the check below and the new allowance.
			if _, err = lockEmployeeForLeave(ctx, q, id); err != nil {
				return err
			}
			if before, err = a.leaveBalance(ctx, q, id, year); err != nil {
				return err
			}
			if versionErr != nil || int32(version) != before.Version {
				return errStale
			}
			if int32(days) < before.Taken {
				return errAllowanceBelowTaken{before.Taken}
			}
			if int32(days) == before.Allowance && before.Adjusted {
				unchanged = true
				return nil
			}
			saved, err = q.SetLeaveAllowance(ctx, db.SetLeaveAllowanceParams{EmployeeID: id, Year: int32(year), Days: int32(days)})
			if err != nil {
				return err
			}
			return a.audit(ctx, q, r, auditEntry{Action: "leave.allowance", Entity: "employee", EntityID: id,
				Before: auditAllowance{Year: year, Days: before.Allowance, Default: !before.Adjusted},
				After:  auditAllowance{Year: year, Days: saved.Days}})
		})
	}
	var below errAllowanceBelowTaken
	switch {
	case invalid == "" && err == nil && unchanged:
		a.flash(r, "info", "Nothing changed, so nothing was saved.")
		redirect(w, r, employeePath(id))
		return
	case invalid == "" && err == nil:
		a.flash(r, "success", fmt.Sprintf("Annual leave allowance for %d set to %s.", year, components.Days(saved.Days)))
		redirect(w, r, employeePath(id))
		return
	case errors.As(err, &below):
		invalid = fmt.Sprintf("%s of %d are approved already: the allowance cannot be lower. Cancel leave first to go below that.",
			components.Days(below.taken), year)
	case err != nil && !errors.Is(err, errStale):
		a.handleError(w, r, err)
		return
	}
	// Shown again: with the message, or (409) on the saved version.
	f, ferr := a.allowanceForm(r.Context(), id, year)
	if ferr != nil {
		a.handleError(w, r, ferr)
		return
	}
	f.Days = raw
	status := http.StatusUnprocessableEntity
	if errors.Is(err, errStale) {
		status = http.StatusConflict
		f.Notice = fmt.Sprintf("Someone changed this allowance since you opened the page: it is now %s. Check it, then save again.",
			components.Days(f.Balance.Allowance))
	} else {
		f.Version = int32(version)
		f.Error = invalid
	}
	a.render(w, r, status, pages.AllowanceEdit(a.page(r, "Annual leave allowance", "employees"), f))
}
