package web

import (
	"net/http"
	"strings"

	"hris/static"
)

// staticFiles serves the embedded assets. A request carrying the current
// ?v= digest may be cached for a year; anything else for five minutes.
func staticFiles() http.Handler {
	files := http.StripPrefix("/static/", http.FileServerFS(static.FS))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") || strings.HasSuffix(r.URL.Path, ".go") {
			http.NotFound(w, r)
			return
		}
		if r.URL.Query().Get("v") == static.Version {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			w.Header().Set("Cache-Control", "public, max-age=300")
		}
		files.ServeHTTP(w, r)
	})
}

func faviconRedirect(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, "/static/favicon.svg?v="+static.Version, http.StatusMovedPermanently)
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
