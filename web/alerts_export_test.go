package web

import (
	"context"
	"time"
)

// Hooks into the alerts for the tests.

// AlertRound runs one evaluation of the fleet rules now, as the lease
// holder's loop does, whether or not this app holds the lease: its writes
// are fenced by the lease, so an app that does not hold it stores nothing.
func AlertRound(a *App, ctx context.Context) { a.alertRound(ctx) }

// AlertLeaseHeld reports whether this app held the alerts lease at its
// last round.
func AlertLeaseHeld(a *App) bool { return a.alerts.holding() }

// AlertQueued is how many transitions of this instance's own rules wait
// to be written to the database.
func AlertQueued(a *App) int {
	l := a.alerts.local
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.queue)
}

// AlertTTL is the alerts lease's TTL.
func AlertTTL(a *App) time.Duration { return a.alerts.lease.TTL() }

// AlertFencedRounds is how many of this app's rounds the lease fence
// refused to store.
func AlertFencedRounds(a *App) int64 { return a.alerts.fencedOff.Load() }
