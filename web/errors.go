package web

import (
	"errors"
	"net/http"
	"strconv"

	"hris/db"
	"hris/views/pages"
)

// statusClientClosed is nginx's 499 "client closed request": recorded in
// the logs and metrics for requests whose client left before the answer.
const statusClientClosed = 499

// retryAfterSeconds is what a 503 asks clients to wait: about how long a
// restarting PostgreSQL or a saturated pool takes to recover.
const retryAfterSeconds = 5

// handleError is the one place errors become responses: no rows → 404,
// text the database cannot store → 400, an unavailable database → 503, a
// client that went away → nothing, anything else → 500 with the detail in
// the log only.
func (a *App) handleError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case r.Context().Err() != nil:
		// The client went away (closed the tab, a poll replaced by the next);
		// whatever failed after that failed for that reason, and nobody is
		// left to read an answer.
		a.log.Debug("request abandoned by client", "path", r.URL.Path, "err", err, "request_id", requestID(r.Context()))
		w.WriteHeader(statusClientClosed)
	case errors.Is(err, db.ErrNotFound), errors.Is(err, errNoSuchRecord):
		a.notFound(w, r)
	case db.IsUnstorableText(err):
		// The checks at the edge (text.go) should have caught it first.
		a.log.Warn("unstorable text reached the database", "err", err, "path", r.URL.Path, "request_id", requestID(r.Context()))
		a.clientError(w, r, http.StatusBadRequest, "Characters that cannot be stored",
			"What was sent contains characters that cannot be stored (such as a NUL byte, or bytes that are not UTF-8 text). Check what you typed or pasted, and try again.")
	case errors.Is(err, db.ErrUnavailable):
		a.dbUnavailable(w, r, err)
	default:
		a.serverError(w, r, err)
	}
}

// serverError logs err and answers a generic 500 page: no stack traces or
// SQL reach the browser.
func (a *App) serverError(w http.ResponseWriter, r *http.Request, err error) {
	a.log.Error("server error", "err", err, "method", r.Method, "path", r.URL.Path, "request_id", requestID(r.Context()))
	a.serverErrorPage(w, r)
}

// serverErrorPage is the 500 page, for errors and panics alike.
func (a *App) serverErrorPage(w http.ResponseWriter, r *http.Request) {
	a.errorPage(w, r, http.StatusInternalServerError, "Something went wrong",
		"The error has been logged. If it keeps happening, tell an administrator and quote the request ID below.")
}

// dbUnavailable answers 503 fast with Retry-After when the database cannot
// serve: pool exhausted, server down, hung or restarting.
func (a *App) dbUnavailable(w http.ResponseWriter, r *http.Request, err error) {
	a.unavailable.Add(1)
	a.log.Warn("database unavailable", "err", err, "sqlstate", db.SQLState(err), "path", r.URL.Path, "request_id", requestID(r.Context()))
	w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds))
	a.errorPage(w, r, http.StatusServiceUnavailable, "The database is not answering right now",
		"hris could not reach its database in time. If you were saving a change, it was not saved: go back to the form, where your browser keeps what you typed, and send it again.")
}

// clientError answers a 4xx page: the request cannot be served as sent.
func (a *App) clientError(w http.ResponseWriter, r *http.Request, status int, heading, msg string) {
	a.errorPage(w, r, status, heading, msg)
}

func (a *App) notFound(w http.ResponseWriter, r *http.Request) {
	a.clientError(w, r, http.StatusNotFound, "Not found", "There is nothing at this address. It may have been deleted, or the link is wrong.")
}

func (a *App) forbidden(w http.ResponseWriter, r *http.Request) {
	a.clientError(w, r, http.StatusForbidden, "Administrators only",
		"This page is for administrators. If you need it, ask an administrator to change your role.")
}

func (a *App) methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	a.clientError(w, r, http.StatusMethodNotAllowed, "Method not allowed", "This address does not accept that kind of request.")
}

// crossOriginRefused is the deny handler of http.CrossOriginProtection.
func (a *App) crossOriginRefused(w http.ResponseWriter, r *http.Request) {
	a.log.Warn("cross-origin request refused", "method", r.Method, "path", r.URL.Path, "origin", r.Header.Get("Origin"), "sec_fetch_site", r.Header.Get("Sec-Fetch-Site"))
	a.clientError(w, r, http.StatusForbidden, "Request refused",
		"This form was sent from another site, so it was refused. Open hris directly and try again.")
}

// sessionError is scs's ErrorFunc: loading or saving a session failed.
func (a *App) sessionError(w http.ResponseWriter, r *http.Request, err error) {
	a.handleError(w, r, err)
}

// errorPage renders an error page with status. htmx requests get the same
// page; htmx does not swap error responses into the page by default.
func (a *App) errorPage(w http.ResponseWriter, r *http.Request, status int, heading, msg string) {
	e := pages.ErrorView{Status: status, Heading: heading, Message: msg, RequestID: requestID(r.Context())}
	if status == http.StatusServiceUnavailable {
		e.RetryAfter = retryAfterSeconds
		if p, ok := localPath(r.URL.RequestURI()); ok && r.Method == http.MethodGet {
			e.RetryURL = p
		}
	}
	p := a.basePage(r, heading, "")
	a.render(w, r, status, pages.Error(p, e))
}
