package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"hris/db/dbtest"
	"hris/web"
)

func TestLoginSuccessAndFailure(t *testing.T) {
	e := newEnv(t)
	email, pw := e.user("admin")
	c := e.client()

	r := c.post("/login", url.Values{"email": {email}, "password": {"wrong password!"}}).expect(t, http.StatusUnauthorized)
	if !strings.Contains(r.Body, "Email or password is incorrect.") {
		t.Errorf("wrong password page lacks the message:\n%s", r.Body)
	}
	if c.get("/users").StatusCode != http.StatusSeeOther {
		t.Fatal("a failed login gave access")
	}

	r = c.post("/login", url.Values{"email": {strings.ToUpper(email)}, "password": {pw}, "next": {"/users"}}).expect(t, http.StatusSeeOther)
	if loc := r.Header.Get("Location"); loc != "/users" {
		t.Errorf("login redirected to %q, want the next= page /users", loc)
	}
	c.get("/users").expect(t, http.StatusOK)
	if n := e.count("SELECT count(*) FROM users WHERE lower(email) = lower($1) AND last_login_at IS NOT NULL AND failed_login_count = 0", email); n != 1 {
		t.Error("last_login_at not recorded or failed_login_count not reset on success")
	}

	// An off-site next= is ignored.
	c2 := e.client()
	r = c2.post("/login", url.Values{"email": {email}, "password": {pw}, "next": {"//evil.example/x"}}).expect(t, http.StatusSeeOther)
	if loc := r.Header.Get("Location"); loc != "/employees" {
		t.Errorf("off-site next: redirected to %q, want /employees", loc)
	}
}

func TestAnonymousIsSentToLogin(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	for _, path := range []string{"/", "/employees", "/users", "/ops"} {
		r := c.get(path).expect(t, http.StatusSeeOther)
		if loc := r.Header.Get("Location"); !strings.HasPrefix(loc, "/login") {
			t.Errorf("GET %s redirected to %q, want /login", path, loc)
		}
	}
	c.get("/login").expect(t, http.StatusOK)
}

func TestNoUserEnumeration(t *testing.T) {
	e := newEnv(t)
	email, _ := e.user("hr")
	c := e.client()
	time1 := func(email string) (response, time.Duration) {
		start := time.Now()
		r := c.post("/login", url.Values{"email": {email}, "password": {"not the password"}})
		return r, time.Since(start)
	}
	known, _ := time1(email)
	unknown, _ := time1("nobody@example.com")
	if known.StatusCode != unknown.StatusCode {
		t.Fatalf("status differs: known email %d, unknown email %d", known.StatusCode, unknown.StatusCode)
	}
	msg := func(body string) string {
		i := strings.Index(body, `role="alert"`)
		if i < 0 {
			return ""
		}
		return body[i : i+strings.Index(body[i:], "</div>")]
	}
	if msg(known.Body) == "" || msg(known.Body) != msg(unknown.Body) {
		t.Fatalf("messages differ: %q vs %q", msg(known.Body), msg(unknown.Body))
	}
	// Both cases compute one argon2id hash, so their timing is alike. Take
	// medians of a few tries each (fresh emails, so throttling stays out).
	var tk, tu []time.Duration
	for i := range 4 {
		k, _ := e.user("hr")
		_, d1 := time1(k)
		_, d2 := time1(fmt.Sprintf("ghost%d@example.com", i))
		tk, tu = append(tk, d1), append(tu, d2)
	}
	mk, mu := median(tk), median(tu)
	if ratio := float64(mk) / float64(mu); ratio < 0.33 || ratio > 3 {
		t.Errorf("known email median %s, unknown %s: too different (ratio %.2f)", mk, mu, ratio)
	}
	t.Logf("median answer: known email %s, unknown email %s", mk, mu)
}

func median(d []time.Duration) time.Duration {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return d[len(d)/2]
}

func TestDeactivationEndsSessionOnNextRequest(t *testing.T) {
	e := newEnv(t)
	admin := e.loggedIn("admin")
	email, pw := e.user("hr")
	victim := e.client()
	victim.login(email, pw)
	victim.get("/").expect(t, http.StatusSeeOther) // → /employees, logged in
	if victim.get("/login").Header.Get("Location") == "" {
		t.Fatal("victim not logged in")
	}
	var id int64
	_ = e.DB.Pool.QueryRow(context.Background(), "SELECT id FROM users WHERE email = $1", email).Scan(&id)

	admin.get(fmt.Sprintf("/users/%d/deactivate", id)).expect(t, http.StatusOK) // the confirmation page
	admin.post(fmt.Sprintf("/users/%d/deactivate", id), nil).expect(t, http.StatusSeeOther)

	r := victim.get("/users").expect(t, http.StatusSeeOther)
	if loc := r.Header.Get("Location"); loc != "/login" {
		t.Fatalf("deactivated user's next request went to %q, want /login", loc)
	}
	page := victim.get("/login").expect(t, http.StatusOK)
	if !strings.Contains(page.Body, "deactivated") {
		t.Error("login page does not say the account was deactivated")
	}
	// And they cannot log back in, with a clear message.
	r = victim.post("/login", url.Values{"email": {email}, "password": {pw}}).expect(t, http.StatusForbidden)
	if !strings.Contains(r.Body, "deactivated") {
		t.Error("login of a deactivated account does not say so")
	}
	if n := e.count("SELECT count(*) FROM audit_log WHERE action = 'user.deactivate' AND entity_id = $1 AND actor_email LIKE 'admin%'", id); n != 1 {
		t.Errorf("%d user.deactivate audit rows, want 1", n)
	}
	// Reactivation lets them in again.
	admin.post(fmt.Sprintf("/users/%d/activate", id), nil).expect(t, http.StatusSeeOther)
	victim.login(email, pw)
}

func TestLogoutInvalidatesSavedCookie(t *testing.T) {
	e := newEnv(t)
	c := e.loggedIn("admin")
	saved := c.sessionCookie()
	if saved == "" {
		t.Fatal("no session cookie after login")
	}
	c.get("/users").expect(t, http.StatusOK)
	r := c.post("/logout", nil).expect(t, http.StatusSeeOther)
	if r.Header.Get("Location") != "/login" {
		t.Errorf("logout redirected to %q", r.Header.Get("Location"))
	}
	// Someone who copied the cookie before logout gets nothing with it.
	thief := e.client()
	req, _ := http.NewRequest(http.MethodGet, e.Srv.URL+"/users", nil)
	req.AddCookie(&http.Cookie{Name: "hris_session", Value: saved})
	thief.do(req).expect(t, http.StatusSeeOther)
	if n := e.count("SELECT count(*) FROM audit_log WHERE action = 'logout'"); n != 1 {
		t.Errorf("%d logout audit rows, want 1", n)
	}
}

func TestLoginRenewsSessionToken(t *testing.T) {
	e := newEnv(t)
	email, pw := e.user("hr")
	c := e.client()
	c.login(email, pw)
	c.post("/logout", nil).expect(t, http.StatusSeeOther) // leaves an anonymous session (the flash)
	before := c.sessionCookie()
	if before == "" {
		t.Fatal("no anonymous session before the second login")
	}
	c.login(email, pw)
	after := c.sessionCookie()
	if after == "" || after == before {
		t.Fatalf("session token not renewed at login: before %q after %q", before, after)
	}
	// The pre-login token is not a way in.
	other := e.client()
	req, _ := http.NewRequest(http.MethodGet, e.Srv.URL+"/employees", nil)
	req.AddCookie(&http.Cookie{Name: "hris_session", Value: before})
	other.do(req).expect(t, http.StatusSeeOther)
	// Tokens are stored hashed: the cookie value is not in the table.
	if n := e.count("SELECT count(*) FROM sessions WHERE token = $1", after); n != 0 {
		t.Error("session token stored in clear")
	}
}

func TestSessionCookieFlags(t *testing.T) {
	for _, secure := range []bool{true, false} {
		t.Run(fmt.Sprint("secure=", secure), func(t *testing.T) {
			e := newEnvConfig(t, dbtest.Config(t), web.Config{CookieSecure: secure})
			email, pw := e.user("hr")
			r := e.client().login(email, pw)
			var set string
			for _, h := range r.Header.Values("Set-Cookie") {
				if strings.HasPrefix(h, "hris_session=") {
					set = h
				}
			}
			if set == "" {
				t.Fatal("login set no session cookie")
			}
			for _, attr := range []string{"HttpOnly", "SameSite=Lax", "Path=/"} {
				if !strings.Contains(set, attr) {
					t.Errorf("cookie %q lacks %s", set, attr)
				}
			}
			if strings.Contains(set, "Secure") != secure {
				t.Errorf("cookie %q: Secure should be %v", set, secure)
			}
		})
	}
}

func TestLoginThrottling(t *testing.T) {
	e := newEnv(t)
	email, pw := e.user("hr")
	c := e.client()
	for i := range 5 {
		r := c.post("/login", url.Values{"email": {email}, "password": {"guess " + fmt.Sprint(i)}})
		if i < 4 && r.StatusCode != http.StatusUnauthorized {
			t.Fatalf("failure %d: status %d, want 401", i+1, r.StatusCode)
		}
	}
	// Locked now: even the right password is refused, with a clear message.
	r := c.post("/login", url.Values{"email": {email}, "password": {pw}}).expect(t, http.StatusTooManyRequests)
	if !strings.Contains(r.Body, "Too many failed attempts. Try again in 15 minutes.") {
		t.Errorf("throttled page lacks the message:\n%s", r.Body)
	}
	if r.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	// The lock holds for another instance too: it lives in PostgreSQL.
	other := newEnvOnDB(t, e)
	oc := other.client()
	oc.post("/login", url.Values{"email": {email}, "password": {pw}}).expect(t, http.StatusTooManyRequests)
	// Another account from the same address is still fine (per-account lock).
	email2, pw2 := e.user("hr")
	c.login(email2, pw2)
	if n := e.count("SELECT count(*) FROM audit_log WHERE action = 'login.failure' AND actor_email = $1", email); n != 5 {
		t.Errorf("%d login.failure audit rows, want 5", n)
	}
	// Once the block has passed, the right password works and resets it.
	_, _ = e.DB.Pool.Exec(context.Background(), "UPDATE login_throttle SET blocked_until = now() - interval '1 second', window_start = now() - interval '1 hour'")
	c.login(email, pw)
	if n := e.count("SELECT count(*) FROM login_throttle WHERE key = $1", "email:"+email); n != 0 {
		t.Error("successful login did not reset the account's failure count")
	}
}

func TestLoginThrottlingPerAddress(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	// Spraying many accounts from one address trips the address limit.
	var last response
	for i := range 30 {
		last = c.post("/login", url.Values{"email": {fmt.Sprintf("spray%d@example.com", i)}, "password": {"password123"}})
	}
	last.expect(t, http.StatusTooManyRequests)
	email, pw := e.user("hr")
	c.post("/login", url.Values{"email": {email}, "password": {pw}}).expect(t, http.StatusTooManyRequests)
}

func TestAdminRoutesForbidHR(t *testing.T) {
	e := newEnv(t)
	hr := e.loggedIn("hr")
	for _, path := range []string{"/users", "/users/new", "/users/1/password", "/users/1/deactivate", "/ops", "/ops/pool", "/ops/activity", "/ops/locks", "/audit"} {
		r := hr.get(path)
		if r.StatusCode != http.StatusForbidden {
			t.Errorf("hr GET %s: %d, want 403", path, r.StatusCode)
		} else if !strings.Contains(r.Body, "Administrators only") {
			t.Errorf("hr GET %s: 403 page lacks its explanation", path)
		}
	}
	for _, path := range []string{"/users", "/users/1/deactivate", "/users/1/activate", "/users/1/password", "/ops/backends/1/cancel", "/ops/backends/1/terminate"} {
		if r := hr.post(path, url.Values{"email": {"x@example.com"}}); r.StatusCode != http.StatusForbidden {
			t.Errorf("hr POST %s: %d, want 403", path, r.StatusCode)
		}
	}
	if n := e.count("SELECT count(*) FROM users"); n != 1 {
		t.Errorf("hr POST /users changed the users table: %d users", n)
	}
	// The hr user's pages show no admin navigation.
	body := hr.get("/users").Body
	for _, link := range []string{`href="/users"`, `href="/ops"`, `href="/audit"`} {
		if strings.Contains(body, link) {
			t.Errorf("hr page shows admin link %s", link)
		}
	}
}

func TestCrossOriginPostRefused(t *testing.T) {
	e := newEnv(t)
	email, pw := e.user("admin")
	c := e.client()
	for _, path := range []string{"/login", "/logout", "/users", "/employees"} {
		r := c.post(path, url.Values{"email": {email}, "password": {pw}}, "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site")
		if r.StatusCode != http.StatusForbidden {
			t.Errorf("cross-site POST %s: %d, want 403", path, r.StatusCode)
		}
	}
	if c.sessionCookie() != "" {
		t.Error("a cross-site login POST created a session")
	}
	// An old browser without Sec-Fetch-Site is judged by Origin alone.
	req, _ := http.NewRequest(http.MethodPost, e.Srv.URL+"/login", strings.NewReader("email=a&password=b"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	c.do(req).expect(t, http.StatusForbidden)
}

func TestHtmxRequestWithExpiredSessionGetsHXRedirect(t *testing.T) {
	e := newEnv(t)
	c := e.loggedIn("admin")
	c.get("/users").expect(t, http.StatusOK)
	if _, err := e.DB.Pool.Exec(context.Background(), "UPDATE sessions SET expiry = now() - interval '1 second'"); err != nil {
		t.Fatal(err)
	}
	r := c.get("/users", "HX-Request", "true")
	if r.Header.Get("HX-Redirect") != "/login" {
		t.Fatalf("htmx request after expiry: status %d HX-Redirect %q, want HX-Redirect /login", r.StatusCode, r.Header.Get("HX-Redirect"))
	}
	if r.StatusCode == http.StatusOK || r.StatusCode == http.StatusSeeOther {
		t.Errorf("status %d: htmx would swap or follow it; want a non-2xx with HX-Redirect", r.StatusCode)
	}
}

func TestSessionWorksOnAnotherInstance(t *testing.T) {
	a := newEnv(t)
	b := newEnvOnDB(t, a)
	email, pw := a.user("admin")
	c := a.client()
	c.login(email, pw)
	req, _ := http.NewRequest(http.MethodGet, b.Srv.URL+"/users", nil)
	req.AddCookie(&http.Cookie{Name: "hris_session", Value: c.sessionCookie()})
	if r := c.do(req); r.StatusCode != http.StatusOK {
		t.Fatalf("session from instance A on instance B: %d, want 200", r.StatusCode)
	}
}

func TestUserAdminPages(t *testing.T) {
	e := newEnv(t)
	admin := e.loggedIn("admin")
	admin.get("/users/new").expect(t, http.StatusOK)

	bad := admin.post("/users", url.Values{"email": {"not-an-email"}, "name": {""}, "role": {"boss"}, "password": {"short"}}).expect(t, http.StatusUnprocessableEntity)
	for _, want := range []string{"Enter an email address like", "Enter the person", "Choose HR staff or Administrator", "at least 10 characters"} {
		if !strings.Contains(bad.Body, want) {
			t.Errorf("422 page lacks %q", want)
		}
	}
	if !strings.Contains(bad.Body, `value="not-an-email"`) {
		t.Error("422 page lost what was typed")
	}
	form := url.Values{"email": {"new.person@example.com"}, "name": {"New Person"}, "role": {"hr"}, "password": {"a fine long password"}}
	admin.post("/users", form).expect(t, http.StatusSeeOther)
	list := admin.get("/users").expect(t, http.StatusOK)
	if !strings.Contains(list.Body, "new.person@example.com") || !strings.Contains(list.Body, "User new.person@example.com created.") {
		t.Error("user list lacks the new user or the flash message")
	}
	dup := admin.post("/users", url.Values{"email": {"NEW.PERSON@example.com"}, "name": {"Again"}, "role": {"hr"}, "password": {"a fine long password"}}).expect(t, http.StatusUnprocessableEntity)
	if !strings.Contains(dup.Body, "already exists") {
		t.Error("duplicate email (other case) not reported")
	}
	newbie := e.client()
	newbie.login("new.person@example.com", "a fine long password")

	var id int64
	_ = e.DB.Pool.QueryRow(context.Background(), "SELECT id FROM users WHERE email = 'new.person@example.com'").Scan(&id)
	admin.post(fmt.Sprintf("/users/%d/password", id), url.Values{"password": {"short"}}).expect(t, http.StatusUnprocessableEntity)
	admin.post(fmt.Sprintf("/users/%d/password", id), url.Values{"password": {"another long password"}}).expect(t, http.StatusSeeOther)
	e.client().post("/login", url.Values{"email": {"new.person@example.com"}, "password": {"a fine long password"}}).expect(t, http.StatusUnauthorized)
	e.client().login("new.person@example.com", "another long password")

	// The last administrator cannot be deactivated (nor can you deactivate yourself).
	var adminID int64
	_ = e.DB.Pool.QueryRow(context.Background(), "SELECT id FROM users WHERE role = 'admin'").Scan(&adminID)
	admin.post(fmt.Sprintf("/users/%d/deactivate", adminID), nil).expect(t, http.StatusSeeOther)
	if n := e.count("SELECT count(*) FROM users WHERE role = 'admin' AND is_active"); n != 1 {
		t.Error("the only admin deactivated themselves")
	}
	admin.get("/users/999999/deactivate").expect(t, http.StatusNotFound)
}

// newEnvOnDB starts a second app instance on the same database as e.
func newEnvOnDB(t *testing.T, e *env) *env {
	t.Helper()
	app := web.New(web.Config{SessionIdleTimeout: time.Hour, SessionLifetime: 24 * time.Hour, InstanceID: "second"}, e.DB, e.DB, nil)
	srv := httptest.NewServer(app.Handler())
	t.Cleanup(srv.Close)
	return &env{t: t, DB: e.DB, App: app, Srv: srv}
}

func TestLoginNextCannotLeaveTheSite(t *testing.T) {
	e := newEnv(t)
	email, pw := e.user("hr")
	for next, want := range map[string]string{
		"/employees?q=ada":      "/employees?q=ada",
		"/departments/3":        "/departments/3",
		"//evil.example/x":      "/employees",
		"/\\evil.example":       "/employees",
		"/\t/evil.example":      "/employees",
		"/%2F%2Fevil.example":   "/employees",
		"https://evil.example/": "/employees",
		"javascript:alert(1)":   "/employees",
		"evil.example":          "/employees",
		"":                      "/employees",
	} {
		c := e.client()
		r := c.post("/login", url.Values{"email": {email}, "password": {pw}, "next": {next}}).expect(t, http.StatusSeeOther)
		if loc := r.Header.Get("Location"); loc != want {
			t.Errorf("next=%q: redirected to %q, want %q", next, loc, want)
		}
		// A logged-in visit to /login?next= follows the same rule.
		if loc := c.get("/login?next=" + url.QueryEscape(next)).Header.Get("Location"); loc != want {
			t.Errorf("GET /login?next=%q: redirected to %q, want %q", next, loc, want)
		}
	}
}

func TestPasswordResetAndDeactivationEndSessionsAtOnce(t *testing.T) {
	e := newEnv(t)
	admin := e.loggedIn("admin")
	email, pw := e.user("hr")
	hr := e.client()
	hr.login(email, pw)
	var id int64
	_ = e.DB.Pool.QueryRow(context.Background(), "SELECT id FROM users WHERE email = $1", email).Scan(&id)

	admin.post(fmt.Sprintf("/users/%d/password", id), url.Values{"password": {"a brand new password"}}).expect(t, http.StatusSeeOther)
	if r := hr.get("/employees"); r.StatusCode != http.StatusSeeOther {
		t.Errorf("session after a password reset: %d, want 303 to /login", r.StatusCode)
	}

	// Deactivated and reactivated before their next click: the old session
	// does not come back.
	hr.login(email, "a brand new password")
	admin.post(fmt.Sprintf("/users/%d/deactivate", id), nil).expect(t, http.StatusSeeOther)
	admin.post(fmt.Sprintf("/users/%d/activate", id), nil).expect(t, http.StatusSeeOther)
	if r := hr.get("/employees"); r.StatusCode != http.StatusSeeOther {
		t.Errorf("old session after deactivate + activate: %d, want 303 to /login", r.StatusCode)
	}

	// Resetting your own password keeps you logged in here.
	var adminID int64
	_ = e.DB.Pool.QueryRow(context.Background(), "SELECT id FROM users WHERE role = 'admin'").Scan(&adminID)
	admin.post(fmt.Sprintf("/users/%d/password", adminID), url.Values{"password": {"admin's new password"}}).expect(t, http.StatusSeeOther)
	admin.get("/users").expect(t, http.StatusOK)
}

func TestTwoAdminsCannotDeactivateEachOther(t *testing.T) {
	e := newEnv(t)
	for round := range 5 {
		aEmail, aPW := e.user("admin")
		bEmail, bPW := e.user("admin")
		// Every other admin inactive, so these two are the last ones.
		if _, err := e.DB.Pool.Exec(context.Background(), "UPDATE users SET is_active = false WHERE role = 'admin' AND email NOT IN ($1, $2)", aEmail, bEmail); err != nil {
			t.Fatal(err)
		}
		a, b := e.client(), e.client()
		a.login(aEmail, aPW)
		b.login(bEmail, bPW)
		var aID, bID int64
		_ = e.DB.Pool.QueryRow(context.Background(), "SELECT id FROM users WHERE email = $1", aEmail).Scan(&aID)
		_ = e.DB.Pool.QueryRow(context.Background(), "SELECT id FROM users WHERE email = $1", bEmail).Scan(&bID)
		done := make(chan struct{})
		go func() { a.post(fmt.Sprintf("/users/%d/deactivate", bID), nil); close(done) }()
		b.post(fmt.Sprintf("/users/%d/deactivate", aID), nil)
		<-done
		if n := e.count("SELECT count(*) FROM users WHERE role = 'admin' AND is_active"); n != 1 {
			t.Fatalf("round %d: %d active admins after two admins deactivated each other at once, want 1", round, n)
		}
	}
}

func TestClientAddressBehindTrustedProxy(t *testing.T) {
	// Without trusted proxies, X-Forwarded-For is ignored: forging it does
	// not dodge the per-address limit.
	e := newEnv(t)
	c := e.client()
	var last response
	for i := range 30 {
		last = c.post("/login", url.Values{"email": {fmt.Sprintf("spray%d@example.com", i)}, "password": {"password123"}},
			"X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i))
	}
	last.expect(t, http.StatusTooManyRequests)

	// Behind a trusted proxy each client is counted on its own address.
	p := newEnvConfig(t, dbtest.Config(t), web.Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	email, pw := p.user("hr")
	pc := p.client()
	for i := range 30 {
		last = pc.post("/login", url.Values{"email": {fmt.Sprintf("spray%d@example.com", i)}, "password": {"password123"}},
			"X-Forwarded-For", "203.0.113.7, 10.0.0.1")
	}
	last.expect(t, http.StatusTooManyRequests)
	r := pc.post("/login", url.Values{"email": {email}, "password": {pw}}, "X-Forwarded-For", "203.0.113.8")
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("another client behind the same proxy: %d, want 303", r.StatusCode)
	}
	if n := p.count("SELECT count(*) FROM audit_log WHERE action = 'login.success' AND client_ip = '203.0.113.8'"); n != 1 {
		t.Error("audit log does not record the client's address from X-Forwarded-For")
	}
}
