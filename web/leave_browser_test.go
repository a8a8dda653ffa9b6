package web_test

import (
	"context"
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"hris/db"
)

// seedDemoLeave gives the demo employees the leave `hris seed` gives them.
func (e *env) seedDemoLeave() {
	e.t.Helper()
	year := int32(time.Now().Year())
	err := e.DB.InTx(context.Background(), func(ctx context.Context, q *db.Queries) error {
		_, err := q.SeedLeave(ctx, db.SeedLeaveParams{FirstYear: year - 1, LastYear: year + 1, FirstID: 1, LastID: math.MaxInt32})
		return err
	})
	if err != nil {
		e.t.Fatalf("seed leave: %v", err)
	}
}

// TestBrowserLeave is an HR user's leave day: the list, a request for an
// employee found by typing their name (first with a mistake), approving
// it and seeing the balance change on the request and the employee's
// page; then choosing a manager by name on the employee form. Screenshots
// of the leave pages, light and dark, and at phone width.
func TestBrowserLeave(t *testing.T) {
	e := newEnv(t)
	e.seedDemo(60)
	e.seedDemoLeave()
	fin := e.int64("SELECT id FROM departments WHERE name = 'Finance'")
	zora := e.employee("Zora", "Quillfeather", "zora@example.com", &fin, nil)
	emp := "/employees/" + strconv.FormatInt(zora, 10)
	email, pw := e.user("hr")
	name := e.str("SELECT name FROM users WHERE email = $1", email)
	tb := e.newTab(t)
	tb.loginForm(email, pw)

	tb.click(`nav a[href="/leave"]`, true)
	tb.checkShell("Leave", name, "hr")
	if n := len(tb.p().MustElements("#leave-results tbody tr")); n != 50 {
		t.Errorf("the leave list shows %d rows, want a page of 50", n)
	}
	tb.screenshot("leave")
	// Filtering by status reloads the results in place.
	tb.p().MustEval(`() => { window.hrisMarker = "same page" }`)
	tb.choose("#status", "Pending")
	tb.waitJS("pending requests only", `document.querySelectorAll("#leave-results tbody tr").length > 0 &&
		[...document.querySelectorAll("#leave-results tbody .badge")].every(b => b.textContent === "pending")`)
	if tb.p().MustEval(`() => window.hrisMarker`).Str() != "same page" || tb.path() != "/leave?status=pending" {
		t.Errorf("the status filter reloaded the page or left the address at %s", tb.path())
	}
	tb.phone()
	if out := tb.overflow(); len(out) > 0 {
		t.Errorf("/leave at 390px scrolls sideways:\n  %s", strings.Join(out, "\n  "))
	}
	tb.screenshot("leave-phone")
	tb.desktop()

	// Zora's page: this year's balance, untouched.
	tb.open(emp)
	if got := tb.el("[data-balance-left]").MustText(); got != "25" {
		t.Errorf("Zora's balance shows %s left, want 25", got)
	}

	// A request through the form: Zora found by typing, then a mistake.
	tb.click(`nav a[href="/leave"]`, true)
	tb.click(`.page-head a[href="/leave/new"]`, true)
	tb.checkShell("Request leave", name, "hr")
	tb.typeSearch("#employee_id", "quillf", 250*time.Millisecond)
	tb.waitJS("Zora among the choices", `document.querySelector("#employee_id-choices input[value='`+strconv.FormatInt(zora, 10)+`']") !== null`)
	tb.click(`#employee_id-choices input[value='`+strconv.FormatInt(zora, 10)+`']`, false)
	if got := tb.value("#employee_id"); got != "" {
		t.Errorf("choosing a match left %q in the search box", got)
	}
	first := time.Date(time.Now().Year(), 6, 1, 0, 0, 0, 0, time.UTC)
	for first.Weekday() != time.Monday {
		first = first.AddDate(0, 0, 1)
	}
	tb.choose("#kind", "Annual leave")
	tb.date("#start_date", first.AddDate(0, 0, 4))
	tb.date("#end_date", first)
	tb.fill("#note", "Summer holiday")
	tb.click(`form[action="/leave"] button[type=submit]`, true)
	if tb.status() != http.StatusUnprocessableEntity {
		t.Fatalf("last day before the first: status %d, want 422\n%s", tb.status(), tb.text())
	}
	if got := tb.el("#end_date-error").MustText(); got != "The last day is before the first day." {
		t.Errorf("end date message %q", got)
	}
	if v, _ := tb.el(`#employee_id-choices input:checked`).Attribute("value"); v == nil || *v != strconv.FormatInt(zora, 10) {
		t.Error("the form lost the chosen employee")
	}
	if !strings.Contains(tb.el(".balance-note").MustText(), "Annual leave "+strconv.Itoa(first.Year())) {
		t.Error("the form does not show Zora's balance")
	}
	tb.screenshot("leave-form-errors")
	tb.date("#start_date", first)
	tb.date("#end_date", first.AddDate(0, 0, 4))
	tb.click(`form[action="/leave"] button[type=submit]`, true)
	if !strings.HasPrefix(tb.path(), "/leave/") {
		t.Fatalf("after requesting at %s (status %d):\n%s", tb.path(), tb.status(), tb.text())
	}
	if got := tb.el(".flash-success").MustText(); got != "Annual leave requested: 5 days." {
		t.Errorf("flash %q", got)
	}
	tb.checkShell("Annual leave: Zora Quillfeather", name, "hr")
	if got := tb.el("[data-balance-left]").MustText(); got != "25" {
		t.Errorf("a pending request shows %s left, want 25 (pending is not taken)", got)
	}
	tb.screenshot("leave-request")

	// Approve: the balance drops by five.
	tb.click(`form[action$="/approve"] button`, true)
	if got := tb.el(".flash-success").MustText(); !strings.HasPrefix(got, "Annual leave approved: 5 days from ") {
		t.Errorf("flash %q", got)
	}
	if got := tb.el("[data-balance-left]").MustText(); got != "20" {
		t.Errorf("after approving 5 days %s left, want 20", got)
	}
	if tb.has(`form[action$="/approve"]`) {
		t.Error("an approved request still offers Approve")
	}
	tb.screenshot("leave-approved")
	tb.phone()
	if out := tb.overflow(); len(out) > 0 {
		t.Errorf("the request page at 390px scrolls sideways:\n  %s", strings.Join(out, "\n  "))
	}
	tb.screenshot("leave-approved-phone")
	tb.desktop()

	tb.open(emp)
	if got := tb.el("[data-balance-left]").MustText(); got != "20" {
		t.Errorf("Zora's page shows %s left, want 20", got)
	}
	if !strings.Contains(tb.el("#leave-heading").MustParent().MustParent().MustText(), "approved") {
		t.Error("Zora's page does not list the approved request")
	}
	tb.screenshot("employee-leave")
	tb.phone()
	if out := tb.overflow(); len(out) > 0 {
		t.Errorf("the employee page at 390px scrolls sideways:\n  %s", strings.Join(out, "\n  "))
	}
	tb.screenshot("employee-leave-phone")
	tb.desktop()

	// The manager picker: type a name, choose, save.
	boss := e.int64("SELECT id FROM employees WHERE id <> $1 AND status = 'active' ORDER BY id LIMIT 1", zora)
	bossName := e.str("SELECT first_name || ' ' || last_name FROM employees WHERE id = $1", boss)
	tb.open(emp + "/edit")
	tb.typeSearch("#manager_id", strings.Split(bossName, " ")[1], 250*time.Millisecond)
	tb.waitJS("the manager among the choices", `document.querySelector("#manager_id-choices input[value='`+strconv.FormatInt(boss, 10)+`']") !== null`)
	tb.screenshot("employee-manager-picker")
	tb.click(`#manager_id-choices input[value='`+strconv.FormatInt(boss, 10)+`']`, false)
	tb.click(`form[action="`+emp+`"] button[type=submit]`, true)
	if got := tb.el(".flash").MustText(); got != "Employee Zora Quillfeather updated." {
		t.Fatalf("saving the manager: flash %q\n%s", got, tb.text())
	}
	if n := e.count("SELECT count(*) FROM employees WHERE id = $1 AND manager_id = $2", zora, boss); n != 1 {
		t.Error("the manager chosen by name was not saved")
	}
}
