package web_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

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
	tb.screenshot("login")

	tb.fill("#email", email)
	tb.fill("#password", "not the password")
	tb.click("button[type=submit]", true)
	if !strings.Contains(tb.text(), "Email or password is incorrect.") {
		t.Fatalf("no message after a wrong password:\n%s", tb.text())
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
	row := admin.page.MustElementR("tr", hrEmail)
	btn, err := row.Element("a.button[href$='/deactivate']")
	if err != nil {
		t.Fatalf("no Deactivate button in %s's row", hrEmail)
	}
	wait := admin.page.WaitNavigation("load")
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
