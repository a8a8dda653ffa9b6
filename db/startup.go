package db

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// StartupError is a failure to reach the database at startup, with one line
// that says what is wrong and what to do.
type StartupError struct {
	Class string // refused, auth, no_database, too_many_connections, timeout, dns, other
	Msg   string
	Err   error
}

func (e *StartupError) Error() string { return e.Msg }
func (e *StartupError) Unwrap() error { return e.Err }

// Verify connects to the database, retrying the failures that may pass (the
// server is starting, refusing, or full) until budget runs out; failures
// that will not pass by waiting (a wrong password, a missing database) end
// it at once. The error is a *StartupError.
func Verify(ctx context.Context, cfg Config, budget time.Duration, log *slog.Logger) error {
	pc, err := PoolConfig(cfg)
	if err != nil {
		return &StartupError{Class: "config", Msg: err.Error(), Err: err}
	}
	cc := pc.ConnConfig
	hosts := hostSetFor(&cc.Config)
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	delay := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		attemptCtx, cancelAttempt := context.WithTimeout(ctx, min(cfg.ConnectTimeout, budget))
		acc := cc.Copy()
		hosts.prepareConnect(&acc.Config, func(ev hostEvent) { logHostEvent(log, ev) })
		conn, err := pgx.ConnectConfig(attemptCtx, acc)
		if err == nil {
			err = conn.Ping(attemptCtx)
			conn.Close(context.WithoutCancel(attemptCtx))
		}
		cancelAttempt()
		if err == nil {
			return nil
		}
		se := Classify(err, cc)
		if se.Class == "auth" || se.Class == "no_database" || se.Class == "dns" || se.Class == "config" {
			return se
		}
		if log != nil {
			log.Info("waiting for the database", "attempt", attempt, "cause", se.Class)
		}
		select {
		case <-ctx.Done():
			se.Msg += fmt.Sprintf(" (gave up after %d attempts in %s)", attempt, budget)
			return se
		case <-time.After(delay):
		}
		delay = min(delay*2, 2*time.Second)
	}
}

// Classify turns a connection error into a StartupError with advice.
func Classify(err error, cc *pgx.ConnConfig) *StartupError {
	where := strings.Join(configHosts(&cc.Config), ",")
	se := &StartupError{Err: err}
	var dnsErr *net.DNSError
	switch code := SQLState(err); {
	case code == "28P01" || code == "28000":
		se.Class = "auth"
		se.Msg = fmt.Sprintf("database: PostgreSQL at %s refused user %q (%s authentication failed): check the user and password in DATABASE_URL", where, cc.User, code)
	case code == "3D000":
		se.Class = "no_database"
		se.Msg = fmt.Sprintf("database: database %q does not exist on %s (3D000): create it (createdb %s) or fix the name in DATABASE_URL", cc.Database, where, cc.Database)
	case code == "53300":
		se.Class = "too_many_connections"
		se.Msg = fmt.Sprintf("database: PostgreSQL at %s has no free connection slots (53300 too many connections): lower HRIS_DB_MAX_CONNS or the number of app instances, raise max_connections, or put PgBouncer in front", where)
	case code == "57P03":
		se.Class = "starting"
		se.Msg = fmt.Sprintf("database: PostgreSQL at %s is starting up or shutting down (57P03): wait for it, or check its log", where)
	case errors.Is(err, syscall.ECONNREFUSED):
		se.Class = "refused"
		se.Msg = fmt.Sprintf("database: connection to %s refused: is PostgreSQL running and listening there? Check DATABASE_URL's host and port", where)
	case errors.As(err, &dnsErr):
		se.Class = "dns"
		se.Msg = fmt.Sprintf("database: cannot resolve host %q: fix the host in DATABASE_URL", cc.Host)
	case pgconn.Timeout(err) || errors.Is(err, context.DeadlineExceeded):
		se.Class = "timeout"
		se.Msg = fmt.Sprintf("database: no answer from %s within HRIS_DB_CONNECT_TIMEOUT: check the host, the network and firewall, or whether the server is hung", where)
	default:
		se.Class = "other"
		se.Msg = fmt.Sprintf("database: cannot connect to %s: %s", where, oneLine(err.Error()))
	}
	return se
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
