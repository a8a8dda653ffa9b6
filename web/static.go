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
