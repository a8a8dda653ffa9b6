package web_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"hris/account"
	"hris/db"
	"hris/db/dbtest"
	"hris/web"
)

func TestMain(m *testing.M) {
	code := dbtest.Run(m)
	closeBrowser()
	os.Exit(code)
}

// env is one app on a fresh database behind a real HTTP server.
type env struct {
	t   *testing.T
	DB  *db.DB
	App *web.App
	Srv *httptest.Server
}

// newEnv starts an app with default settings on a fresh database.
func newEnv(t *testing.T) *env {
	return newEnvConfig(t, dbtest.Config(t), web.Config{})
}

func newEnvConfig(t *testing.T, dcfg db.Config, wcfg web.Config) *env {
	t.Helper()
	d := dbtest.OpenConfig(t, dcfg)
	return newEnvDBs(t, d, d, wcfg)
}

// newEnvDBs starts an app on the main pool d and the ops pool ops.
func newEnvDBs(t *testing.T, d, ops *db.DB, wcfg web.Config) *env {
	t.Helper()
	if wcfg.SessionIdleTimeout == 0 {
		wcfg.SessionIdleTimeout = time.Hour
	}
	if wcfg.SessionLifetime == 0 {
		wcfg.SessionLifetime = 24 * time.Hour
	}
	if wcfg.LongQueryThreshold == 0 {
		wcfg.LongQueryThreshold = time.Second
	}
	if wcfg.InstanceID == "" {
		wcfg.InstanceID = "test"
	}
	var log *slog.Logger
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	app := web.New(wcfg, d, ops, log)
	ctx, cancel := context.WithCancel(context.Background())
	go app.Run(ctx)
	srv := httptest.NewServer(app.Handler())
	t.Cleanup(func() {
		srv.Close()
		cancel()
	})
	return &env{t: t, DB: d, App: app, Srv: srv}
}

var userSeq atomic.Int64

// user creates an account with role and returns its email and password.
func (e *env) user(role string) (email, password string) {
	e.t.Helper()
	n := userSeq.Add(1)
	email = fmt.Sprintf("%s%d@example.com", role, n)
	password = fmt.Sprintf("correct horse %d", n)
	hash, err := account.HashPassword(password)
	if err != nil {
		e.t.Fatal(err)
	}
	err = e.DB.InTx(context.Background(), func(ctx context.Context, q *db.Queries) error {
		_, err := q.CreateUser(ctx, db.CreateUserParams{Email: email, Name: strings.ToUpper(role[:1]) + role[1:] + fmt.Sprint(" User ", n), PasswordHash: hash, Role: role})
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return email, password
}

// client is a browser: a cookie jar, no automatic redirects, and the
// same-origin headers a browser sends on form posts.
type client struct {
	e  *env
	hc *http.Client
}

func (e *env) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{e: e, hc: &http.Client{
		Jar:     jar,
		Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}}
}

// loggedIn returns a client logged in as a new user with role.
func (e *env) loggedIn(role string) *client {
	e.t.Helper()
	email, pw := e.user(role)
	c := e.client()
	c.login(email, pw)
	return c
}

// response is a finished response with its body read.
type response struct {
	*http.Response
	Body string
}

func (c *client) do(req *http.Request) response {
	c.e.t.Helper()
	resp, err := c.hc.Do(req)
	if err != nil {
		c.e.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{Response: resp, Body: string(b)}
}

func (c *client) get(path string, headers ...string) response {
	c.e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, c.e.Srv.URL+path, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return c.do(req)
}

// post sends a form as a same-origin browser would.
func (c *client) post(path string, form url.Values, headers ...string) response {
	c.e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, c.e.Srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", c.e.Srv.URL)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return c.do(req)
}

func (c *client) login(email, password string) response {
	c.e.t.Helper()
	r := c.post("/login", url.Values{"email": {email}, "password": {password}})
	if r.StatusCode != http.StatusSeeOther {
		c.e.t.Fatalf("login %s: status %d, want 303\n%s", email, r.StatusCode, r.Body)
	}
	return r
}

// sessionCookie is the client's current session cookie value.
func (c *client) sessionCookie() string {
	u, _ := url.Parse(c.e.Srv.URL)
	for _, ck := range c.hc.Jar.Cookies(u) {
		if ck.Name == "hris_session" {
			return ck.Value
		}
	}
	return ""
}

// expect fails the test unless r has status want.
func (r response) expect(t *testing.T, want int) response {
	t.Helper()
	if r.StatusCode != want {
		body := r.Body
		if len(body) > 2000 {
			body = body[:2000] + "…"
		}
		t.Fatalf("%s %s: status %d, want %d\n%s", r.Request.Method, r.Request.URL.Path, r.StatusCode, want, body)
	}
	return r
}

// count runs a count query against the test database.
func (e *env) count(sql string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.DB.Pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		e.t.Fatalf("%s: %v", sql, err)
	}
	return n
}
