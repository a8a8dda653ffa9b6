package web_test

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
)

// badTexts are what PostgreSQL refuses to store: NUL bytes and bytes that
// are not UTF-8, alone and inside ordinary text.
var badTexts = []string{"\x00", "a\x00b", "\xff", "Ada\xc3\x28", "\xed\xa0\x80"}

// inputNames are the query parameters and form fields the handlers read,
// found in the handlers' own source, so a new field is covered as soon as
// it is read.
func inputNames(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	read := regexp.MustCompile(`(?:PostFormValue|FormValue|Get)\("([a-z_]+)"\)`)
	names := map[string]bool{"manager_id_q": true, "employee_id_q": true} // the pickers' "<field>_q"
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range read.FindAllStringSubmatch(string(b), -1) {
			names[m[1]] = true
		}
	}
	out := make([]string, 0, len(names))
	for n := range names {
		out = append(out, n)
	}
	slices.Sort(out)
	if len(out) < 20 {
		t.Fatalf("only %d input names found in the handlers: %v", len(out), out)
	}
	return out
}

// TestNoRouteAnswers5xxToUnstorableText sends NUL bytes and invalid UTF-8
// in every query parameter and form field the handlers read, to every
// route of the app (as an administrator, who reaches them all, and
// anonymously), and wants no 5xx: a form re-renders with a message, a
// link or search with such text is refused with a 400.
func TestNoRouteAnswers5xxToUnstorableText(t *testing.T) {
	e := newEnv(t)
	admin := e.loggedIn("admin")
	anon := e.client()
	dept := e.department("Operations")
	emp := e.employee("Ada", "Lovelace", "ada@example.com", &dept, nil)
	leave := e.int64(`INSERT INTO leave_requests (employee_id, department_id, kind, start_date, end_date, days, status)
		VALUES ($1, $2, 'annual', '2031-03-03', '2031-03-04', 2, 'pending') RETURNING id`, emp, dept)
	user := e.int64("SELECT max(id) FROM users")
	ids := map[string]string{
		"id": strconv.FormatInt(emp, 10), "pid": "1", "queryid": "1", "year": "2031",
	}
	names := inputNames(t)

	routes, ok := e.App.Handler().(chi.Routes)
	if !ok {
		t.Fatal("the app's handler is not a chi router")
	}
	checked := 0
	err := chi.Walk(routes, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		var paths []string
		switch {
		case strings.HasPrefix(route, "/departments/{id}"):
			paths = append(paths, strings.ReplaceAll(route, "{id}", strconv.FormatInt(dept, 10)))
		case strings.HasPrefix(route, "/leave/{id}"):
			paths = append(paths, strings.ReplaceAll(route, "{id}", strconv.FormatInt(leave, 10)))
		case strings.HasPrefix(route, "/users/{id}"):
			paths = append(paths, strings.ReplaceAll(route, "{id}", strconv.FormatInt(user, 10)))
		default:
			p := route
			for k, v := range ids {
				p = strings.ReplaceAll(p, "{"+k+"}", v)
			}
			paths = append(paths, strings.ReplaceAll(p, "/*", "/app.css"))
		}
		for _, path := range paths {
			for _, bad := range badTexts {
				v := url.Values{}
				for _, n := range names {
					v.Set(n, bad)
				}
				for _, c := range []*client{admin, anon} {
					if c == admin && route == "/logout" {
						continue // the administrator stays logged in for the other routes
					}
					var r response
					if method == http.MethodGet {
						r = c.get(path + "?" + v.Encode())
					} else {
						r = c.post(path, v)
					}
					checked++
					if r.StatusCode >= 500 {
						t.Errorf("%s %s with %q in every field: status %d", method, path, bad, r.StatusCode)
					}
				}
				if method == http.MethodGet {
					// A single bad parameter, as a hand-edited link has.
					r := admin.get(path + "?q=" + url.QueryEscape(bad))
					if r.StatusCode >= 500 {
						t.Errorf("GET %s?q=%q: status %d", path, bad, r.StatusCode)
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 200 {
		t.Fatalf("only %d requests were sent: the walk missed routes", checked)
	}
	// The administrator was logged in all along: the routes were reached.
	admin.get("/employees").expect(t, http.StatusOK)
}

// The examples the issue found, with what each now answers.
func TestUnstorableTextAnswers(t *testing.T) {
	e := newEnv(t)
	c := e.loggedIn("admin")
	for _, q := range []string{"%00", "%FF", "a%00b"} {
		r := c.get("/employees?q=" + q)
		if r.StatusCode != http.StatusBadRequest || !strings.Contains(r.Body, "cannot be stored") {
			t.Errorf("/employees?q=%s: %d, want 400 saying why", q, r.StatusCode)
		}
	}
	if r := c.get("/audit?action=%00"); r.StatusCode != http.StatusBadRequest {
		t.Errorf("/audit?action=%%00: %d, want 400", r.StatusCode)
	}
	r := c.post("/departments", url.Values{"name": {"Ops\x00"}, "idempotency_key": {"5f0e5bfc-1f47-4a0e-9d7b-6a2f4e9d3c11"}})
	if r.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(r.Body, "cannot be stored") {
		t.Errorf("POST /departments name=Ops\\x00: %d, want 422 with a message by the field", r.StatusCode)
	}
	if n := e.count("SELECT count(*) FROM departments"); n != 0 {
		t.Errorf("%d departments after a refused form", n)
	}
	anon := e.client()
	r = anon.post("/login", url.Values{"email": {"a\x00@b.c"}, "password": {"whatever it is"}})
	if r.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("POST /login email=a\\x00@b.c: %d, want 422", r.StatusCode)
	}
	r = c.post("/employees", url.Values{"first_name": {"Ada\xff"}, "last_name": {"Lovelace"}, "email": {"ada@example.com"},
		"hire_date": {"2024-01-02"}, "idempotency_key": {"8a1c2d3e-4f50-4617-8a9b-0c1d2e3f4a5b"}})
	if r.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(r.Body, "cannot be stored") {
		t.Errorf("POST /employees first_name=Ada\\xff: %d, want 422", r.StatusCode)
	}
}
