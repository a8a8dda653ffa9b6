package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"hris/db/dbtest"
	"hris/web"
)

// leaveYear is next year: every test date falls in it, so that the year
// range the form accepts and the hire dates (2020) never get in the way.
var leaveYear = time.Now().Year() + 1

// monday is the Monday of week w (1-based) of leaveYear.
func monday(w int) time.Time {
	d := time.Date(leaveYear, 1, 1, 0, 0, 0, 0, time.UTC)
	for d.Weekday() != time.Monday {
		d = d.AddDate(0, 0, 1)
	}
	return d.AddDate(0, 0, 7*(w-1))
}

func day(t time.Time) string { return t.Format(time.DateOnly) }

// leaveForm is a valid request form: kind from start to end.
func leaveForm(employee int64, kind string, start, end time.Time) url.Values {
	return url.Values{
		"employee_id":     {strconv.FormatInt(employee, 10)},
		"kind":            {kind},
		"start_date":      {day(start)},
		"end_date":        {day(end)},
		"idempotency_key": {uuid.NewString()},
	}
}

// request creates a leave request through the form and returns its id.
func (c *client) request(t *testing.T, employee int64, kind string, start, end time.Time) int64 {
	t.Helper()
	return createdID(t, c.post("/leave", leaveForm(employee, kind, start, end)), "/leave/")
}

func leavePath(id int64) string { return "/leave/" + strconv.FormatInt(id, 10) }

func TestWorkingDays(t *testing.T) {
	d := func(s string) time.Time { t, _ := time.Parse(time.DateOnly, s); return t }
	for _, tc := range []struct {
		start, end string
		want       int
	}{
		{"2025-07-14", "2025-07-14", 1}, // a Monday
		{"2025-07-14", "2025-07-18", 5}, // Monday to Friday
		{"2025-07-14", "2025-07-20", 5}, // and the weekend
		{"2025-07-19", "2025-07-20", 0}, // only the weekend
		{"2025-07-18", "2025-07-21", 2}, // Friday to Monday
		{"2025-01-01", "2025-12-31", 261},
		{"2025-07-18", "2025-07-14", 0}, // backwards
	} {
		if got := web.WorkingDays(web.Weekdays{}, d(tc.start), d(tc.end)); got != tc.want {
			t.Errorf("%s to %s: %d working days, want %d", tc.start, tc.end, got, tc.want)
		}
	}
	// A holiday calendar takes its dates out.
	cal := web.Holidays{Base: web.Weekdays{}, Dates: map[string]bool{"2025-12-25": true, "2025-12-26": true, "2025-12-27": true}}
	if got := web.WorkingDays(cal, d("2025-12-22"), d("2025-12-28")); got != 3 {
		t.Errorf("Christmas week with two holidays on weekdays: %d working days, want 3", got)
	}
}

func TestLeaveCreateShowAndRepeat(t *testing.T) {
	e := newEnv(t)
	dept := e.department("Finance")
	emp := e.employee("Ada", "Lovelace", "ada@example.com", &dept, nil)
	c := e.loggedIn("hr")

	c.get("/leave/new?employee_id="+strconv.FormatInt(emp, 10)).expect(t, http.StatusOK)
	f := leaveForm(emp, "annual", monday(10), monday(10).AddDate(0, 0, 6)) // Monday to Sunday: 5 days
	f.Set("note", "Family visit")
	r := c.post("/leave", f)
	id := createdID(t, r, "/leave/")
	// The same form again (a double click, a retried submit): the same
	// request, no second row.
	if again := createdID(t, c.post("/leave", f), "/leave/"); again != id {
		t.Errorf("repeated submit went to request %d, want %d", again, id)
	}
	if n := e.count("SELECT count(*) FROM leave_requests"); n != 1 {
		t.Errorf("%d requests after a repeated submit, want 1", n)
	}
	if n := e.count("SELECT count(*) FROM leave_requests WHERE id = $1 AND employee_id = $2 AND kind = 'annual' AND days = 5 AND status = 'pending' AND department_id = $3 AND note = 'Family visit'", id, emp, dept); n != 1 {
		t.Error("the request was not saved as submitted (5 working days, pending, the employee's department)")
	}
	if n := e.count("SELECT count(*) FROM audit_log WHERE action = 'leave.create' AND entity = 'leave_request' AND entity_id = $1", id); n != 1 {
		t.Errorf("%d leave.create audit rows, want 1", n)
	}
	page := c.get(leavePath(id)).expect(t, http.StatusOK).Body
	for _, want := range []string{"Annual leave: Ada Lovelace", "pending", "Family visit", "Finance", "leave.create"} {
		if !strings.Contains(page, want) {
			t.Errorf("request page lacks %q", want)
		}
	}
	// The employee's page: this year's balance (next year's leave is not
	// in it) and the request in the list.
	empPage := c.get("/employees/"+strconv.FormatInt(emp, 10)).expect(t, http.StatusOK).Body
	if !strings.Contains(empPage, `href="/leave/`+strconv.FormatInt(id, 10)+`"`) || !strings.Contains(empPage, "Annual leave "+strconv.Itoa(leaveYear-1)) {
		t.Error("the employee page lacks the balance or the request")
	}
	if got := balanceLeft(t, empPage); got != web.DefaultLeaveAnnualDays {
		t.Errorf("this year's balance shows %d left, want the default %d", got, web.DefaultLeaveAnnualDays)
	}
}

var leftRE = regexp.MustCompile(`data-balance-left>(-?\d+)<`)

// balanceLeft is the "left" figure of the first balance on a page.
func balanceLeft(t *testing.T, body string) int {
	t.Helper()
	m := leftRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no balance on the page")
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

func TestLeaveValidation(t *testing.T) {
	e := newEnv(t)
	emp := e.employee("Ada", "Lovelace", "ada@example.com", nil, nil) // hired 2020-01-01
	gone := e.employee("Ben", "Gone", "ben@example.com", nil, nil)
	e.exec("UPDATE employees SET status = 'terminated', termination_date = make_date($1, 3, 31) WHERE id = $2", leaveYear, gone)
	c := e.loggedIn("hr")
	mon := monday(20)
	sat := mon.AddDate(0, 0, 5)
	cases := []struct {
		name       string
		set        map[string]string
		field, msg string
	}{
		{"no employee", map[string]string{"employee_id": ""}, "employee_id", "Choose the employee"},
		{"employee not a number", map[string]string{"employee_id": "ada"}, "employee_id", "Choose the employee from the list"},
		{"employee unknown", map[string]string{"employee_id": "999999"}, "employee_id", "no employee with this number"},
		{"name matches nobody", map[string]string{"employee_id": "", "employee_id_q": "Zebedee"}, "employee_id", "Nobody matches"},
		{"kind unknown", map[string]string{"kind": "holiday"}, "kind", "Choose annual, sick or unpaid"},
		{"no first day", map[string]string{"start_date": ""}, "start_date", "Enter the first day"},
		{"first day format", map[string]string{"start_date": "14/07/2025"}, "start_date", "YYYY-MM-DD"},
		{"no last day", map[string]string{"end_date": ""}, "end_date", "Enter the last day"},
		{"last day impossible", map[string]string{"end_date": day(mon)[:5] + "02-30"}, "end_date", "YYYY-MM-DD"},
		{"end before start", map[string]string{"end_date": day(mon.AddDate(0, 0, -1))}, "end_date", "before the first day"},
		{"into the next year", map[string]string{"end_date": strconv.Itoa(leaveYear+1) + "-01-05"}, "end_date", "cannot run into the next year"},
		{"weekend only", map[string]string{"start_date": day(sat), "end_date": day(sat.AddDate(0, 0, 1))}, "end_date", "no working day"},
		{"too far ahead", map[string]string{"start_date": "2999-01-04", "end_date": "2999-01-05"}, "start_date", "Enter dates from"},
		{"before hire", map[string]string{"start_date": "2019-12-30", "end_date": "2019-12-31"}, "start_date", "Enter dates from"},
		{"note too long", map[string]string{"note": strings.Repeat("n", 1001)}, "note", "at most 1000"},
		{"after leaving", map[string]string{"employee_id": strconv.FormatInt(gone, 10)}, "end_date", "left on"},
		{"more than the allowance", map[string]string{"end_date": day(mon.AddDate(0, 0, 7*5+4))}, "end_date", "Only 25 days of annual leave are left"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := leaveForm(emp, "annual", mon, mon.AddDate(0, 0, 2))
			for k, v := range tc.set {
				f.Set(k, v)
			}
			r := c.post("/leave", f).expect(t, http.StatusUnprocessableEntity)
			if got := fieldError(r.Body, tc.field); !strings.Contains(got, tc.msg) {
				t.Errorf("error next to %s = %q, want it to mention %q", tc.field, got, tc.msg)
			}
			// What was typed comes back, and the key with it.
			if !strings.Contains(r.Body, `value="`+f.Get("idempotency_key")+`"`) {
				t.Error("the re-rendered form lost its idempotency key")
			}
			for _, field := range []string{"start_date", "end_date"} {
				if v := f.Get(field); v != "" && !strings.Contains(r.Body, `value="`+v+`"`) {
					t.Errorf("the form does not show the typed %s %q again", field, v)
				}
			}
		})
	}
	// Before the hire date, inside the accepted years.
	e.exec("UPDATE employees SET hire_date = $1 WHERE id = $2", mon.AddDate(0, 0, 7), emp)
	r := c.post("/leave", leaveForm(emp, "sick", mon, mon)).expect(t, http.StatusUnprocessableEntity)
	if got := fieldError(r.Body, "start_date"); !strings.Contains(got, "started on") {
		t.Errorf("leave before the hire date: %q", got)
	}
	if n := e.count("SELECT count(*) FROM leave_requests"); n != 0 {
		t.Errorf("invalid forms created %d requests", n)
	}
	if n := e.count("SELECT count(*) FROM audit_log WHERE action LIKE 'leave.%'"); n != 0 {
		t.Errorf("invalid forms wrote %d audit rows", n)
	}
}

func TestLeaveOverlap(t *testing.T) {
	e := newEnv(t)
	emp := e.employee("Ada", "Lovelace", "ada@example.com", nil, nil)
	other := e.employee("Ben", "Other", "ben@example.com", nil, nil)
	c := e.loggedIn("hr")
	mon := monday(12)
	first := c.request(t, emp, "annual", mon, mon.AddDate(0, 0, 2)) // Monday to Wednesday

	overlaps := func(kind string, start, end time.Time) {
		t.Helper()
		r := c.post("/leave", leaveForm(emp, kind, start, end)).expect(t, http.StatusUnprocessableEntity)
		if got := fieldError(r.Body, "start_date"); !strings.Contains(got, "overlap") || !strings.Contains(got, "#"+strconv.FormatInt(first, 10)) {
			t.Errorf("%s %s to %s: message %q, want one naming request #%d", kind, day(start), day(end), got, first)
		}
	}
	overlaps("annual", mon.AddDate(0, 0, 2), mon.AddDate(0, 0, 4))  // Wednesday to Friday
	overlaps("sick", mon.AddDate(0, 0, -3), mon)                    // Friday before to Monday
	overlaps("unpaid", mon.AddDate(0, 0, -7), mon.AddDate(0, 0, 7)) // around it
	// Next to it, and another employee on the same days: fine.
	c.request(t, emp, "sick", mon.AddDate(0, 0, 3), mon.AddDate(0, 0, 3))
	c.request(t, other, "annual", mon, mon.AddDate(0, 0, 2))

	// Approved leave blocks too; rejected and cancelled leave does not.
	c.post(leavePath(first)+"/approve", nil).expect(t, http.StatusSeeOther)
	overlaps("unpaid", mon.AddDate(0, 0, 1), mon.AddDate(0, 0, 1))
	c.post(leavePath(first)+"/cancel", nil).expect(t, http.StatusSeeOther)
	again := c.request(t, emp, "unpaid", mon.AddDate(0, 0, 1), mon.AddDate(0, 0, 1))
	c.post(leavePath(again)+"/reject", nil).expect(t, http.StatusSeeOther)
	c.request(t, emp, "annual", mon, mon.AddDate(0, 0, 2))
	if n := e.count("SELECT count(*) FROM leave_requests WHERE employee_id = $1", emp); n != 4 {
		t.Errorf("%d requests of Ada, want 4", n)
	}
	// The database refuses overlaps on its own, whatever the code does.
	if _, err := e.DB.Pool.Exec(t.Context(), `INSERT INTO leave_requests (employee_id, kind, start_date, end_date, days) VALUES ($1, 'sick', $2, $2, 1)`,
		emp, mon); err == nil || !strings.Contains(err.Error(), "leave_requests_no_overlap") {
		t.Errorf("an overlapping insert: %v, want the exclusion constraint", err)
	}
}

func TestLeaveDecisions(t *testing.T) {
	e := newEnv(t)
	emp := e.employee("Ada", "Lovelace", "ada@example.com", nil, nil)
	c := e.loggedIn("hr")
	mon := monday(8)
	id := c.request(t, emp, "annual", mon, mon.AddDate(0, 0, 4)) // 5 days

	r := c.post(leavePath(id)+"/approve", nil).expect(t, http.StatusSeeOther)
	if r.Header.Get("Location") != leavePath(id) {
		t.Errorf("approve went to %q", r.Header.Get("Location"))
	}
	page := c.get(leavePath(id)).expect(t, http.StatusOK).Body
	if !strings.Contains(page, "Annual leave approved") || !strings.Contains(page, "badge ok\">approved") {
		t.Error("the request page does not show the approval")
	}
	if got := balanceLeft(t, page); got != 20 {
		t.Errorf("%d days left after approving 5 of 25, want 20", got)
	}
	// Approving again (a double click, a colleague): no change, no audit.
	c.post(leavePath(id)+"/approve", nil).expect(t, http.StatusSeeOther)
	if !strings.Contains(c.get(leavePath(id)).Body, "already approved") {
		t.Error("a second approval does not say it was approved already")
	}
	// Rejecting approved leave is refused; cancelling gives the days back.
	r = c.post(leavePath(id)+"/reject", nil).expect(t, http.StatusConflict)
	if !strings.Contains(r.Body, "This request is approved, so it cannot be rejected.") {
		t.Errorf("reject of approved leave:\n%s", r.Body)
	}
	c.post(leavePath(id)+"/cancel", nil).expect(t, http.StatusSeeOther)
	if got := balanceLeft(t, c.get(leavePath(id)).Body); got != 25 {
		t.Errorf("%d days left after cancelling, want 25", got)
	}
	r = c.post(leavePath(id)+"/approve", nil).expect(t, http.StatusConflict)
	if !strings.Contains(r.Body, "This request is cancelled, so it cannot be approved.") {
		t.Error("approving cancelled leave is not refused with a reason")
	}
	for action, want := range map[string]int{"leave.approve": 1, "leave.reject": 0, "leave.cancel": 1} {
		if n := e.count("SELECT count(*) FROM audit_log WHERE action = $1 AND entity_id = $2", action, id); n != want {
			t.Errorf("%d %s audit rows, want %d", n, action, want)
		}
	}
	if n := e.count("SELECT count(*) FROM leave_requests WHERE id = $1 AND status = 'cancelled' AND version = 3 AND decided_by IS NOT NULL", id); n != 1 {
		t.Error("the request is not cancelled at version 3 with who decided")
	}
	c.post("/leave/999999/approve", nil).expect(t, http.StatusNotFound)
	c.post("/leave/nope/approve", nil).expect(t, http.StatusNotFound)
}

func TestLeaveApprovalRefusedWhenItWouldOverdraw(t *testing.T) {
	e := newEnv(t)
	emp := e.employee("Ada", "Lovelace", "ada@example.com", nil, nil)
	c := e.loggedIn("hr")
	path := "/employees/" + strconv.FormatInt(emp, 10) + "/allowance/" + strconv.Itoa(leaveYear)
	c.post(path, url.Values{"days": {"4"}, "version": {"0"}}).expect(t, http.StatusSeeOther)
	a := c.request(t, emp, "annual", monday(3), monday(3).AddDate(0, 0, 2))
	b := c.request(t, emp, "annual", monday(5), monday(5).AddDate(0, 0, 2))
	sick := c.request(t, emp, "sick", monday(7), monday(7).AddDate(0, 0, 4))
	if page := c.get(leavePath(b)).Body; !strings.Contains(page, "pending requests exceed what is left by 2 days") {
		t.Error("the balance does not warn that pending requests exceed the allowance")
	}
	c.post(leavePath(a)+"/approve", nil).expect(t, http.StatusSeeOther)
	r := c.post(leavePath(b)+"/approve", nil).expect(t, http.StatusConflict)
	if !strings.Contains(r.Body, "Not approved: this request needs 3 days, and only 1 day of "+strconv.Itoa(leaveYear)+"&#39;s annual leave is left.") {
		t.Errorf("refusal does not say how many days are left:\n%s", r.Body)
	}
	if n := e.count("SELECT count(*) FROM leave_requests WHERE id = $1 AND status = 'pending' AND version = 1", b); n != 1 {
		t.Error("the refused approval changed the request")
	}
	if n := e.count("SELECT count(*) FROM audit_log WHERE entity_id = $1 AND action = 'leave.approve'", b); n != 0 {
		t.Error("the refused approval was audited")
	}
	// Sick leave is recorded, not deducted.
	c.post(leavePath(sick)+"/approve", nil).expect(t, http.StatusSeeOther)
	if got := balanceLeft(t, c.get(leavePath(a)).Body); got != 1 {
		t.Errorf("%d days left, want 1 (4 less 3; sick leave not counted)", got)
	}
	// Raising the allowance lets it through.
	c.post(path, url.Values{"days": {"6"}, "version": {"1"}}).expect(t, http.StatusSeeOther)
	c.post(leavePath(b)+"/approve", nil).expect(t, http.StatusSeeOther)
}

func TestLeaveAllowance(t *testing.T) {
	e := newEnvConfig(t, dbtest.Config(t), web.Config{LeaveAnnualDays: 20})
	emp := e.employee("Ada", "Lovelace", "ada@example.com", nil, nil)
	c := e.loggedIn("hr")
	path := "/employees/" + strconv.FormatInt(emp, 10) + "/allowance/" + strconv.Itoa(leaveYear)
	page := c.get(path).expect(t, http.StatusOK).Body
	if !strings.Contains(page, `name="days" type="number" value="20"`) || !strings.Contains(page, `name="version" value="0"`) {
		t.Fatalf("allowance form does not start at the configured default 20, version 0:\n%s", page)
	}
	c.request(t, emp, "annual", monday(2), monday(2).AddDate(0, 0, 4)) // 5 days
	id := c.request(t, emp, "annual", monday(4), monday(4).AddDate(0, 0, 2))
	c.post(leavePath(id)+"/approve", nil).expect(t, http.StatusSeeOther) // 3 taken

	for _, tc := range []struct{ days, msg string }{
		{"", "Enter the number of days."},
		{"ten", "whole number of days"},
		{"-1", "whole number of days"},
		{"367", "whole number of days"},
		{"2", "3 days of " + strconv.Itoa(leaveYear) + " are approved already"},
	} {
		r := c.post(path, url.Values{"days": {tc.days}, "version": {"0"}}).expect(t, http.StatusUnprocessableEntity)
		if got := fieldError(r.Body, "days"); !strings.Contains(got, tc.msg) {
			t.Errorf("days %q: %q, want %q", tc.days, got, tc.msg)
		}
	}
	c.post(path, url.Values{"days": {"30"}, "version": {"0"}}).expect(t, http.StatusSeeOther)
	// A second form opened on the default is stale now.
	r := c.post(path, url.Values{"days": {"22"}, "version": {"0"}}).expect(t, http.StatusConflict)
	if !strings.Contains(r.Body, "Someone changed this allowance") || !strings.Contains(r.Body, `name="version" value="1"`) {
		t.Error("the stale save does not explain itself or offer the saved version")
	}
	if n := e.count("SELECT count(*) FROM leave_allowances WHERE employee_id = $1 AND year = $2 AND days = 30 AND version = 1", emp, leaveYear); n != 1 {
		t.Error("allowance not saved as 30 at version 1, or overwritten by the stale save")
	}
	if got := balanceLeft(t, c.get(leavePath(id)).Body); got != 27 {
		t.Errorf("%d left, want 30 - 3", got)
	}
	if n := e.count(`SELECT count(*) FROM audit_log WHERE action = 'leave.allowance' AND entity = 'employee' AND entity_id = $1
		AND before->>'days' = '20' AND before->>'default' = 'true' AND after->>'days' = '30'`, emp); n != 1 {
		t.Error("the allowance change is not audited with before and after")
	}
	// Other years keep the default.
	if n := e.count("SELECT count(*) FROM leave_allowances WHERE year <> $1", leaveYear); n != 0 {
		t.Error("setting one year's allowance touched another year")
	}
	c.get("/employees/"+strconv.FormatInt(emp, 10)+"/allowance/nope").expect(t, http.StatusNotFound)
	c.get("/employees/999999/allowance/2025").expect(t, http.StatusNotFound)
}
