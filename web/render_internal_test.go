package web

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/a-h/templ"
)

// TestRenderForAClientThatLeft: templ stops rendering when the request's
// context ends. A client that left mid-render is answered 499 ("client
// closed request", as nginx logs it), and nothing is logged as a server
// error: under load, wrk stopping showed up as a few 500s a run.
func TestRenderForAClientThatLeft(t *testing.T) {
	var logged bytes.Buffer
	a := &App{log: slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: slog.LevelInfo}))}
	ctx, cancel := context.WithCancel(context.Background())
	page := templ.ComponentFunc(func(ctx context.Context, w io.Writer) error {
		cancel() // the client leaves halfway
		return ctx.Err()
	})
	w := httptest.NewRecorder()
	a.render(w, httptest.NewRequest(http.MethodGet, "/employees", nil).WithContext(ctx), http.StatusOK, page)
	if w.Code != statusClientClosed {
		t.Errorf("status %d, want %d", w.Code, statusClientClosed)
	}
	if strings.Contains(logged.String(), "server error") {
		t.Errorf("logged as a server error: %s", logged.String())
	}

	// A page that fails for another reason is still a 500.
	w = httptest.NewRecorder()
	failing := templ.ComponentFunc(func(context.Context, io.Writer) error { return io.ErrUnexpectedEOF })
	a.render(w, httptest.NewRequest(http.MethodGet, "/employees", nil), http.StatusOK, failing)
	if w.Code != http.StatusInternalServerError || !strings.Contains(logged.String(), "server error") {
		t.Errorf("a failing page: status %d, log %q", w.Code, logged.String())
	}
}
