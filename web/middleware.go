package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"runtime/debug"
	"strings"
	"time"

	"github.com/alexedwards/scs/v2"

	"hris/db"
	"hris/views/layouts"
)

type ctxKey int

const (
	ctxRequestID ctxKey = iota
	ctxUser
	ctxLogUser // *int64 the request log line reads the user id from
	ctxSessionLoaded
)

func requestID(ctx context.Context) string {
	id, _ := ctx.Value(ctxRequestID).(string)
	return id
}

// currentUser is the logged-in user, loaded fresh from the database for
// this request, or nil.
func currentUser(ctx context.Context) *layouts.User {
	u, _ := ctx.Value(ctxUser).(*layouts.User)
	return u
}

// withRequestID tags each request with an ID for logs and error pages. A
// trusted proxy's X-Request-ID (HRIS_TRUSTED_PROXIES) is kept so one ID
// follows the request; from anyone else it is replaced, as it is when it
// is not a plain token (it goes into the logs).
func (a *App) withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-ID")
		if id == "" || !a.fromTrustedProxy(r) || !plainToken(id) {
			b := make([]byte, 8)
			_, _ = rand.Read(b)
			id = hex.EncodeToString(b)
		}
		w.Header().Set("X-Request-ID", id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxRequestID, id)))
	})
}

// plainToken reports 1 to 64 letters, digits, '-', '_' or '.'.
func plainToken(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// statusRecorder remembers the status and size of a response.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(b)
	s.bytes += n
	return n, err
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// logRequests writes one line per request and feeds the HTTP metrics.
// Probes, metrics scrapes and static files log at debug level only.
func (a *App) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		// loadUser, deeper in, records the user here for this log line.
		who := new(int64)
		r = r.WithContext(context.WithValue(r.Context(), ctxLogUser, who))
		next.ServeHTTP(rec, r)
		took := time.Since(start)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		route := routePattern(r)
		a.metrics.observeRequest(r.Method, route, rec.status, took)
		level := levelFor(r.URL.Path, rec.status)
		attrs := []any{
			"method", r.Method, "path", r.URL.Path, "route", route, "status", rec.status,
			"ms", float64(took.Microseconds()) / 1000, "bytes", rec.bytes,
			"request_id", requestID(r.Context()),
		}
		if *who != 0 {
			attrs = append(attrs, "user_id", *who)
		}
		a.log.Log(r.Context(), level, "request", attrs...)
	})
}

// recoverPanic turns a panic into a logged 500 page; the server keeps going.
func (a *App) recoverPanic(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			p := recover()
			if p == nil {
				return
			}
			if p == http.ErrAbortHandler {
				panic(p) // net/http's way to abort a response; let it do so
			}
			a.log.Error("panic", "panic", fmt.Sprint(p), "path", r.URL.Path, "request_id", requestID(r.Context()), "stack", string(debug.Stack()))
			w.Header().Set("Connection", "close")
			a.serverErrorPage(w, r)
		}()
		next.ServeHTTP(w, r)
	})
}

// securityHeaders sets a strict policy: scripts only from our own origin
// (htmx is served from /static), no framing, no sniffing.
func (a *App) securityHeaders(next http.Handler) http.Handler {
	const csp = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
		"connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
		if a.cfg.CookieSecure {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		next.ServeHTTP(w, r)
	})
}

// newSessionManager keeps sessions in PostgreSQL (shared by every instance,
// surviving restarts) with hashed tokens and a strict cookie.
func newSessionManager(cfg Config, d *db.DB) *scs.SessionManager {
	s := scs.New()
	s.Codec = sessionCodec{}
	store := db.NewSessionStore(d)
	// The store keeps the user's id next to the data, so that the session
	// lookup can read the user too (see loadUser).
	store.UserOf = func(b []byte) (int64, bool) {
		_, values, err := s.Codec.Decode(b)
		if err != nil {
			return 0, false
		}
		id, ok := values[sessionUserID].(int64)
		return id, ok && id > 0
	}
	s.Store = store
	s.HashTokenInStore = true
	s.IdleTimeout = cfg.SessionIdleTimeout
	s.Lifetime = cfg.SessionLifetime
	s.Cookie.Name = "hris_session"
	s.Cookie.HttpOnly = true
	s.Cookie.SameSite = http.SameSiteLaxMode
	s.Cookie.Secure = cfg.CookieSecure
	s.Cookie.Path = "/"
	return s
}

// loadSession loads the scs session, prepared for the store's coalescing
// of idle-timeout renewals.
func (a *App) loadSession(next http.Handler) http.Handler {
	inner := a.sessions.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxSessionLoaded, true)))
	}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inner.ServeHTTP(w, r.WithContext(db.WithSessionMemo(r.Context())))
	})
}

func (a *App) hasSession(r *http.Request) bool {
	loaded, _ := r.Context().Value(ctxSessionLoaded).(bool)
	return loaded
}

const sessionUserID = "user_id"

// loadUser reads the session's user from the database on every request, so
// a deactivated user or a changed role takes effect on the next click, on
// every instance. A session whose user is gone or inactive is destroyed.
//
// The session lookup has usually read the user already, in the same query
// (db.SessionUserOf); only a session saved without its user_id column, or
// whose user is gone, costs a query of its own here.
func (a *App) loadUser(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		id := a.sessions.GetInt64(ctx, sessionUserID)
		if id == 0 {
			next.ServeHTTP(w, r)
			return
		}
		row, found := db.SessionUserOf(ctx, id)
		var err error
		if !found {
			err = a.db.Read(ctx, func(ctx context.Context, q *db.Queries) (err error) {
				row, err = q.SessionUser(ctx, id)
				return err
			})
		}
		if err != nil && !errors.Is(err, db.ErrNotFound) {
			a.handleError(w, r, err)
			return
		}
		if errors.Is(err, db.ErrNotFound) || !row.IsActive {
			if err := a.sessions.Destroy(ctx); err != nil {
				a.handleError(w, r, err)
				return
			}
			a.flash(r, "error", "Your account has been deactivated. Ask an administrator if you think this is a mistake.")
			a.toLogin(w, r, false)
			return
		}
		u := &layouts.User{ID: row.ID, Name: row.Name, Email: row.Email, Role: row.Role, Department: row.DepartmentName}
		if who, ok := ctx.Value(ctxLogUser).(*int64); ok {
			*who = u.ID
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(ctx, ctxUser, u)))
	})
}

// requireLogin sends anonymous visitors to the login page.
func (a *App) requireLogin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if currentUser(r.Context()) == nil {
			a.toLogin(w, r, true)
			return
		}
		// Pages show who is logged in: never let a shared cache keep them.
		w.Header().Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// requireRole answers 403 to users without role.
func (a *App) requireRole(role string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if u := currentUser(r.Context()); u == nil || u.Role != role {
				a.forbidden(w, r)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// toLogin redirects to /login, remembering where the user was going. htmx
// requests get HX-Redirect, because a 303 would be followed inside the
// XMLHttpRequest and swap the login page into a panel.
func (a *App) toLogin(w http.ResponseWriter, r *http.Request, keepNext bool) {
	target := "/login"
	if keepNext && r.Method == http.MethodGet && r.URL.Path != "/" && r.URL.Path != "/login" && r.Header.Get("HX-Request") == "" {
		target += "?next=" + url.QueryEscape(r.URL.RequestURI())
	}
	if r.Header.Get("HX-Request") != "" {
		w.Header().Set("HX-Redirect", target)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	redirect(w, r, target)
}

// clientIP is the address of the person at the other end, for login
// throttling and the audit log. It is the TCP peer, unless the peer is one
// of HRIS_TRUSTED_PROXIES: then X-Forwarded-For is read from the right,
// skipping our own proxies, and the first other address is the client.
// Forwarded headers from anyone else are ignored: they are trivially forged.
func (a *App) clientIP(r *http.Request) string {
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	addr := peer.Addr().Unmap()
	if !a.trusted(addr) {
		return addr.String()
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break // a garbled hop: trust nothing before it
		}
		addr = hop.Unmap()
		if !a.trusted(addr) {
			break
		}
	}
	return addr.String()
}

// fromTrustedProxy reports that the request's TCP peer is one of
// HRIS_TRUSTED_PROXIES.
func (a *App) fromTrustedProxy(r *http.Request) bool {
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	return err == nil && a.trusted(peer.Addr().Unmap())
}

func (a *App) trusted(addr netip.Addr) bool {
	for _, p := range a.cfg.TrustedProxies {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// safeNext is where to go after login: next if it is a path on this site,
// the employee list otherwise, so the login form cannot bounce users to
// another site.
func safeNext(next string) string {
	if p, ok := localPath(next); ok {
		return p
	}
	return "/employees"
}

// localPath returns s as a path on this site, or false for anything a
// browser could take elsewhere: a scheme or host, "//" or "/\" (both
// protocol-relative to browsers), or control characters, which browsers
// strip (so "/\t/evil.example" becomes "//evil.example").
func localPath(s string) (string, bool) {
	if s == "" || len(s) > 2048 {
		return "", false
	}
	for _, c := range s {
		if c < 0x20 || c == 0x7f || c == '\\' {
			return "", false
		}
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" ||
		!strings.HasPrefix(u.Path, "/") || strings.HasPrefix(u.Path, "//") {
		return "", false
	}
	return u.RequestURI(), true
}

// limitBody caps request bodies: no form of ours is near 1 MiB.
func limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
		}
		next.ServeHTTP(w, r)
	})
}

// crossOriginProtection refuses cross-site state-changing requests using
// Sec-Fetch-Site and Origin (Go's http.CrossOriginProtection), so forms
// need no CSRF tokens.
func (a *App) crossOriginProtection(next http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(a.crossOriginRefused))
	return cop.Handler(next)
}

// withUser gives pages outside the logged-in group (404, 405) the session's
// user, so they still show the navigation.
func (a *App) withUser(h http.HandlerFunc) http.HandlerFunc {
	wrapped := a.loadSession(a.loadUser(h))
	return wrapped.ServeHTTP
}
