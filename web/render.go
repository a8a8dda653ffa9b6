package web

import (
	"bytes"
	"net/http"
	"strconv"
	"sync"

	"github.com/a-h/templ"

	"hris/views/layouts"
)

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// render renders c into a buffer first and only then writes the status and
// body, so a failure halfway through becomes a clean error page instead of
// half a page under a 200.
func (a *App) render(w http.ResponseWriter, r *http.Request, status int, c templ.Component) {
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer func() {
		if buf.Cap() < 1<<20 { // don't keep rare huge buffers alive
			bufPool.Put(buf)
		}
	}()
	if err := c.Render(r.Context(), buf); err != nil {
		if status >= 500 {
			// Rendering the error page itself failed: fall back to text.
			http.Error(w, http.StatusText(status), status)
			return
		}
		a.serverError(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// basePage is the page shell's view of the request without touching the
// session store (error pages must render when the database is down).
func (a *App) basePage(r *http.Request, title, nav string) layouts.Page {
	p := layouts.Page{Title: title, Nav: nav}
	if u := currentUser(r.Context()); u != nil {
		p.User = u
	}
	return p
}

// page is basePage plus the pending flash message, which it consumes.
func (a *App) page(r *http.Request, title, nav string) layouts.Page {
	p := a.basePage(r, title, nav)
	p.Flash = a.popFlash(r)
	return p
}

// flash stores a message to show on the next page.
func (a *App) flash(r *http.Request, kind, msg string) {
	a.sessions.Put(r.Context(), "flash_kind", kind)
	a.sessions.Put(r.Context(), "flash", msg)
}

func (a *App) popFlash(r *http.Request) *layouts.Flash {
	ctx := r.Context()
	if !a.hasSession(r) || !a.sessions.Exists(ctx, "flash") {
		return nil
	}
	return &layouts.Flash{Kind: a.sessions.PopString(ctx, "flash_kind"), Message: a.sessions.PopString(ctx, "flash")}
}

// redirect answers 303 See Other: after a POST, the browser GETs the target.
func redirect(w http.ResponseWriter, r *http.Request, url string) {
	http.Redirect(w, r, url, http.StatusSeeOther)
}
