package web

import (
	"context"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"hris/db"
	"hris/views/components"
	"hris/views/pages"
	"hris/views/partials"
)

// leavePageSize is how many requests one page of the leave list shows.
const leavePageSize = 50

var leaveStatuses = map[string]bool{"pending": true, "approved": true, "rejected": true, "cancelled": true}

// The ends of time for the list's optional bounds: with them, every bound
// is an index condition on every plan.
var (
	leaveDawn = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	leaveDusk = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
)

// leaveFilter is the leave list's filters, from the query string. Values
// that make no sense are ignored (stale or hand-edited links), except
// dates, which are reported: they were typed.
type leaveFilter struct {
	Status     string
	Kind       string
	Employee   *int64
	Department *int64
	From, To   string // as typed
	from, to   time.Time
}

func leaveFilterFrom(v url.Values) (leaveFilter, components.Errors) {
	f := leaveFilter{From: strings.TrimSpace(v.Get("from")), To: strings.TrimSpace(v.Get("to"))}
	errs := components.Errors{}
	if s := v.Get("status"); leaveStatuses[s] {
		f.Status = s
	}
	if k := v.Get("kind"); leaveKinds[k] {
		f.Kind = k
	}
	if id, ok := parseOptionalID(v.Get("employee_id")); ok {
		f.Employee = id
	}
	if id, ok := parseOptionalID(v.Get("department")); ok {
		f.Department = id
	}
	if f.From != "" {
		if d, ok := parseDate(f.From); ok {
			f.from = d
		} else {
			errs["from"] = "Use YYYY-MM-DD."
		}
	}
	if f.To != "" {
		if d, ok := parseDate(f.To); ok {
			f.to = d
		} else {
			errs["to"] = "Use YYYY-MM-DD."
		}
	}
	if !f.from.IsZero() && !f.to.IsZero() && f.to.Before(f.from) {
		errs["to"] = "The end is before the start."
	}
	if errs.Any() {
		f.from, f.to = time.Time{}, time.Time{} // the list shows everything until the dates are fixed
	}
	return f, errs
}

func (f leaveFilter) active() bool {
	return f.Status != "" || f.Kind != "" || f.Employee != nil || f.Department != nil || !f.from.IsZero() || !f.to.IsZero()
}

// url is /leave with the filter (and after, when set) as its query string.
func (f leaveFilter) url(after string) string {
	v := url.Values{}
	for k, s := range map[string]string{"status": f.Status, "kind": f.Kind, "from": f.From, "to": f.To, "after": after} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if f.Employee != nil {
		v.Set("employee_id", strconv.FormatInt(*f.Employee, 10))
	}
	if f.Department != nil {
		v.Set("department", strconv.FormatInt(*f.Department, 10))
	}
	if len(v) == 0 {
		return "/leave"
	}
	return "/leave?" + v.Encode()
}

// leaveCursor is the keyset position after the last row of a page.
type leaveCursor struct {
	Start string `json:"s"`
	ID    int64  `json:"i"`
}

func (a *App) leaveList(w http.ResponseWriter, r *http.Request) {
	query := r.URL.Query()
	f, errs := leaveFilterFrom(query)
	emp := picker("employee_id", 0)
	if text := strings.TrimSpace(query.Get("employee_id_q")); text != "" {
		// A name typed into the employee filter and sent with the button.
		id, msg, err := a.pickTyped(r.Context(), &emp, text, 0)
		if err != nil {
			a.handleError(w, r, err)
			return
		}
		if id != nil {
			f.Employee = id
		} else {
			errs["employee_id"] = msg
		}
	}
	p := db.ListLeaveRequestsParams{
		BeforeStart: leaveDusk, BeforeID: math.MaxInt64,
		Status: f.Status, Kind: f.Kind, EmployeeID: f.Employee, DepartmentID: f.Department,
		FromDate: leaveDawn, StartFrom: leaveDawn, PageSize: leavePageSize + 1,
	}
	if !f.from.IsZero() {
		p.FromDate = f.from
	}
	if !f.to.IsZero() {
		// Starting on or before "to" is being before (to + 1 day, 0).
		p.BeforeStart, p.BeforeID = f.to.AddDate(0, 0, 1), 0
	}
	var c leaveCursor
	after := decodeCursor(query.Get("after"), &c)
	if after {
		d, ok := parseDate(c.Start)
		switch {
		case !ok:
			after = false
		case d.Before(p.BeforeStart) || d.Equal(p.BeforeStart) && c.ID < p.BeforeID:
			p.BeforeStart, p.BeforeID = d, c.ID
		}
	}
	partial := isPartial(r)
	var (
		rows  []db.ListLeaveRequestsRow
		depts []db.DepartmentOptionsRow
	)
	err := a.readPlanned(r.Context(), func(ctx context.Context, q *db.Queries) (err error) {
		rows, depts, emp.Chosen = nil, nil, nil
		if !f.from.IsZero() {
			longest, err := q.LongestLeave(ctx)
			if err != nil {
				return err
			}
			p.StartFrom = f.from.AddDate(0, 0, -int(longest))
		}
		if rows, err = q.ListLeaveRequests(ctx, p); err != nil {
			return err
		}
		if partial {
			return nil
		}
		if f.Employee != nil {
			if emp.Chosen, err = pickedChoice(ctx, q, *f.Employee); err != nil {
				return err
			}
		}
		depts, err = q.DepartmentOptions(ctx)
		return err
	})
	if err != nil {
		a.handleError(w, r, err)
		return
	}
	res := partials.LeaveResults{Filtered: f.active()}
	if after {
		res.FirstURL = f.url("")
	}
	if len(rows) > leavePageSize {
		rows = rows[:leavePageSize]
		last := rows[len(rows)-1]
		res.NextURL = f.url(encodeCursor(leaveCursor{Start: last.StartDate.Format(time.DateOnly), ID: last.ID}))
	}
	res.Rows = make([]partials.LeaveRow, 0, len(rows))
	for _, l := range rows {
		res.Rows = append(res.Rows, partials.LeaveRow{
			ID: l.ID, EmployeeID: l.EmployeeID, Employee: l.FirstName + " " + l.LastName, Department: l.DepartmentName,
			Kind: l.Kind, Start: l.StartDate, End: l.EndDate, Days: l.Days, Status: l.Status,
		})
	}
	status := http.StatusOK
	if errs.Any() {
		status = http.StatusUnprocessableEntity
	}
	// The same URL answers with a fragment or a page: keep caches apart.
	w.Header().Add("Vary", "HX-Request")
	if partial {
		cur := ""
		if after {
			cur = query.Get("after")
		}
		w.Header().Set("HX-Push-Url", f.url(cur))
		a.render(w, r, status, partials.LeaveResultsTable(res))
		return
	}
	v := pages.LeaveListView{
		Status: f.Status, Kind: f.Kind, From: f.From, To: f.To, Employee: emp, Errors: errs, Results: res,
		Departments: append(make([]components.Option, 0, len(depts)+1), components.Option{Value: "", Label: "All departments"}),
	}
	if f.Department != nil {
		v.Department = strconv.FormatInt(*f.Department, 10)
	}
	for _, d := range depts {
		v.Departments = append(v.Departments, components.Option{Value: strconv.FormatInt(d.ID, 10), Label: d.Name})
	}
	a.render(w, r, status, pages.LeaveList(a.page(r, "Leave", "leave"), v))
}
