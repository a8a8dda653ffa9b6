package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"hris/account"
	"hris/db"
	"hris/db/dbtest"
)

// BenchmarkLoadUser is the auth middleware on its own: a request with a
// session cookie through loadSession and loadUser (the session row, then
// the user, both from PostgreSQL) to a handler that does nothing.
func BenchmarkLoadUser(b *testing.B) {
	d := dbtest.Open(b)
	a := New(Config{SessionIdleTimeout: time.Hour, SessionLifetime: 24 * time.Hour, InstanceID: "bench"}, d, d, nil)
	hash, err := account.HashPassword("bench password")
	if err != nil {
		b.Fatal(err)
	}
	err = d.InTx(context.Background(), func(ctx context.Context, q *db.Queries) error {
		_, err := q.CreateUser(ctx, db.CreateUserParams{Email: "bench@example.com", Name: "Bench", PasswordHash: hash, Role: "admin"})
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	login := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(url.Values{
		"email": {"bench@example.com"}, "password": {"bench password"}}.Encode()))
	login.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	a.Handler().ServeHTTP(rec, login)
	if rec.Code != http.StatusSeeOther {
		b.Fatalf("login: status %d", rec.Code)
	}
	var cookie *http.Cookie
	for _, c := range rec.Result().Cookies() {
		if c.Name == "hris_session" {
			cookie = c
		}
	}
	if cookie == nil {
		b.Fatal("login: no session cookie")
	}
	h := a.loadSession(a.loadUser(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if currentUser(r.Context()) == nil {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})))
	req := httptest.NewRequest(http.MethodGet, "/employees", nil)
	req.AddCookie(cookie)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusNoContent {
			b.Fatalf("status %d, want 204", rec.Code)
		}
	}
}
