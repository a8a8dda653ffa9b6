package web

import (
	"context"
	"errors"
	"fmt"
	"time"

	"hris/db"
)

// alertWriteLimits bound the transitions' transaction: a locked alerts
// table costs a skipped round (the next one decides again), never a stuck
// evaluator.
var alertWriteLimits = db.Limits{Lock: time.Second, Statement: 5 * time.Second}

// alertTx runs fn in a transaction bounded by alertWriteLimits with the
// settings of a short bookkeeping transaction (db's ShortTx): it commits
// without waiting for a synchronous standby (the standby may be what an
// alert is about), and a holder frozen inside it loses it after 5 s
// instead of keeping the lease row locked.
func (a *App) alertTx(ctx context.Context, fn db.Query) error {
	return a.opsDB.InTxLimited(ctx, alertWriteLimits, shortTx(fn))
}

// alertTxIdempotent is alertTx for work that recognises its own earlier
// result: a commit of unknown outcome is tried again.
func (a *App) alertTxIdempotent(ctx context.Context, fn db.Query) error {
	return a.opsDB.InTxIdempotentLimited(ctx, alertWriteLimits, shortTx(fn))
}

func shortTx(fn db.Query) db.Query {
	return func(ctx context.Context, q *db.Queries) error {
		if err := q.ShortTx(ctx); err != nil {
			return err
		}
		return fn(ctx, q)
	}
}

// evaluateAlerts runs the fleet rules while this instance holds the
// "alerts" lease, until ctx ends.
func (a *App) evaluateAlerts(ctx context.Context) {
	al := a.alerts
	a.runLeased(ctx, al.lease, a.cfg.Alerts.Interval, func(ctx context.Context, at time.Time) {
		// runLeased has just taken or renewed the lease: this process may
		// send for most of its TTL.
		al.heldUntil.Store(time.Now().Add(al.lease.TTL() - a.cfg.Alerts.Interval/2).UnixNano())
		a.alertRound(ctx)
	})
	al.heldUntil.Store(0)
}

// alertRound is one evaluation of the fleet rules by the lease holder.
func (a *App) alertRound(ctx context.Context) {
	al := a.alerts
	interval := a.cfg.Alerts.Interval
	defer al.nudge()

	al.mu.Lock()
	defer al.mu.Unlock()
	now := time.Now()
	if !al.lastRound.IsZero() && now.Sub(al.lastRound) > 2*interval+interval/2 {
		al.fleet.forgetPending()
	}
	al.lastRound = now

	r, err := a.readAlerts(ctx)
	if err != nil {
		if ctx.Err() == nil {
			a.log.Warn("alerts: reading failed; the next round tries again", "err", err, "sqlstate", db.SQLState(err))
		}
		return
	}
	for _, rule := range sortedRules(r.failed) {
		a.log.Warn("alerts: a rule could not be evaluated", "rule", rule, "err", r.failed[rule])
	}
	al.reading.Store(r)
	findings, evaluated := fleetFindings(a.cfg.Alerts, r, a.cfg.InstanceID)
	al.fleet.sync(r.open)
	xs := al.fleet.step(r.at, interval, findings, evaluated)
	orphans := orphanedLocal(r)
	if len(xs) == 0 && len(orphans) == 0 {
		a.pruneAlerts(ctx, now)
		return
	}
	err = a.storeTransitions(ctx, xs, orphans)
	switch {
	case isLeaseLost(err):
		a.log.Info("alerts: the lease moved to another instance during the round; it decides now")
		al.heldUntil.Store(0)
		al.fencedOff.Add(1)
		return
	case err != nil:
		if ctx.Err() == nil {
			a.log.Warn("alerts: transitions not stored; the next round decides again", "err", err, "sqlstate", db.SQLState(err))
		}
		return
	}
	for _, x := range xs {
		if x.done {
			al.fleet.apply(x)
		}
		switch {
		case x.kind == tFire && x.done:
			a.log.Warn("alert firing", "rule", x.f.Rule, "severity", x.f.Severity, "subject", x.f.Subject, "summary", x.f.Summary)
		case x.kind == tEscalate && x.done:
			a.log.Warn("alert now critical", "rule", x.f.Rule, "subject", x.f.Subject, "summary", x.f.Summary)
		case x.kind == tResolve && x.done:
			a.log.Info("alert resolved", "rule", x.f.Rule, "subject", x.f.Subject)
		}
	}
	a.pruneAlerts(ctx, now)
}

// sync brings the tracker in line with the episodes open in the database:
// fired by an earlier holder, or resolved by another one meanwhile.
func (tr *tracker) sync(open []db.OpenAlertsRow) {
	openKeys := map[alertKey]bool{}
	for _, o := range open {
		rule, ok := ruleByName(o.Rule)
		if !ok || !rule.Fleet {
			continue
		}
		k := alertKey{o.Rule, o.Subject}
		openKeys[k] = true
		t := tr.tracks[k]
		if t == nil {
			t = &track{pendingSince: o.StartedAt}
			tr.tracks[k] = t
		}
		t.firing, t.id, t.severity, t.startedAt, t.firedAt = true, o.ID, o.Severity, o.StartedAt, o.FiredAt
		if t.last.Rule == "" {
			t.last = finding{Rule: o.Rule, Subject: o.Subject, Severity: o.Severity, Summary: o.Summary, Instance: o.Instance, Details: map[string]any{}}
		}
	}
	for k, t := range tr.tracks {
		if t.firing && !openKeys[k] {
			delete(tr.tracks, k) // resolved by someone else
		}
	}
}

// storeTransitions writes a round's transitions in one transaction fenced
// by the lease: a holder that stalled past its TTL (another has taken
// over) stores nothing. Each firing, escalation and resolution is stored
// at most once however many instances try (the unique indexes).
func (a *App) storeTransitions(ctx context.Context, xs []transition, orphans []db.OpenAlertsRow) error {
	return a.alertTx(ctx, func(ctx context.Context, q *db.Queries) error {
		for i := range xs {
			xs[i].done = false
		}
		if err := a.alerts.lease.Fence(ctx, q); err != nil {
			return err
		}
		for i := range xs {
			x := &xs[i]
			var err error
			switch x.kind {
			case tFire:
				err = openEpisode(ctx, q, x)
			case tEscalate:
				err = escalateEpisode(ctx, q, x)
			case tRefresh:
				err = q.RefreshAlert(ctx, db.RefreshAlertParams{ID: x.t.id, Summary: x.f.Summary, Details: detailsJSON(x.f.Details), At: x.at})
				x.done = err == nil
			case tResolve:
				err = resolveEpisode(ctx, q, x.t.id, x.at)
				x.done = err == nil
			}
			if err != nil {
				return fmt.Errorf("alerts: %s: %w", x.f.Rule, err)
			}
		}
		for _, o := range orphans {
			if err := resolveEpisode(ctx, q, o.ID, time.Now()); err != nil {
				return fmt.Errorf("alerts: %s of %s: %w", o.Rule, o.Subject, err)
			}
		}
		return nil
	})
}

func openEpisode(ctx context.Context, q *db.Queries, x *transition) error {
	f := x.f
	details := detailsJSON(f.Details)
	id, err := q.OpenAlert(ctx, db.OpenAlertParams{
		Rule: f.Rule, Subject: f.Subject, Severity: f.Severity, Summary: f.Summary, Details: details,
		Instance: f.Instance, StartedAt: x.t.pendingSince, FiredAt: x.at,
	})
	if errors.Is(err, db.ErrNotFound) {
		// Open already: another evaluator fired it. The next round's sync
		// takes its id.
		x.done = true
		return nil
	}
	if err != nil {
		return err
	}
	x.t.id = id
	body := newAlertMessage("firing", f.Rule, f.Severity, f.Summary, details, f.Instance, x.t.pendingSince, nil)
	_, err = q.InsertAlertTransition(ctx, pendingTransition(id, "firing", f.Severity, x.at, body))
	x.done = err == nil
	return err
}

func escalateEpisode(ctx context.Context, q *db.Queries, x *transition) error {
	f := x.f
	details := detailsJSON(f.Details)
	_, err := q.EscalateAlert(ctx, db.EscalateAlertParams{ID: x.t.id, Summary: f.Summary, Details: details, At: x.at})
	if errors.Is(err, db.ErrNotFound) {
		x.done = true // escalated (or ended) by another evaluator
		return nil
	}
	if err != nil {
		return err
	}
	body := newAlertMessage("firing", f.Rule, sevCritical, f.Summary, details, f.Instance, x.t.startedAt, nil)
	_, err = q.InsertAlertTransition(ctx, pendingTransition(x.t.id, "firing", sevCritical, x.at, body))
	x.done = err == nil
	return err
}

// resolveEpisode ends episode id and stores its resolved transition, from
// the episode's own row (its last summary and details).
func resolveEpisode(ctx context.Context, q *db.Queries, id int64, at time.Time) error {
	row, err := q.ResolveAlert(ctx, db.ResolveAlertParams{ID: id, At: at})
	if errors.Is(err, db.ErrNotFound) {
		return nil // ended already
	}
	if err != nil {
		return err
	}
	body := newAlertMessage("resolved", row.Rule, row.Severity, row.Summary, row.Details, row.Instance, row.StartedAt, &at)
	_, err = q.InsertAlertTransition(ctx, pendingTransition(id, "resolved", row.Severity, at, body))
	return err
}

func pendingTransition(id int64, status, severity string, at time.Time, body []byte) db.InsertAlertTransitionParams {
	return db.InsertAlertTransitionParams{AlertID: id, Status: status, Severity: severity, At: at, Body: body, Delivery: "pending"}
}

// Retention of alert history: hourly, HRIS_HISTORY_RETENTION like the rest
// of the history, a bounded batch per statement.
const (
	alertPruneEvery   = time.Hour
	alertPruneBatch   = 1000
	alertPruneBatches = 20
)

// pruneAlerts deletes resolved episodes older than the retention; the
// caller holds al.mu.
func (a *App) pruneAlerts(ctx context.Context, now time.Time) {
	al := a.alerts
	if now.Sub(al.lastPrune) < alertPruneEvery {
		return
	}
	before := now.Add(-a.cfg.HistoryRetention)
	var total int64
	for range alertPruneBatches {
		var n int64
		err := a.alertTx(ctx, func(ctx context.Context, q *db.Queries) (err error) {
			n, err = q.DeleteOldAlerts(ctx, db.DeleteOldAlertsParams{Before: before, Batch: alertPruneBatch})
			return err
		})
		if err != nil {
			a.log.Warn("alerts: retention failed; tried again next hour", "err", err)
			break
		}
		total += n
		if n < alertPruneBatch {
			break
		}
	}
	al.lastPrune = now
	if total > 0 {
		a.log.Info("alerts: old episodes deleted", "rows", total, "before", before)
	}
}
