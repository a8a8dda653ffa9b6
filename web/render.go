package web

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/a-h/templ"

	"hris/views/layouts"
)

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func getBuf() *bytes.Buffer {
	b := bufPool.Get().(*bytes.Buffer)
	b.Reset()
	return b
}

func putBuf(b *bytes.Buffer) {
	if b.Cap() < 1<<20 { // don't keep rare huge buffers alive
		bufPool.Put(b)
	}
}

// gzipMinSize is the smallest page worth compressing: below about one TCP
// segment, compression saves no round trip and only costs CPU.
const gzipMinSize = 1400

// gzipPool holds writers at BestSpeed: a 20 KB list page shrinks about
// sixfold for ~0.15 ms of CPU here; the default level saves a few percent
// more for three times the CPU.
var gzipPool = sync.Pool{New: func() any {
	w, _ := gzip.NewWriterLevel(io.Discard, gzip.BestSpeed)
	return w
}}

// render renders c into a buffer first and only then writes the status and
// body, so a failure halfway through becomes a clean error page instead of
// half a page under a 200. Pages of gzipMinSize and more are compressed for
// clients that accept gzip (every browser). Only pages go through here:
// /metrics (promhttp compresses itself), JSON and CSV streams are left as
// they are.
func (a *App) render(w http.ResponseWriter, r *http.Request, status int, c templ.Component) {
	buf := getBuf()
	defer putBuf(buf)
	if err := c.Render(r.Context(), buf); err != nil {
		if r.Context().Err() == nil && status >= 500 {
			// Rendering the error page itself failed: fall back to text.
			http.Error(w, http.StatusText(status), status)
			return
		}
		// templ stops when the request's context ends: a client that left
		// mid-render is a 499 there, not a server error (it would count
		// towards the 5xx alert).
		a.handleError(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Add("Vary", "Accept-Encoding")
	body := buf
	if buf.Len() >= gzipMinSize && acceptsGzip(r) {
		zbuf := getBuf()
		defer putBuf(zbuf)
		zw := gzipPool.Get().(*gzip.Writer)
		zw.Reset(zbuf)
		_, _ = zw.Write(buf.Bytes()) // writes into memory cannot fail
		_ = zw.Close()
		gzipPool.Put(zw)
		h.Set("Content-Encoding", "gzip")
		body = zbuf
	}
	h.Set("Content-Length", strconv.Itoa(body.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(body.Bytes())
}

// acceptsGzip reports whether the request's Accept-Encoding allows gzip,
// by name or by *, and not with q=0.
func acceptsGzip(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept-Encoding") {
		for part := range strings.SplitSeq(v, ",") {
			name, params, _ := strings.Cut(part, ";")
			if n := strings.TrimSpace(name); n == "gzip" || n == "*" {
				return !zeroQ(params)
			}
		}
	}
	return false
}

// zeroQ reports a q=0 parameter ("not acceptable") among params.
func zeroQ(params string) bool {
	for p := range strings.SplitSeq(params, ";") {
		k, v, ok := strings.Cut(p, "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
			q, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return err == nil && q == 0
		}
	}
	return false
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
