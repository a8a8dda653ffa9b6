package web

import (
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"
)

// Text PostgreSQL cannot store: a NUL byte, or bytes that are not UTF-8.
// A text column refuses both (SQLSTATE 22021), so they are checked where
// input arrives, before any query sees them: a form shows a message by the
// field (422), a link with such a query string gets a 400 page. What still
// slips through is mapped to 400 in handleError, never to a 500.

// unstorable reports text PostgreSQL cannot store.
func unstorable(s string) bool {
	return strings.IndexByte(s, 0) >= 0 || !utf8.ValidString(s)
}

// unstorableMessage is the form message for such text.
const unstorableMessage = "Remove the characters that cannot be stored (a NUL byte, or bytes that are not text)."

// cleanText is s fit to show again in a form: invalid bytes become the
// replacement character and NULs are dropped.
func cleanText(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
}

// checkQueryText refuses a request whose query string holds text that
// cannot be stored, before a handler reads it: every search and filter
// reaches a query.
func (a *App) checkQueryText(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.RawQuery != "" && unstorableQuery(r.URL.RawQuery) {
			a.clientError(w, r, http.StatusBadRequest, "This address cannot be used",
				"The link or search holds characters that cannot be stored or searched for (such as a NUL byte, or bytes that are not text). Check what you typed or pasted, and try again.")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func unstorableQuery(raw string) bool {
	v, err := url.ParseQuery(raw)
	if err != nil {
		// A malformed escape: Go's own parsing skips such pairs, so no
		// handler sees them; the rest is checked below.
		if v == nil {
			return false
		}
	}
	for k, vals := range v {
		if unstorable(k) {
			return true
		}
		for _, s := range vals {
			if unstorable(s) {
				return true
			}
		}
	}
	return false
}
