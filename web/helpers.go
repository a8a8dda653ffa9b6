package web

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"hris/db"
)

// Helpers of the handlers: reading requests and forms, keyset cursors.

// isPartial reports an htmx request that wants only the swap target. A
// history restore (back button after the cache was lost) wants the full page.
func isPartial(r *http.Request) bool {
	return r.Header.Get("HX-Request") == "true" && r.Header.Get("HX-History-Restore-Request") != "true"
}

// errNoSuchRecord is an address naming a record that cannot exist (a path
// id that is not a positive number): a 404, like a record that is gone.
var errNoSuchRecord = errors.New("no such record")

// idFromURL parses the {id} path parameter.
func idFromURL(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, errNoSuchRecord
	}
	return id, nil
}

// formVersion is the hidden version field of an edit form.
func formVersion(r *http.Request) (int32, bool) {
	v, err := strconv.ParseInt(r.PostFormValue("version"), 10, 32)
	return int32(v), err == nil && v > 0
}

// Helpers shared by the employee, department and audit pages.

// errStale is an edit made on a version that is no longer the saved one.
var errStale = errors.New("stale version")

// idempotencyKey reads the hidden idempotency_key of a create form. A form
// without one (a script, an old page) gets a fresh key: it is created once
// but without protection against its own retries. A key that is present
// but malformed is a broken form and is reported.
func idempotencyKey(r *http.Request) (uuid.UUID, bool) {
	s := strings.TrimSpace(r.PostFormValue("idempotency_key"))
	if s == "" {
		return uuid.New(), true
	}
	k, err := uuid.Parse(s)
	return k, err == nil
}

// newIdempotencyKey is the hidden key of a fresh create form.
func newIdempotencyKey() string { return uuid.NewString() }

const brokenFormMessage = "This form is damaged or out of date. Check the values below and submit again."

// requiredText trims s and checks it is present, storable and at most max
// characters.
func requiredText(s string, max int, missing string) (string, string) {
	s = strings.TrimSpace(s)
	switch {
	case unstorable(s):
		return cleanText(s), unstorableMessage
	case s == "":
		return s, missing
	case utf8.RuneCountInString(s) > max:
		return s, "Use at most " + strconv.Itoa(max) + " characters."
	}
	return s, ""
}

// optionalText trims s and checks it is storable and at most max characters.
func optionalText(s string, max int) (string, string) {
	s = strings.TrimSpace(s)
	if unstorable(s) {
		return cleanText(s), unstorableMessage
	}
	if utf8.RuneCountInString(s) > max {
		return s, "Use at most " + strconv.Itoa(max) + " characters."
	}
	return s, ""
}

// parseDate reads a YYYY-MM-DD form value.
func parseDate(s string) (time.Time, bool) {
	t, err := time.Parse(time.DateOnly, strings.TrimSpace(s))
	return t, err == nil
}

// parseOptionalID reads an optional record number; "#42" is accepted as 42.
func parseOptionalID(s string) (*int64, bool) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "#")
	if s == "" {
		return nil, true
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return nil, false
	}
	return &id, true
}

// readPlanned runs the queries of a list page in one read-only-in-practice
// transaction planned for their actual parameters (see db.CustomPlans).
// InTx retries it on every failure before its COMMIT; a read has nothing
// to lose from an unknown commit either way.
func (a *App) readPlanned(ctx context.Context, fn db.Query) error {
	return a.db.InTx(ctx, func(ctx context.Context, q *db.Queries) error {
		if err := q.UsePlans(ctx, string(db.CustomPlans)); err != nil {
			return err
		}
		return fn(ctx, q)
	})
}

// encodeCursor and decodeCursor turn a keyset position into an opaque
// URL-safe token and back.
func encodeCursor(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string, v any) bool {
	if s == "" {
		return false
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil && json.Unmarshal(b, v) == nil
}

// likeEscape makes s match literally inside a LIKE pattern: % and _ are
// wildcards and \ is the escape character.
var likeEscape = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace
