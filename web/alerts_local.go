package web

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"

	"hris/db"
)

// Instance rules: each instance evaluates pool_saturation and
// database_unreachable about itself, every HRIS_ALERT_INTERVAL, and
// decides on its own — no lease, no database needed to decide.
//
// Its transitions go into a queue in memory. Each is written to the
// database (an episode keyed by local_key, and its transition) as soon as
// the database takes it; from there the lease holder sends it like any
// other. While the database cannot be written — it is the very thing that
// went away — the instance sends the queued transitions to the webhook
// itself, in order and with the same backoff, and writes them later,
// marked as sent, so that nobody sends them again and /ops/alerts shows
// the outage afterwards. One goroutine does both, so a transition is
// never sent by this instance and handed to the holder at once.
//
// What a crash loses: transitions still queued (the database was away and
// so was the webhook). An episode left open by a crashed process is
// resolved by the next process of the same instance, or by the lease
// holder once the instance stopped or is gone from the fleet.

// localQueueMax bounds the queue; beyond it the oldest transitions go.
const localQueueMax = 500

// localAlerts is the state of this instance's own rules.
type localAlerts struct {
	mu      sync.Mutex
	tracker *tracker
	adopted bool // open episodes of this instance read back from the database
	queue   []*localEvent
	wake    chan struct{}
	dropped int64

	// pool_saturation's memory: the newest sampler sample counted into
	// fullWaits, the previous evaluation's pool sample and 503 count, and
	// the 503 counter over the window.
	lastSample      time.Time
	prevFresh       *db.PoolSample
	prevUnavailable int64
	unavailable     []counterAt
}

type counterAt struct {
	at time.Time
	n  int64
}

// localEpisode is an instance rule's episode.
type localEpisode struct {
	key       uuid.UUID
	startedAt time.Time
	firedAt   time.Time
}

// localEvent is one transition of an instance rule, waiting to be written
// (and, while the database is away, sent).
type localEvent struct {
	id       uuid.UUID // Idempotency-Key of a direct send
	episode  localEpisode
	status   string // firing or resolved
	rule     string
	subject  string
	severity string // the episode's highest so far
	summary  string
	details  json.RawMessage
	instance string
	at       time.Time
	resolved *time.Time
	body     []byte

	// Direct delivery.
	sentAt      *time.Time
	failed      bool // the receiver refused it
	attempts    int
	lastAttempt time.Time
	lastErr     string
	nextAttempt time.Time
}

func newLocalAlerts(c AlertConfig) *localAlerts {
	return &localAlerts{tracker: newTracker(c.Interval), wake: make(chan struct{}, 1)}
}

func (l *localAlerts) nudge() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// watchInstance evaluates this instance's own rules every interval until
// ctx ends.
func (a *App) watchInstance(ctx context.Context) {
	t := time.NewTicker(a.cfg.Alerts.Interval)
	defer t.Stop()
	for {
		a.instanceRound(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// instanceRound is one evaluation of the instance rules.
func (a *App) instanceRound(ctx context.Context) {
	al, l := a.alerts, a.alerts.local
	self := a.cfg.InstanceID
	var findings []finding

	h := a.health.Check(ctx)
	if ctx.Err() != nil {
		return
	}
	up := h.Checks.Database.Healthy && (h.Checks.Pooler == nil || h.Checks.Pooler.Healthy)
	if up {
		al.dbUp.Store(1)
	} else {
		al.dbUp.Store(0)
		findings = append(findings, unreachableFinding(h, self))
	}
	now := time.Now()
	if f := a.poolFinding(now); f != nil {
		findings = append(findings, *f)
	}
	for i := range findings {
		findings[i].Subject, findings[i].Instance = self, self
		findings[i].Details["evaluated_by"] = self
	}

	if up && !l.isAdopted() {
		a.adoptLocal(ctx)
	}
	l.mu.Lock()
	xs := l.tracker.step(now, a.cfg.Alerts.Interval, findings, map[string]bool{rulePool: true, ruleUnreachable: true})
	queued := false
	for _, x := range xs {
		if ev := l.event(x, now); ev != nil {
			l.enqueue(ev)
			queued = true
			switch ev.status {
			case "firing":
				a.log.Warn("alert firing", "rule", ev.rule, "severity", x.f.Severity, "subject", ev.subject, "summary", ev.summary)
			default:
				a.log.Info("alert resolved", "rule", ev.rule, "subject", ev.subject)
			}
		}
		l.tracker.apply(x)
	}
	l.mu.Unlock()
	if queued {
		l.nudge()
	}
}

func unreachableFinding(h Health, self string) finding {
	d := h.Checks.Database
	details := map[string]any{"error": d.Error, "host": d.Host, "response_time_ms": round1(d.ResponseTimeMS)}
	summary := fmt.Sprintf("Instance %s cannot reach PostgreSQL: %s", self, orWord(d.Error, "no answer"))
	if p := h.Checks.Pooler; p != nil && !p.Healthy {
		details["pgbouncer_error"] = p.Error
		if d.Healthy {
			summary = fmt.Sprintf("Instance %s cannot reach PostgreSQL through DATABASE_URL (PgBouncer): %s", self, orWord(p.Error, "no answer"))
		}
	}
	return finding{Rule: ruleUnreachable, Severity: sevCritical, Summary: summary, Details: details}
}

// poolFull says whether a sample shows the pool at its maximum: an
// acquire then waits for a release, not for a new connection.
func poolFull(s db.PoolSample) bool { return s.Max > 0 && s.Total >= s.Max }

// fullWaits counts the acquires that waited while the pool was full
// between consecutive samples of ss.
func fullWaits(ss []db.PoolSample) (waitedFull, waited int64) {
	for i := 1; i < len(ss); i++ {
		s, p := ss[i], ss[i-1]
		if d := s.EmptyAcquireCount - p.EmptyAcquireCount; d > 0 {
			waited += d
			if poolFull(s) || poolFull(p) {
				waitedFull += d
			}
		}
	}
	return waitedFull, waited
}

// poolFinding is pool_saturation. The condition is what happened since the
// previous evaluation: acquires that waited while the pool was full
// (warning), acquires given up or requests answered 503 (critical). Seen
// at two evaluations in a row it fires, so saturation that lasts fires and
// a one-second burst does not. The summary counts the last PoolWindow.
// It also counts the full waits for /metrics.
func (a *App) poolFinding(now time.Time) *finding {
	l, window := a.alerts.local, a.cfg.Alerts.PoolWindow
	fresh := db.SamplePool(a.db.Pool)
	samples := append(a.sampler.Samples(), fresh)
	unavailable := a.unavailable.Load()

	l.mu.Lock()
	// The sampler's samples not counted yet, into the Prometheus counter.
	for i := 1; i < len(samples)-1; i++ {
		if samples[i].At.After(l.lastSample) {
			w, _ := fullWaits(samples[i-1 : i+1])
			a.alerts.fullWaits.Add(w)
			l.lastSample = samples[i].At
		}
	}
	// Since the previous evaluation: the sampler's samples taken meanwhile,
	// framed by the previous evaluation's fresh sample and this one's.
	recent := []db.PoolSample{}
	if l.prevFresh != nil {
		recent = append(recent, *l.prevFresh)
		for _, s := range samples[:len(samples)-1] {
			if s.At.After(l.prevFresh.At) {
				recent = append(recent, s)
			}
		}
	}
	recent = append(recent, fresh)
	prevUnavailable, havePrev := l.prevUnavailable, l.prevFresh != nil
	l.prevFresh, l.prevUnavailable = &fresh, unavailable
	l.unavailable = append(l.unavailable, counterAt{now, unavailable})
	// Keep the newest reading at or before the window's start as the base.
	for len(l.unavailable) > 1 && !l.unavailable[1].at.After(now.Add(-window)) {
		l.unavailable = l.unavailable[1:]
	}
	refused := unavailable - l.unavailable[0].n
	l.mu.Unlock()
	if !havePrev {
		return nil
	}
	recentFull, _ := fullWaits(recent)
	recentGaveUp := fresh.CanceledAcquireCount - recent[0].CanceledAcquireCount
	recentRefused := unavailable - prevUnavailable
	sev := ""
	switch {
	case recentGaveUp > 0 || recentRefused > 0:
		sev = sevCritical
	case recentFull > 0:
		sev = sevWarning
	default:
		return nil
	}

	// The last PoolWindow, for people.
	first := len(samples) - 1
	for first > 0 && samples[first-1].At.After(now.Add(-window)) {
		first--
	}
	base := samples[max(first-1, 0)]
	waitedFull, waited := fullWaits(samples[max(first-1, 0):])
	var peak int32
	for _, s := range samples[first:] {
		peak = max(peak, s.Acquired)
	}
	canceled := fresh.CanceledAcquireCount - base.CanceledAcquireCount
	waitMs := float64((fresh.EmptyAcquireWait - base.EmptyAcquireWait).Microseconds()) / 1000
	summary := fmt.Sprintf("Connection pool full (%d of %d in use at its peak): %d requests waited for a connection in the last %s",
		peak, fresh.Max, waited, spanWords(window))
	if canceled > 0 {
		summary += fmt.Sprintf(", %d gave up waiting", canceled)
	}
	if refused > 0 {
		summary += fmt.Sprintf(", %d were answered 503", refused)
	}
	return &finding{
		Rule: rulePool, Severity: sev, Summary: summary,
		Details: map[string]any{
			"waited": waited, "waited_while_full": waitedFull, "gave_up": canceled, "answered_503": refused,
			"wait_ms": round1(waitMs), "max_conns": fresh.Max, "peak_in_use": peak, "in_use": fresh.Acquired,
			"window_seconds": window.Seconds(),
		},
	}
}

// event turns a transition of an instance rule into the event to record
// and send; nil for a refresh (the resolved event carries the last
// details). The caller holds l.mu.
func (l *localAlerts) event(x transition, now time.Time) *localEvent {
	t := x.t
	switch x.kind {
	case tFire:
		t.local = &localEpisode{key: uuid.New(), startedAt: t.pendingSince, firedAt: now}
	case tRefresh:
		return nil
	}
	if t.local == nil {
		return nil
	}
	ev := &localEvent{
		id: uuid.New(), episode: *t.local, rule: x.f.Rule, subject: x.f.Subject, severity: x.f.Severity,
		summary: x.f.Summary, details: detailsJSON(x.f.Details), instance: x.f.Instance, at: now, status: "firing",
	}
	if x.kind == tResolve {
		ev.status = "resolved"
		ev.severity = t.severity
		ev.resolved = &now
	}
	ev.body = newAlertMessage(ev.status, ev.rule, ev.severity, ev.summary, ev.details, ev.instance, ev.episode.startedAt, ev.resolved)
	return ev
}

// enqueue adds ev to the queue; the caller holds l.mu.
func (l *localAlerts) enqueue(ev *localEvent) {
	if len(l.queue) >= localQueueMax {
		l.queue = l.queue[1:]
		l.dropped++
	}
	l.queue = append(l.queue, ev)
}

func (l *localAlerts) isAdopted() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.adopted
}

// adoptLocal reads back the episodes a previous process of this instance
// left open, so that this one resolves them when their condition is gone.
func (a *App) adoptLocal(ctx context.Context) {
	l := a.alerts.local
	var open []db.OpenAlertsRow
	err := opsRead(ctx, a.opsDB, func(ctx context.Context, q *db.Queries) (err error) {
		open, err = q.OpenAlerts(ctx, openAlertRows)
		return err
	})
	if err != nil {
		return // next round
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, o := range open {
		rule, ok := ruleByName(o.Rule)
		if !ok || rule.Fleet || o.Subject != a.cfg.InstanceID || o.LocalKey == nil {
			continue
		}
		k := alertKey{o.Rule, o.Subject}
		if l.tracker.tracks[k] != nil {
			continue
		}
		l.tracker.tracks[k] = &track{
			pendingSince: o.StartedAt, firing: true, severity: o.Severity, startedAt: o.StartedAt, firedAt: o.FiredAt,
			last:  finding{Rule: o.Rule, Subject: o.Subject, Severity: o.Severity, Summary: o.Summary, Instance: o.Instance, Details: map[string]any{}},
			local: &localEpisode{key: *o.LocalKey, startedAt: o.StartedAt, firedAt: o.FiredAt},
		}
	}
	l.adopted = true
}

// sendLocal writes (or, while it cannot, sends) this instance's queued
// transitions until ctx ends, then tries once more to write what is left.
func (a *App) sendLocal(ctx context.Context) {
	l := a.alerts.local
	timer := time.NewTimer(a.cfg.Alerts.Interval)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			final, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			a.recordQueued(final)
			cancel()
			return
		case <-l.wake:
		case <-timer.C:
		}
		timer.Reset(a.drainLocal(ctx))
	}
}

// drainLocal writes the queue in order; when the database does not take
// it, sends what is due and not sent yet. It returns how long to wait.
func (a *App) drainLocal(ctx context.Context) time.Duration {
	l, c := a.alerts.local, a.cfg.Alerts
	// While this instance's last check found the database away, the
	// messages go out first and are written afterwards: an attempt to
	// write to a frozen server costs seconds.
	if a.alerts.dbUp.Load() != 0 && a.recordQueued(ctx) {
		return c.Interval
	}
	if a.alerts.client == nil {
		return c.Interval
	}
	for ctx.Err() == nil {
		l.mu.Lock()
		var ev *localEvent
		for _, e := range l.queue {
			if e.sentAt == nil && !e.failed {
				ev = e
				break
			}
		}
		l.mu.Unlock()
		if ev == nil {
			return c.Interval // all sent; writing them waits for the database
		}
		if wait := time.Until(ev.nextAttempt); wait > 0 {
			return min(wait, c.Interval)
		}
		err := a.alerts.client.send(ctx, ev.body, "hris-alert-"+ev.id.String())
		now := time.Now()
		l.mu.Lock()
		ev.attempts++
		ev.lastAttempt = now
		var wait time.Duration
		if err == nil {
			ev.sentAt, ev.lastErr = &now, ""
		} else {
			ev.lastErr = err.Error()
			if de, ok := err.(*deliveryError); ok && de.permanent {
				ev.failed = true
			} else {
				wait = c.backoff(ev.attempts, err)
				ev.nextAttempt = now.Add(wait)
			}
		}
		l.mu.Unlock()
		switch {
		case err == nil:
			a.log.Info("alert sent by this instance (the database cannot be written)", "rule", ev.rule, "status", ev.status,
				"attempts", ev.attempts, "after_ms", now.Sub(ev.at).Milliseconds())
		case wait > 0:
			a.log.Warn("alerts: webhook failed; trying again", "rule", ev.rule, "status", ev.status, "attempts", ev.attempts, "err", err, "retry_in", wait.Round(time.Millisecond))
			return wait
		default:
			a.log.Error("alerts: webhook refused a message; not retried", "rule", ev.rule, "err", err)
		}
	}
	return c.Interval
}

// recordQueued writes queued transitions to the database in order,
// stopping at the first that fails; it reports whether the queue is empty.
func (a *App) recordQueued(ctx context.Context) bool {
	l := a.alerts.local
	for ctx.Err() == nil {
		l.mu.Lock()
		if len(l.queue) == 0 {
			l.mu.Unlock()
			return true
		}
		ev := l.queue[0]
		l.mu.Unlock()
		rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		err := a.recordLocal(rctx, ev)
		cancel()
		if err != nil {
			return false
		}
		l.mu.Lock()
		if len(l.queue) > 0 && l.queue[0] == ev {
			l.queue = l.queue[1:]
		}
		l.mu.Unlock()
		a.alerts.nudge() // the holder may send it now
	}
	return false
}

// recordLocal writes one instance-rule transition: the episode (created or
// brought up to date, by its local_key) and the transition, marked as sent
// when this instance sent it itself. An episode of the same rule left open
// by an earlier process of this instance is resolved first.
func (a *App) recordLocal(ctx context.Context, ev *localEvent) error {
	return a.alertTxIdempotent(ctx, func(ctx context.Context, q *db.Queries) error {
		old, err := q.SupersedeAlerts(ctx, db.SupersedeAlertsParams{At: ev.at, Rule: ev.rule, Subject: ev.subject, LocalKey: ev.episode.key})
		if err != nil {
			return err
		}
		for _, o := range old {
			at := ev.at
			body := newAlertMessage("resolved", o.Rule, o.Severity, o.Summary, o.Details, o.Instance, o.StartedAt, &at)
			if _, err := q.InsertAlertTransition(ctx, pendingTransition(o.ID, "resolved", o.Severity, at, body)); err != nil {
				return err
			}
		}
		id, err := q.RecordLocalAlert(ctx, db.RecordLocalAlertParams{
			Rule: ev.rule, Subject: ev.subject, Severity: ev.severity, Summary: ev.summary, Details: ev.details,
			Instance: ev.instance, StartedAt: ev.episode.startedAt, FiredAt: ev.episode.firedAt, UpdatedAt: ev.at,
			ResolvedAt: ev.resolved, LocalKey: ev.episode.key,
		})
		if err != nil {
			return err
		}
		p := pendingTransition(id, ev.status, ev.severity, ev.at, ev.body)
		l := a.alerts.local
		l.mu.Lock()
		p.Attempts = int32(ev.attempts)
		if ev.attempts > 0 {
			last := ev.lastAttempt
			p.LastAttemptAt = &last
		}
		lastErr, self := ev.lastErr, a.cfg.InstanceID
		switch {
		case ev.sentAt != nil:
			sent := *ev.sentAt
			p.Delivery, p.SentAt, p.SentBy = "sent", &sent, &self
		case ev.failed:
			p.Delivery, p.LastError = "failed", &lastErr
		case lastErr != "":
			p.LastError = &lastErr
		}
		l.mu.Unlock()
		_, err = q.InsertAlertTransition(ctx, p)
		return err
	})
}
