package db

import (
	"context"
	"errors"
	"io"
	"net"
	"syscall"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// ErrNotFound is a query that found no row: the record does not exist
// (pgx.ErrNoRows, under the name the web layer and the CLI use).
var ErrNotFound = pgx.ErrNoRows

// ErrPoolTimeout means no pooled connection became free within the acquire
// budget (HRIS_DB_ACQUIRE_TIMEOUT): the pool is saturated or the server
// cannot be reached.
var ErrPoolTimeout = errors.New("db: timed out waiting for a database connection")

// ErrUnavailable wraps every error that means "the database cannot serve
// this now, try again shortly" so the web layer can answer 503 in one place.
var ErrUnavailable = errors.New("db: database unavailable")

type unavailableError struct{ err error }

func (e unavailableError) Error() string { return e.err.Error() }
func (e unavailableError) Unwrap() []error {
	return []error{ErrUnavailable, e.err}
}

// markUnavailable wraps err with ErrUnavailable when it is an outage rather
// than a bug or bad input.
func markUnavailable(err error) error {
	if err == nil || errors.Is(err, ErrUnavailable) || !isOutage(err) {
		return err
	}
	return unavailableError{err}
}

// SQLState returns the PostgreSQL error code of err, or "".
func SQLState(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

// IsForeignKeyViolation reports a foreign key failure, and which one: the
// row refers to one that does not exist (or is referred to, on delete).
func IsForeignKeyViolation(err error) (constraint string, ok bool) {
	return violation(err, "23503")
}

// IsExclusionViolation reports an exclusion constraint failure (two rows
// that may not overlap, overlapping), and which one.
func IsExclusionViolation(err error) (constraint string, ok bool) {
	return violation(err, "23P01")
}

func violation(err error, code string) (string, bool) {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == code {
		return pgErr.ConstraintName, true
	}
	return "", false
}

// IsUnstorableText reports text PostgreSQL refuses to store: a NUL byte,
// or bytes that are not valid UTF-8 (22021), or characters the database's
// encoding lacks (22P05). The web checks text before it gets here; this is
// the backstop, so such input is a client's mistake (400), never a 500.
func IsUnstorableText(err error) bool {
	switch SQLState(err) {
	case "22021", "22P05":
		return true
	}
	return false
}

// IsUniqueViolation reports a unique constraint failure, and which one.
func IsUniqueViolation(err error) (constraint string, ok bool) {
	return violation(err, "23505")
}

// isOutage reports errors that say the server is gone, hung, overloaded or
// going away, as opposed to errors in the SQL or the data.
func isOutage(err error) bool {
	if errors.Is(err, ErrPoolTimeout) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	switch code := SQLState(err); {
	case code == "":
	case code[:2] == "08", // connection exception
		code[:2] == "53",                 // insufficient resources: too many connections, out of memory, disk full
		code[:2] == "57",                 // operator intervention: shutdown, cancel, statement timeout
		code == "40001", code == "40P01", // serialization failure, deadlock (after retries)
		code == "55P03", // lock not available
		code == "25006": // read-only transaction: the server is a standby now (failover)
		return true
	default:
		return false
	}
	return isConnectionLost(err)
}

// isConnectionLost reports errors of a connection that broke: refused,
// reset, closed under us, or a pgconn connect failure.
func isConnectionLost(err error) bool {
	var connectErr *pgconn.ConnectError
	if errors.As(err, &connectErr) {
		return true
	}
	switch SQLState(err) {
	case "57P01", "57P02", "57P03": // admin shutdown, crash shutdown, cannot connect now
		return true
	}
	if pgconn.SafeToRetry(err) || pgconn.Timeout(err) {
		return true
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	var netErr net.Error
	return errors.As(err, &netErr)
}

// Reason names the kind of failure in a few words, without hosts, users or
// database names: safe for public health output (the detail goes to logs).
func Reason(err error) string {
	var connectErr *pgconn.ConnectError
	switch code := SQLState(err); {
	case err == nil:
		return ""
	case errors.Is(err, ErrPoolTimeout):
		return "no pooled connection free in time"
	case errors.Is(err, context.DeadlineExceeded) || pgconn.Timeout(err):
		return "timeout: no answer in time"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case code == "28P01" || code == "28000":
		return "authentication failed (" + code + ")"
	case code == "3D000":
		return "database does not exist (3D000)"
	case code == "53300":
		return "too many connections (53300)"
	case code == "25006":
		return "read-only server (25006): not the primary"
	case code != "":
		return "server error " + code
	case errors.As(err, &connectErr):
		return "cannot connect"
	case isConnectionLost(err):
		return "connection lost"
	}
	return "error"
}
