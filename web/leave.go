package web

// Leave requests: the request form, the decisions and the employee's
// balance. The list is in leave_list.go, allowances in leave_allowance.go.
//
// How a balance never overdraws: every leave write of an employee (a
// request, a decision, an allowance change) first locks that employee's
// row (LockEmployeeForLeave, FOR NO KEY UPDATE) and reads what it checks
// only after that. Under READ COMMITTED each statement sees what committed
// before it started, so the second of two approvals waits for the first
// and then counts its days; and a request approved twice at once is
// approved by the first and found approved by the second.
//
// Row locks, not SERIALIZABLE with retries on 40001, because:
//   - the conflict is known and narrow (one employee's balance). A lock
//     makes the second approval wait a few milliseconds; SERIALIZABLE lets
//     both run, fails one with 40001 and runs it again after a backoff.
//     Measured with TestLeaveConcurrentApprovals (20 approvals at once):
//     30 to 45 retries per round under SERIALIZABLE, none with the lock,
//     at about the same latency; but every retry spends one of the five
//     attempts the retry layer allows, so more contention ends in 503s
//     for approvals that were fine, which a lock queue never does;
//   - the check reads rows the approval does not write (the employee's
//     other requests). SERIALIZABLE catches that through predicate locks,
//     whose granularity depends on the plan; the row lock does not;
//   - it behaves the same behind PgBouncer in transaction mode: the lock
//     lives and dies with its transaction.
//
// The retry layer still covers what a lock does not: a deadlock (40P01)
// and a connection lost before COMMIT. Decisions recognise their own
// earlier result (a request found approved is left alone), so they run
// in InTxIdempotent and a commit lost in flight is retried as well.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"hris/db"
	"hris/views/components"
	"hris/views/pages"
	"hris/views/partials"
)

// DefaultLeaveAnnualDays is the annual leave allowance when
// HRIS_LEAVE_ANNUAL_DAYS is not set.
const DefaultLeaveAnnualDays = 25

// leaveLockTimeout is the longest a leave write waits for the employee's
// lock. Leave writes hold it for milliseconds, so a longer wait means
// something else holds the row (a stuck transaction, a bulk update): the
// user gets a 503 to try again instead of a page that hangs until the
// statement timeout.
const leaveLockTimeout = "5s"

// lockEmployeeForLeave takes the employee's lock, the first step of every
// leave write (see the top of this file), waiting at most leaveLockTimeout.
func lockEmployeeForLeave(ctx context.Context, q *db.Queries, id int64) (db.LockEmployeeForLeaveRow, error) {
	if err := q.LeaveLockTimeout(ctx, leaveLockTimeout); err != nil {
		return db.LockEmployeeForLeaveRow{}, err
	}
	return q.LockEmployeeForLeave(ctx, id)
}

// maxLeaveNote caps the note of a request (the table's check agrees).
const maxLeaveNote = 1000

var leaveKinds = map[string]bool{"annual": true, "sick": true, "unpaid": true}

// auditLeave is what the audit log keeps of a leave request.
type auditLeave struct {
	ID         int64  `json:"id"`
	EmployeeID int64  `json:"employee_id"`
	Kind       string `json:"kind"`
	StartDate  string `json:"start_date"`
	EndDate    string `json:"end_date"`
	Days       int32  `json:"days"`
	Status     string `json:"status"`
	Note       string `json:"note"`
	Version    int32  `json:"version"`
}

func toAuditLeave(l db.LeaveRequest) auditLeave {
	return auditLeave{
		ID: l.ID, EmployeeID: l.EmployeeID, Kind: l.Kind, StartDate: l.StartDate.Format(time.DateOnly),
		EndDate: l.EndDate.Format(time.DateOnly), Days: l.Days, Status: l.Status, Note: l.Note, Version: l.Version,
	}
}

func leavePath(id int64) string { return "/leave/" + strconv.FormatInt(id, 10) }

// leaveYears is the range of years a request may fall in: a few back to
// record what was missed, two ahead to plan.
func leaveYears(now time.Time) (first, last int) { return now.Year() - 5, now.Year() + 2 }

// leaveValues is a validated leave request form.
type leaveValues struct {
	EmployeeID *int64
	Kind       string
	Start, End time.Time
	Days       int32
	Note       string
}

// parseLeaveForm reads and checks the request form: the form to show
// again and the values to save. The checks that need the employee and
// their other requests come later, under the employee's lock.
func parseLeaveForm(r *http.Request, cal Calendar, now time.Time) (pages.LeaveForm, leaveValues) {
	f := pages.LeaveForm{
		Kind:      strings.TrimSpace(r.PostFormValue("kind")),
		StartDate: strings.TrimSpace(r.PostFormValue("start_date")),
		EndDate:   strings.TrimSpace(r.PostFormValue("end_date")),
		Note:      strings.TrimSpace(r.PostFormValue("note")),
		Errors:    components.Errors{},
	}
	var v leaveValues
	e := f.Errors
	id, ok := parseOptionalID(r.PostFormValue("employee_id"))
	switch {
	case !ok:
		e["employee_id"] = "Choose the employee from the list, or type their name or employee number."
	case id == nil:
		e["employee_id"] = "Choose the employee: type part of their name, then pick them."
	}
	v.EmployeeID = id
	v.Kind = f.Kind
	if !leaveKinds[v.Kind] {
		e["kind"] = "Choose annual, sick or unpaid leave."
	}
	v.Note = f.Note
	if utf8.RuneCountInString(v.Note) > maxLeaveNote {
		e["note"] = "Use at most " + strconv.Itoa(maxLeaveNote) + " characters."
	}
	startOK, endOK := false, false
	switch d, ok := parseDate(f.StartDate); {
	case f.StartDate == "":
		e["start_date"] = "Enter the first day of leave."
	case !ok:
		e["start_date"] = "Enter the first day as YYYY-MM-DD, such as 2025-07-14."
	default:
		v.Start, startOK = d, true
	}
	switch d, ok := parseDate(f.EndDate); {
	case f.EndDate == "":
		e["end_date"] = "Enter the last day of leave (the first day again for a single day)."
	case !ok:
		e["end_date"] = "Enter the last day as YYYY-MM-DD, such as 2025-07-18."
	default:
		v.End, endOK = d, true
	}
	if !startOK || !endOK {
		return f, v
	}
	first, last := leaveYears(now)
	switch {
	case v.End.Before(v.Start):
		e["end_date"] = "The last day is before the first day."
	case v.Start.Year() < first || v.End.Year() > last:
		e["start_date"] = fmt.Sprintf("Enter dates from %d to %d.", first, last)
	case v.Start.Year() != v.End.Year():
		e["end_date"] = fmt.Sprintf("Leave cannot run into the next year: request the days to 31 December %d and those from 1 January %d separately.", v.Start.Year(), v.End.Year())
	default:
		v.Days = int32(WorkingDays(cal, v.Start, v.End))
		if v.Days == 0 {
			e["end_date"] = "There is no working day in these dates (Monday to Friday count)."
		}
	}
	return f, v
}

// leaveFormError is a check made in the transaction that the form fails.
type leaveFormError struct{ field, msg string }

func (e leaveFormError) Error() string { return e.field + ": " + e.msg }

// checkEmployeeDates refuses leave outside the employee's employment.
func checkEmployeeDates(emp db.LockEmployeeForLeaveRow, v leaveValues) error {
	name := emp.FirstName + " " + emp.LastName
	if v.Start.Before(emp.HireDate) {
		return leaveFormError{"start_date", name + " started on " + emp.HireDate.Format(time.DateOnly) + "; leave cannot begin before that."}
	}
	if emp.TerminationDate != nil && v.End.After(*emp.TerminationDate) {
		return leaveFormError{"end_date", name + " left on " + emp.TerminationDate.Format(time.DateOnly) + "; leave cannot end after that."}
	}
	return nil
}

func overlapMessage(o db.OverlappingLeaveRow) string {
	return "These dates overlap " + o.Status + " " + strings.ToLower(components.LeaveKindLabel(o.Kind)) + " from " +
		o.StartDate.Format(time.DateOnly) + " to " + o.EndDate.Format(time.DateOnly) + " (request #" + strconv.FormatInt(o.ID, 10) + ")."
}

func (a *App) leaveBalance(ctx context.Context, q *db.Queries, employeeID int64, year int) (components.Balance, error) {
	b, err := q.LeaveBalance(ctx, db.LeaveBalanceParams{DefaultDays: a.cfg.LeaveAnnualDays, EmployeeID: employeeID, Year: int32(year)})
	return components.Balance{
		EmployeeID: employeeID, Year: year, Allowance: b.Allowance, Taken: b.Taken, Pending: b.Pending,
		Adjusted: b.AllowanceVersion > 0, Version: b.AllowanceVersion,
	}, err
}

func (a *App) leaveNew(w http.ResponseWriter, r *http.Request) {
	f := pages.LeaveForm{IdempotencyKey: newIdempotencyKey(), Kind: "annual", Errors: components.Errors{}}
	id, _ := parseOptionalID(r.URL.Query().Get("employee_id"))
	a.leaveFormPage(w, r, http.StatusOK, f, id, time.Now().Year())
}

// leaveFormPage renders the request form with status: the picker showing
// the chosen employee, and their balance for year.
func (a *App) leaveFormPage(w http.ResponseWriter, r *http.Request, status int, f pages.LeaveForm, employeeID *int64, year int) {
	p := picker("employee_id", 0)
	p.Query, p.Choices, p.More, p.Searched = f.Employee.Query, f.Employee.Choices, f.Employee.More, f.Employee.Searched
	f.Balance = nil
	err := a.db.Read(r.Context(), func(ctx context.Context, q *db.Queries) (err error) {
		p.Chosen, f.Balance = nil, nil
		if employeeID == nil {
			return nil
		}
		if p.Chosen, err = pickedChoice(ctx, q, *employeeID); err != nil || p.Chosen == nil {
			return err
		}
		b, err := a.leaveBalance(ctx, q, *employeeID, year)
		f.Balance = &b
		return err
	})
	if err != nil {
		a.handleError(w, r, err)
		return
	}
	p.Choices = withoutChosen(p.Choices, p.Chosen)
	f.Employee = p
	a.render(w, r, status, pages.LeaveNew(a.page(r, "Request leave", "leave"), f))
}

func (a *App) leaveCreatePost(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	f, v := parseLeaveForm(r, a.cfg.Calendar, now)
	key, ok := idempotencyKey(r)
	if !ok {
		key, f.General = uuid.New(), brokenFormMessage
	}
	// A re-rendered form keeps its key: nothing was created with it yet.
	f.IdempotencyKey = key.String()
	if text := strings.TrimSpace(r.PostFormValue("employee_id_q")); text != "" {
		// A name typed in place of a choice (no JavaScript, or typed and sent).
		f.Employee = picker("employee_id", 0)
		id, msg, err := a.pickTyped(r.Context(), &f.Employee, text, 0)
		if err != nil {
			a.handleError(w, r, err)
			return
		}
		delete(f.Errors, "employee_id")
		if v.EmployeeID = id; id == nil {
			f.Errors["employee_id"] = msg
		}
	}
	year := now.Year()
	if !v.Start.IsZero() {
		year = v.Start.Year()
	}
	if f.Errors.Any() || f.General != "" {
		a.leaveFormPage(w, r, http.StatusUnprocessableEntity, f, v.EmployeeID, year)
		return
	}
	var (
		lr     db.LeaveRequest
		replay bool
	)
	requester := currentUser(r.Context()).ID
	err := a.db.InTxIdempotent(r.Context(), func(ctx context.Context, q *db.Queries) error {
		replay = false
		emp, err := lockEmployeeForLeave(ctx, q, *v.EmployeeID)
		if errors.Is(err, db.ErrNotFound) {
			return leaveFormError{"employee_id", "There is no employee with this number."}
		}
		if err != nil {
			return err
		}
		// Under the lock: a first submission of this form still in flight
		// has committed by now, and is found instead of checked again
		// (its dates would overlap themselves).
		lr, err = q.GetLeaveRequestByCreateKey(ctx, &key)
		if err == nil {
			replay = true
			return nil
		}
		if !errors.Is(err, db.ErrNotFound) {
			return err
		}
		if err := checkEmployeeDates(emp, v); err != nil {
			return err
		}
		o, err := q.OverlappingLeave(ctx, db.OverlappingLeaveParams{EmployeeID: emp.ID, StartDate: v.Start, EndDate: v.End})
		if err == nil {
			return leaveFormError{"start_date", overlapMessage(o)}
		}
		if !errors.Is(err, db.ErrNotFound) {
			return err
		}
		if v.Kind == "annual" {
			// Pending requests are not counted here: approving decides
			// between them (and refuses what no longer fits).
			b, err := a.leaveBalance(ctx, q, emp.ID, v.Start.Year())
			if err != nil {
				return err
			}
			if v.Days > b.Left() {
				return leaveFormError{"end_date", fmt.Sprintf("Only %s of annual leave %s left in %d; these dates need %s.",
					components.Days(max(b.Left(), 0)), isAre(b.Left()), b.Year, components.Days(v.Days))}
			}
		}
		lr, err = q.CreateLeaveRequest(ctx, db.CreateLeaveRequestParams{
			EmployeeID: emp.ID, DepartmentID: emp.DepartmentID, Kind: v.Kind, StartDate: v.Start, EndDate: v.End,
			Days: v.Days, Note: v.Note, CreateKey: &key, RequestedBy: &requester,
		})
		if err != nil {
			return err
		}
		return a.audit(ctx, q, r, auditEntry{Action: "leave.create", Entity: "leave_request", EntityID: lr.ID, After: toAuditLeave(lr)})
	})
	var fe leaveFormError
	switch {
	case errors.As(err, &fe):
		f.Errors[fe.field] = fe.msg
	case isExclusionViolation(err, "leave_requests_no_overlap"):
		// Cannot happen while every write takes the employee's lock; kept
		// so the answer stays right if that changes.
		f.Errors["start_date"] = "These dates overlap another pending or approved request of this employee."
	case err != nil:
		a.handleError(w, r, err)
		return
	}
	if f.Errors.Any() {
		a.leaveFormPage(w, r, http.StatusUnprocessableEntity, f, v.EmployeeID, year)
		return
	}
	if replay {
		a.flash(r, "info", "This request was already submitted; here it is.")
	} else {
		a.flash(r, "success", components.LeaveKindLabel(lr.Kind)+" requested: "+components.Days(lr.Days)+".")
	}
	redirect(w, r, leavePath(lr.ID))
}

func isAre(n int32) string {
	if n == 1 {
		return "is"
	}
	return "are"
}

func isExclusionViolation(err error, constraint string) bool {
	c, ok := db.IsExclusionViolation(err)
	return ok && c == constraint
}

func (a *App) leaveShow(w http.ResponseWriter, r *http.Request) {
	id, err := idFromURL(r)
	if err != nil {
		a.handleError(w, r, err)
		return
	}
	a.leaveDetailPage(w, r, http.StatusOK, id, "")
}

// leaveDetailPage renders request id with status; problem, when set, says
// why the action just tried was refused.
func (a *App) leaveDetailPage(w http.ResponseWriter, r *http.Request, status int, id int64, problem string) {
	var (
		l       db.LeaveRequestDetailRow
		b       components.Balance
		history []db.AuditLog
	)
	err := a.db.Read(r.Context(), func(ctx context.Context, q *db.Queries) (err error) {
		if l, err = q.LeaveRequestDetail(ctx, id); err != nil {
			return err
		}
		if b, err = a.leaveBalance(ctx, q, l.EmployeeID, l.StartDate.Year()); err != nil {
			return err
		}
		history, err = q.RecordAudit(ctx, db.RecordAuditParams{Entity: "leave_request", EntityID: &id, MaxRows: 10})
		return err
	})
	if err != nil {
		a.handleError(w, r, err)
		return
	}
	name := l.FirstName + " " + l.LastName
	v := pages.LeaveDetailView{
		ID: l.ID, EmployeeID: l.EmployeeID, Employee: name, JobTitle: l.JobTitle, Department: l.DepartmentName,
		Kind: l.Kind, Status: l.Status, Start: l.StartDate, End: l.EndDate, Days: l.Days, Note: l.Note,
		RequestedBy: l.RequestedByName, CreatedAt: l.CreatedAt, DecidedBy: l.DecidedByName, DecidedAt: l.DecidedAt,
		Balance: b, Problem: problem, History: toAuditRows(history),
	}
	a.render(w, r, status, pages.LeaveDetail(a.page(r, components.LeaveKindLabel(l.Kind)+": "+name, "leave"), v))
}

// leaveAction is a decision on a request: the status it moves to and the
// statuses it may move from.
type leaveAction struct {
	Name string // approve, reject, cancel: the URL and the audit action leave.NAME
	To   string
	From []string
	Done string // how the flash says it
}

var (
	leaveApprove = leaveAction{Name: "approve", To: "approved", From: []string{"pending"}, Done: "approved"}
	leaveReject  = leaveAction{Name: "reject", To: "rejected", From: []string{"pending"}, Done: "rejected"}
	// Cancelling approved leave gives its days back.
	leaveCancel = leaveAction{Name: "cancel", To: "cancelled", From: []string{"pending", "approved"}, Done: "cancelled"}
)

// errOverdraw refuses an approval that would take more than is left.
type errOverdraw struct {
	need, left int32
	year       int
}

func (e errOverdraw) Error() string { return "leave: approval would overdraw the balance" }

// errLeaveStatus refuses a decision the request's status does not allow.
type errLeaveStatus struct{ status string }

func (e errLeaveStatus) Error() string { return "leave: request is " + e.status }

func (a *App) leaveApprovePost(w http.ResponseWriter, r *http.Request) {
	a.leaveDecide(w, r, leaveApprove)
}
func (a *App) leaveRejectPost(w http.ResponseWriter, r *http.Request) {
	a.leaveDecide(w, r, leaveReject)
}
func (a *App) leaveCancelPost(w http.ResponseWriter, r *http.Request) {
	a.leaveDecide(w, r, leaveCancel)
}

// leaveDecide applies act to the request of the URL: 303 back to it when
// done (or when it was done already, by a double click or a colleague),
// 409 with the reason when it cannot be done; nothing changes then.
func (a *App) leaveDecide(w http.ResponseWriter, r *http.Request, act leaveAction) {
	id, err := idFromURL(r)
	if err != nil {
		a.handleError(w, r, err)
		return
	}
	decider := currentUser(r.Context()).ID
	var (
		before, after db.LeaveRequest
		already       bool
	)
	err = a.db.InTxIdempotent(r.Context(), func(ctx context.Context, q *db.Queries) (err error) {
		already = false
		// The request's employee never changes, so it can be read before
		// the lock; everything checked is read again after it.
		if before, err = q.GetLeaveRequest(ctx, id); err != nil {
			return err
		}
		if _, err = lockEmployeeForLeave(ctx, q, before.EmployeeID); err != nil {
			return err
		}
		if before, err = q.GetLeaveRequest(ctx, id); err != nil {
			return err
		}
		if before.Status == act.To {
			already = true
			return nil
		}
		if !slices.Contains(act.From, before.Status) {
			return errLeaveStatus{before.Status}
		}
		if act.To == "approved" && before.Kind == "annual" {
			b, err := a.leaveBalance(ctx, q, before.EmployeeID, before.StartDate.Year())
			if err != nil {
				return err
			}
			if before.Days > b.Left() {
				return errOverdraw{need: before.Days, left: b.Left(), year: b.Year}
			}
		}
		after, err = q.DecideLeaveRequest(ctx, db.DecideLeaveRequestParams{ID: id, FromStatus: before.Status, ToStatus: act.To, DecidedBy: &decider})
		if err != nil {
			return err
		}
		return a.audit(ctx, q, r, auditEntry{Action: "leave." + act.Name, Entity: "leave_request", EntityID: id,
			Before: toAuditLeave(before), After: toAuditLeave(after)})
	})
	var (
		overdraw errOverdraw
		status   errLeaveStatus
	)
	switch {
	case errors.As(err, &overdraw):
		a.leaveDetailPage(w, r, http.StatusConflict, id, fmt.Sprintf(
			"Not approved: this request needs %s, and only %s of %d's annual leave %s left. Raise the allowance or cancel other leave first.",
			components.Days(overdraw.need), components.Days(max(overdraw.left, 0)), overdraw.year, isAre(overdraw.left)))
	case errors.As(err, &status):
		a.leaveDetailPage(w, r, http.StatusConflict, id, "This request is "+status.status+", so it cannot be "+act.Done+".")
	case err != nil:
		a.handleError(w, r, err)
	case already:
		a.flash(r, "info", "This request was already "+act.Done+".")
		redirect(w, r, leavePath(id))
	default:
		a.flash(r, "success", components.LeaveKindLabel(after.Kind)+" "+act.Done+": "+components.Days(after.Days)+
			" from "+after.StartDate.Format(time.DateOnly)+".")
		redirect(w, r, leavePath(id))
	}
}

// employeeLeaveRecent is how many of an employee's requests their page lists.
const employeeLeaveRecent = 8

// employeeLeave is the leave section of an employee's page: this year's
// balance and the latest requests. q is the page's read.
func (a *App) employeeLeave(ctx context.Context, q *db.Queries, employeeID int64) (pages.EmployeeLeave, error) {
	var v pages.EmployeeLeave
	var err error
	if v.Balance, err = a.leaveBalance(ctx, q, employeeID, time.Now().Year()); err != nil {
		return v, err
	}
	rows, err := q.EmployeeLeave(ctx, db.EmployeeLeaveParams{EmployeeID: employeeID, MaxRows: employeeLeaveRecent + 1})
	if err != nil {
		return v, err
	}
	if len(rows) > employeeLeaveRecent {
		rows, v.More = rows[:employeeLeaveRecent], true
	}
	for _, l := range rows {
		v.Recent = append(v.Recent, partials.LeaveRow{ID: l.ID, EmployeeID: employeeID, Kind: l.Kind, Start: l.StartDate, End: l.EndDate, Days: l.Days, Status: l.Status})
	}
	return v, nil
}
