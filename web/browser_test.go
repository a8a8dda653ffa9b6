package web_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-rod/rod"
	"github.com/go-rod/rod/lib/proto"

	"hris/db"
	"hris/db/dbtest"
	"hris/db/pglocal"
	"hris/web"
)

func TestBrowserLoginAndLogout(t *testing.T) {
	e := newEnv(t)
	email, pw := e.user("admin")
	tb := e.newTab(t)

	tb.open("/employees") // anonymous: sent to the login page
	if !strings.HasPrefix(tb.path(), "/login") {
		t.Fatalf("anonymous visit ended at %s, want /login", tb.path())
	}
	if tb.title() != "Log in · hris" {
		t.Errorf("title %q", tb.title())
	}
	tb.screenshot("login") // checked with axe too, in both themes

	tb.fill("#email", email)
	tb.fill("#password", "not the password")
	tb.click("button[type=submit]", true)
	if !strings.Contains(tb.text(), "Email or password is incorrect.") {
		t.Fatalf("no message after a wrong password:\n%s", tb.text())
	}
	if found := tb.accessibility(); len(found) > 0 {
		t.Errorf("login page with its error: axe finds:\n  %s", strings.Join(found, "\n  "))
	}
	if v, _ := tb.el("#email").Property("value"); v.Str() != email {
		t.Errorf("email field lost what was typed: %q", v.Str())
	}

	tb.fill("#password", pw)
	tb.click("button[type=submit]", true)
	if tb.path() != "/employees" {
		t.Fatalf("after login at %s, want /employees (the page asked for)", tb.path())
	}
	who := tb.el(".who").MustText()
	if !strings.Contains(who, "Admin User") || !strings.Contains(strings.ToLower(who), "admin") {
		t.Errorf("navigation does not show who is logged in: %q", who)
	}
	tb.click(".who button[type=submit]", true) // Log out
	if tb.path() != "/login" || !strings.Contains(tb.text(), "You have been logged out.") {
		t.Fatalf("after logout at %s:\n%s", tb.path(), tb.text())
	}
	tb.open("/users")
	if !strings.HasPrefix(tb.path(), "/login") {
		t.Errorf("after logout /users is at %s, want the login page", tb.path())
	}
}

func TestBrowserHRSeesNoAdminNavigationAnd403(t *testing.T) {
	e := newEnv(t)
	email, pw := e.user("hr")
	tb := e.newTab(t)
	tb.loginForm(email, pw)
	nav := tb.el("nav[aria-label=Main]").MustText()
	for _, admin := range []string{"Users", "Ops", "Audit"} {
		if strings.Contains(nav, admin) {
			t.Errorf("hr navigation shows %q: %q", admin, nav)
		}
	}
	if !strings.Contains(strings.ToLower(tb.el(".who").MustText()), "hr") {
		t.Error("navigation does not show the hr role")
	}
	tb.open("/ops")
	if !strings.Contains(tb.text(), "Administrators only") {
		t.Fatalf("/ops for hr:\n%s", tb.text())
	}
	tb.screenshot("403")
}

func TestBrowserDeactivationLogsOutOtherSession(t *testing.T) {
	e := newEnv(t)
	adminEmail, adminPW := e.user("admin")
	hrEmail, hrPW := e.user("hr")
	admin := e.newTab(t)
	hr := e.newTab(t)
	hr.loginForm(hrEmail, hrPW)
	admin.loginForm(adminEmail, adminPW)

	admin.open("/users")
	row := admin.p().MustElementR("tr", hrEmail)
	btn, err := row.Element("a.button[href$='/deactivate']")
	if err != nil {
		t.Fatalf("no Deactivate button in %s's row", hrEmail)
	}
	wait := admin.p().WaitNavigation("load")
	btn.MustClick()
	wait()
	admin.click("form button.danger", true) // the confirmation page's button
	if !strings.Contains(admin.text(), "is deactivated and has been logged out") {
		t.Fatalf("no confirmation flash:\n%s", admin.text())
	}

	// The hr user's very next click lands on the login page, with a reason.
	hr.click("nav a[href='/departments']", true)
	if !strings.HasPrefix(hr.path(), "/login") {
		t.Fatalf("deactivated user's next click went to %s", hr.path())
	}
	if !strings.Contains(hr.text(), "deactivated") {
		t.Errorf("login page does not say why:\n%s", hr.text())
	}
}

func TestBrowserDatabaseDownShows503Page(t *testing.T) {
	srv, u := dbtest.NewServer(t, pglocal.Options{})
	cfg := db.DefaultConfig()
	cfg.URL = u
	cfg.AcquireTimeout = time.Second
	e := newEnvConfig(t, cfg, web.Config{})
	email, pw := e.user("hr")
	tb := e.newTab(t)
	tb.loginForm(email, pw)
	if err := srv.Stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	resp, err := http.Get(e.Srv.URL + "/login")
	if err == nil {
		resp.Body.Close()
	}
	tb.open("/departments")
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("the 503 page took %s", took)
	}
	if !strings.Contains(tb.text(), "The database is not answering right now") {
		t.Fatalf("database down:\n%s", tb.text())
	}
	tb.screenshot("503")
}

// TestBrowserEmployeeLifecycle is an HR user's day: the list with real
// data, a new employee through the form (first with mistakes, then
// right), finding them with the live search, and editing them.
func TestBrowserEmployeeLifecycle(t *testing.T) {
	e := newEnv(t)
	e.seedDemo(60)
	email, pw := e.user("hr")
	name := e.str("SELECT name FROM users WHERE email = $1", email)
	tb := e.newTab(t)
	tb.loginForm(email, pw)

	if tb.path() != "/employees" {
		t.Fatalf("after login at %s, want /employees", tb.path())
	}
	tb.checkShell("Employees", name, "hr")
	if n := len(tb.p().MustElements("#employee-results tbody tr")); n != 50 {
		t.Errorf("first page shows %d rows, want 50 of 60", n)
	}
	if !strings.Contains(tb.el("#employee-count").MustText(), "60 employees") {
		t.Errorf("count: %q", tb.el("#employee-count").MustText())
	}
	tb.screenshot("employees")

	// The form with mistakes: 422, a message next to each bad field, and
	// everything typed still there.
	tb.click(`.page-head a[href="/employees/new"]`, true)
	tb.checkShell("New employee", name, "hr")
	tb.fill("#first_name", "Zora")
	tb.fill("#email", "zora@")
	tb.fill("#job_title", "Payroll Analyst")
	tb.choose("#department_id", "Finance")
	tb.date("#hire_date", time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC))
	tb.click(`form[action="/employees"] button[type=submit]`, true)
	if tb.status() != http.StatusUnprocessableEntity || tb.path() != "/employees" {
		t.Fatalf("bad form: status %d at %s, want 422 at /employees", tb.status(), tb.path())
	}
	for field, msg := range map[string]string{
		"last_name": "Enter the last name.",
		"email":     "Enter an email address like name@example.com.",
		"hire_date": "Enter a hire date between 1900 and a year from now.",
	} {
		if got := tb.el("#" + field + "-error").MustText(); got != msg {
			t.Errorf("%s: message %q, want %q", field, got, msg)
		}
		if v := tb.el("#" + field).MustAttribute("aria-invalid"); v == nil || *v != "true" {
			t.Errorf("%s is not marked invalid", field)
		}
	}
	if tb.has("#first_name-error") || tb.has("#job_title-error") {
		t.Error("a correct field has an error message")
	}
	for field, want := range map[string]string{"first_name": "Zora", "email": "zora@", "job_title": "Payroll Analyst", "hire_date": "2099-01-01"} {
		if got := tb.value("#" + field); got != want {
			t.Errorf("%s lost what was typed: %q, want %q", field, got, want)
		}
	}
	if got := tb.el("#department_id option:checked").MustText(); got != "Finance" {
		t.Errorf("department choice lost: %q", got)
	}
	if !strings.Contains(tb.el("[role=alert]").MustText(), "Please correct the highlighted fields.") {
		t.Error("no summary above the form")
	}
	tb.checkShell("New employee", name, "hr")
	tb.screenshot("employee-form-errors")

	tb.fill("#last_name", "Quillfeather")
	tb.fill("#email", "zora.quillfeather@example.com")
	tb.date("#hire_date", time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC))
	tb.click(`form[action="/employees"] button[type=submit]`, true)
	if !strings.HasPrefix(tb.path(), "/employees/") {
		t.Fatalf("after saving at %s (status %d):\n%s", tb.path(), tb.status(), tb.text())
	}
	id := strings.TrimPrefix(tb.path(), "/employees/")
	idNum, _ := strconv.ParseInt(id, 10, 64)
	if got := tb.el(".flash-success").MustText(); got != "Employee Zora Quillfeather created." {
		t.Errorf("flash %q", got)
	}
	tb.checkShell("Zora Quillfeather", name, "hr")
	for _, want := range []string{"Payroll Analyst", "Finance", "zora.quillfeather@example.com", "2024-03-01"} {
		if !strings.Contains(tb.text(), want) {
			t.Errorf("detail page lacks %q", want)
		}
	}
	if n := e.count("SELECT count(*) FROM employees"); n != 61 {
		t.Errorf("%d employees, want 61", n)
	}
	tb.screenshot("employee-detail")

	// The live search: typing updates the table in place (htmx), once the
	// typing pauses; the page is never reloaded.
	tb.click(`nav a[href="/employees"]`, true)
	tb.p().MustEval(`() => { window.hrisMarker = "still the same page" }`)
	pauses := tb.typeSearch("#q", "quillf", 300*time.Millisecond)
	tb.waitJS("the search result", `document.querySelectorAll("#employee-results tbody tr").length === 1 &&
		document.querySelector("#employee-results tbody").textContent.includes("Zora Quillfeather")`)
	if got := tb.p().MustEval(`() => window.hrisMarker`).Str(); got != "still the same page" {
		t.Error("the search reloaded the page")
	}
	if !strings.Contains(tb.el("#employee-count").MustText(), "1 employee match") {
		t.Errorf("count after search: %q", tb.el("#employee-count").MustText())
	}
	if tb.path() != "/employees?q=quillf" {
		t.Errorf("address after search %q, want /employees?q=quillf (pushed, so reload and back work)", tb.path())
	}
	// Debounced: one search once the typing stops (two allowed), plus one
	// for each pause between keys longer than the delay, which a loaded
	// machine makes; never one per keystroke while typing goes on.
	all, hx := tb.sent("GET", "/employees?q=")
	if most := max(2, 1+pauses); hx < 1 || all != hx || hx > most {
		t.Errorf("typing 6 letters with %d pause(s) sent %d searches (%d by htmx), want 1 to %d: debounced, none a page load", pauses, all, hx, most)
	}
	t.Logf("6 keystrokes, %d pause(s) over the delay, %d search request(s)", pauses, hx)

	// Edit: change the job title.
	tb.click(`#employee-results a[href="/employees/`+id+`"]`, true)
	tb.click(`.page-head a[href="/employees/`+id+`/edit"]`, true)
	tb.checkShell("Edit employee", name, "hr")
	if tb.value("#job_title") != "Payroll Analyst" {
		t.Errorf("edit form job title %q", tb.value("#job_title"))
	}
	tb.fill("#job_title", "Payroll Lead")
	tb.click(`form[action="/employees/`+id+`"] button[type=submit]`, true)
	if tb.path() != "/employees/"+id {
		t.Fatalf("after the edit at %s:\n%s", tb.path(), tb.text())
	}
	if got := tb.el(".flash-success").MustText(); got != "Employee Zora Quillfeather updated." {
		t.Errorf("flash %q", got)
	}
	if !strings.Contains(tb.el(".page-head").MustText(), "Payroll Lead") {
		t.Errorf("detail page does not show the new title:\n%s", tb.el(".page-head").MustText())
	}
	if got := e.str("SELECT job_title FROM employees WHERE id = $1", idNum); got != "Payroll Lead" {
		t.Errorf("saved job title %q", got)
	}
}

// TestBrowserStaleEditShowsConflict opens the same employee's edit form
// in two browsers; the second save is refused with the conflict page.
func TestBrowserStaleEditShowsConflict(t *testing.T) {
	e := newEnv(t)
	e.seedDemo(0)
	fin := e.int64("SELECT id FROM departments WHERE name = 'Finance'")
	idNum := e.employee("Zora", "Quillfeather", "zora@example.com", &fin, nil)
	id := strconv.FormatInt(idNum, 10)
	aEmail, aPW := e.user("admin")
	bEmail, bPW := e.user("hr")
	a, b := e.newTab(t), e.newTab(t)
	a.loginForm(aEmail, aPW)
	b.loginForm(bEmail, bPW)
	a.open("/employees/" + id + "/edit")
	b.open("/employees/" + id + "/edit")

	a.fill("#job_title", "Head of Payroll")
	a.click(`form[action="/employees/`+id+`"] button[type=submit]`, true)
	if !strings.Contains(a.el(".flash-success").MustText(), "updated") {
		t.Fatalf("first save:\n%s", a.text())
	}

	b.fill("#job_title", "Payroll Specialist")
	b.choose("#status", "On leave")
	b.click(`form[action="/employees/`+id+`"] button[type=submit]`, true)
	if b.status() != http.StatusConflict {
		t.Fatalf("stale save: status %d, want 409\n%s", b.status(), b.text())
	}
	b.checkShell("Edit conflict", "", "")
	text := b.text()
	for _, want := range []string{"Your changes to Zora Quillfeather were not saved", "Saved now (version 2)", "Your changes",
		"Head of Payroll", "Payroll Specialist", "On leave"} {
		if !strings.Contains(text, want) {
			t.Errorf("conflict page lacks %q", want)
		}
	}
	if n := len(b.p().MustElements(".compare .badge.warn")); n != 4 {
		t.Errorf("%d fields marked as differing, want 4 (job title and status, on both sides)", n)
	}
	if got := e.str("SELECT job_title || ' ' || status FROM employees WHERE id = $1", idNum); got != "Head of Payroll active" {
		t.Errorf("saved record %q: the stale save overwrote it", got)
	}
	b.screenshot("conflict")

	// Discarding their own changes opens the form on the saved version.
	b.click(`a[href="/employees/`+id+`/edit"]`, true)
	if got := b.value("#job_title"); got != "Head of Payroll" {
		t.Errorf("reloaded form shows %q, want the saved title", got)
	}
}

// TestBrowserDoubleClickCreatesOneEmployee double-clicks Save on the new
// employee form. /static/app.js sends the form once; without it (a
// browser that did not load it) both clicks post, and the form's
// idempotency key still makes one row.
func TestBrowserDoubleClickCreatesOneEmployee(t *testing.T) {
	e := newEnv(t)
	email, pw := e.user("hr")
	for _, withScript := range []bool{true, false} {
		name := map[bool]string{true: "with app.js", false: "without app.js"}[withScript]
		t.Run(name, func(t *testing.T) {
			e.exec("DELETE FROM employees")
			tb := e.newTab(t)
			if !withScript {
				// The script arrives empty: the page runs as if it had none.
				router := tb.page.HijackRequests()
				router.MustAdd("*/static/app.js*", func(h *rod.Hijack) {
					h.Response.SetHeader("Content-Type", "text/javascript; charset=utf-8")
					h.Response.SetBody("")
				})
				go router.Run()
				t.Cleanup(func() { _ = router.Stop() })
			}
			tb.loginForm(email, pw)
			tb.open("/employees/new")
			tb.fill("#first_name", "Dora")
			tb.fill("#last_name", "Double")
			tb.fill("#email", "dora.double@example.com")
			tb.fill("#job_title", "Clicker")

			btn := tb.el(`form[action="/employees"] button[type=submit]`)
			if err := btn.Hover(); err != nil {
				t.Fatal(err)
			}
			// Hold the first submission in the server, its row inserted and
			// not yet committed (its audit insert waits for this lock), so
			// the second click surely comes while it is on its way, as a
			// person's double click does.
			ctx := context.Background()
			blocker, err := e.DB.Pool.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer blocker.Rollback(ctx)
			if _, err := blocker.Exec(ctx, "LOCK TABLE audit_log IN EXCLUSIVE MODE"); err != nil {
				t.Fatal(err)
			}
			p := tb.p()
			wait := p.WaitNavigation(proto.PageLifecycleEventNameLoad)
			m := p.Mouse
			click := func(n int) {
				if err := m.Down(proto.InputMouseButtonLeft, n); err != nil {
					t.Fatal(err)
				}
				if err := m.Up(proto.InputMouseButtonLeft, n); err != nil {
					t.Fatal(err)
				}
			}
			click(1)
			e.waitForLockWaiters(1)
			// The second click of the double click. (Whether the page took
			// it shows below: without app.js it is a second POST.)
			click(2)
			if !withScript {
				waitFor(t, "the second POST", 10*time.Second, func() bool { n, _ := tb.sent("POST", "/employees"); return n == 2 })
			}
			if err := blocker.Rollback(ctx); err != nil {
				t.Fatal(err)
			}
			wait()
			if !strings.HasPrefix(tb.path(), "/employees/") {
				t.Fatalf("after the double click at %s:\n%s", tb.path(), tb.text())
			}
			if n := e.count("SELECT count(*) FROM employees WHERE email = 'dora.double@example.com'"); n != 1 {
				t.Errorf("%d employees after a double click, want 1", n)
			}
			posts, _ := tb.sent("POST", "/employees")
			flash := tb.el(".flash").MustText()
			t.Logf("%s: %d POST(s); flash %q", name, posts, flash)
			switch {
			case withScript && posts != 1:
				t.Errorf("with app.js the form was posted %d times, want once", posts)
			case withScript && flash != "Employee Dora Double created.":
				t.Errorf("flash %q", flash)
			case !withScript && posts != 2:
				t.Errorf("without app.js the browser posted %d times, want 2 (else this does not test the key)", posts)
			}
		})
	}
}

// TestBrowserPagesLookFinished visits every main page as an administrator
// with real-looking data: each has its own title, the favicon and who is
// logged in; none scrolls sideways on a phone (tables scroll inside their
// frame). Screenshots are saved for people to look at, light and dark.
func TestBrowserPagesLookFinished(t *testing.T) {
	e := newEnv(t)
	e.seedDemo(60)
	email, pw := e.user("admin")
	name := e.str("SELECT name FROM users WHERE email = $1", email)
	e.user("hr")

	// Some history for the audit log and the detail pages: made through
	// the app, as a person would.
	c := e.client()
	c.login(email, pw)
	fin := e.int64("SELECT id FROM departments WHERE name = 'Finance'")
	f := employeeForm("zora.quillfeather@example.com")
	f.Set("first_name", "Zora")
	f.Set("last_name", "Quillfeather")
	f.Set("department_id", strconv.FormatInt(fin, 10))
	id := createdID(t, c.post("/employees", f), "/employees/")
	f.Del("idempotency_key")
	f.Set("version", "1")
	f.Set("job_title", "Payroll Lead")
	c.post("/employees/"+strconv.FormatInt(id, 10), f).expect(t, http.StatusSeeOther)
	c.post("/departments", departmentForm("Facilities")).expect(t, http.StatusSeeOther)

	tb := e.newTab(t)
	tb.loginForm(email, pw)
	emp := "/employees/" + strconv.FormatInt(id, 10)
	for _, p := range []struct {
		path, title string
		status      int
		shot        string // saved at desktop width
		phoneShot   string // saved at phone width
	}{
		{"/employees", "Employees", 200, "", "employees-phone"},
		{"/employees?q=nobody+is+called+this", "Employees", 200, "employees-no-match", ""},
		{"/employees/new", "New employee", 200, "employee-form", "employee-form-phone"},
		{emp, "Zora Quillfeather", 200, "", "employee-detail-phone"},
		{emp + "/edit", "Edit employee", 200, "", ""},
		{emp + "/terminate", "Terminate Zora Quillfeather", 200, "", ""},
		{"/departments", "Departments", 200, "departments", ""},
		{"/departments/" + strconv.FormatInt(fin, 10), "Finance", 200, "", ""},
		{"/departments/new", "New department", 200, "", ""},
		{"/users", "Users", 200, "users", "users-phone"},
		{"/users/new", "New user", 200, "", ""},
		{"/audit", "Audit log", 200, "audit", ""},
		{"/ops", "Ops", 200, "", "ops-phone"},
		{"/ops/queries", "Queries", 200, "", ""},
		{"/ops/tables", "Tables", 200, "", ""},
		{"/leave", "Leave", 200, "", ""},
		{"/leave/new", "Request leave", 200, "", ""},
		{"/no/such/page", "Not found", 404, "404", ""},
	} {
		tb.open(p.path)
		if got := tb.status(); got != p.status {
			t.Errorf("%s: status %d, want %d", p.path, got, p.status)
		}
		tb.checkShell(p.title, name, "admin")
		if p.path == "/audit" {
			// Open an edit's before-and-after, as someone checking it would.
			tb.p().MustElementR("tr", "employee.update").MustElement("summary").MustClick()
			tb.waitJS("the change to open", `document.querySelector("details.change[open] table.changes") !== null`)
		}
		if p.shot != "" {
			tb.screenshot(p.shot)
		}
		// Accessibility: no serious or critical axe violation, in either
		// theme, at desktop and at phone width.
		for _, scheme := range []string{"light", "dark"} {
			tb.colorScheme(scheme)
			if found := tb.accessibility(); len(found) > 0 {
				t.Errorf("%s (%s theme): axe finds:\n  %s", p.path, scheme, strings.Join(found, "\n  "))
			}
		}
		tb.colorScheme("light")
		tb.phone()
		if found := tb.accessibility(); len(found) > 0 {
			t.Errorf("%s at phone width: axe finds:\n  %s", p.path, strings.Join(found, "\n  "))
		}
		if out := tb.overflow(); len(out) > 0 {
			t.Errorf("%s at 390px wide scrolls sideways:\n  %s", p.path, strings.Join(out, "\n  "))
		}
		if p.phoneShot != "" {
			tb.screenshot(p.phoneShot)
		}
		tb.desktop()
	}
}
