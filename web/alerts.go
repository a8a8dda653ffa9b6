package web

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"hris/db"
)

// Alerts: rules that watch the pool, PostgreSQL and the fleet, and tell
// someone — a webhook, and /ops/alerts — when one fires and when it
// resolves, before the users notice.
//
// Two kinds of rule:
//
//   - Fleet rules read the database (long_query, idle_in_transaction,
//     blocked_query, connections, instance_stale, replication_lag,
//     xid_age). One instance evaluates them for everyone, every
//     HRIS_ALERT_INTERVAL: the holder of the "alerts" lease. It stores each
//     transition in a transaction that first checks it still holds the
//     lease (db.Lease.Fence), and at most one episode of a rule and
//     subject can be open (a unique index), so however many instances
//     evaluate, a transition is stored once.
//   - Instance rules are about one instance and evaluated by it
//     (pool_saturation: only it knows its pool; database_unreachable: the
//     database is what it cannot reach). It decides on its own, writes the
//     transitions to the database when it can, and when it cannot, sends
//     them to the webhook itself and writes them once the database answers
//     again (alerts_local.go).
//
// A condition seen is pending until it has held for the rule's "for"
// (one or more evaluations); then it fires. A firing alert resolves once
// its condition has been gone for a whole interval (two evaluations in a
// row). So a one-sample blip neither fires nor flaps.
//
// Transitions wait in the database (alert_transitions) until the lease
// holder sends them, one at a time and in order, with a bounded timeout
// and backoff (alerts_deliver.go): a slow or failing receiver delays
// nothing else.

// Rule names: the webhook's "rule" field and the Prometheus alert names.
const (
	ruleLongQuery   = "long_query"
	ruleIdleInTx    = "idle_in_transaction"
	ruleBlocked     = "blocked_query"
	ruleConnections = "connections"
	rulePool        = "pool_saturation"
	ruleStale       = "instance_stale"
	ruleUnreachable = "database_unreachable"
	ruleReplication = "replication_lag"
	ruleXIDAge      = "xid_age"
)

// Severities, in rising order.
const (
	sevWarning  = "warning"
	sevCritical = "critical"
)

func sevRank(s string) int {
	switch s {
	case sevCritical:
		return 2
	case sevWarning:
		return 1
	}
	return 0
}

// The alert lease, and how many rows one reading keeps.
const (
	alertLeaseName = "alerts"
	alertRows      = 5   // queries and sessions named per rule
	alertLockRows  = 200 // waiter-blocker pairs read
	openAlertRows  = 200
)

// AlertConfig holds the alert settings (see cmd/hris/config.go for their
// variables); zero values mean the defaults.
type AlertConfig struct {
	// WebhookURL receives every transition as JSON; empty: alerts show on
	// /ops/alerts only (HRIS_ALERT_WEBHOOK_URL).
	WebhookURL string
	// Interval between evaluations (HRIS_ALERT_INTERVAL, 10s).
	Interval time.Duration
	// LongQuery, IdleInTx and Blocked are the warning thresholds of their
	// rules; five times as long is critical (HRIS_ALERT_LONG_QUERY 60s,
	// HRIS_ALERT_IDLE_IN_TX 60s, HRIS_ALERT_BLOCKED 30s).
	LongQuery time.Duration
	IdleInTx  time.Duration
	Blocked   time.Duration
	// ConnectionsPct of the usable server connections in use is a warning
	// (HRIS_ALERT_CONNECTIONS_PCT, 80); 95 % is critical.
	ConnectionsPct int

	// The rest has no variable of its own: the defaults are the anchors'
	// (PgHero, postgres_exporter); tests lower them.

	// PoolWindow is the span pool_saturation's summary counts over (a
	// minute); the condition itself is what happened between two checks.
	PoolWindow time.Duration
	// LagBytes and LagSeconds are replication_lag's warning (10 MB, 30 s);
	// five times either is critical.
	LagBytes   int64
	LagSeconds float64
	// XIDAgeWarning and XIDAgeCritical are xid_age's thresholds (1.5 and
	// 2 billion; PostgreSQL stops writes at about 2.1 billion).
	XIDAgeWarning  int64
	XIDAgeCritical int64
	// WebhookTimeout bounds one delivery attempt (5 s).
	WebhookTimeout time.Duration
	// RetryBase is the wait before the first retry, doubled for each
	// further one up to RetryMax (1 s, 5 min); a transition still unsent
	// after GiveUpAfter (24 h) is given up.
	RetryBase   time.Duration
	RetryMax    time.Duration
	GiveUpAfter time.Duration
}

// DefaultAlertInterval and the other defaults of the contract.
const (
	DefaultAlertInterval       = 10 * time.Second
	DefaultAlertLongQuery      = 60 * time.Second
	DefaultAlertIdleInTx       = 60 * time.Second
	DefaultAlertBlocked        = 30 * time.Second
	DefaultAlertConnectionsPct = 80
)

func (c AlertConfig) withDefaults() AlertConfig {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.Interval, DefaultAlertInterval)
	def(&c.LongQuery, DefaultAlertLongQuery)
	def(&c.IdleInTx, DefaultAlertIdleInTx)
	def(&c.Blocked, DefaultAlertBlocked)
	def(&c.PoolWindow, time.Minute)
	def(&c.WebhookTimeout, 5*time.Second)
	def(&c.RetryBase, time.Second)
	def(&c.RetryMax, 5*time.Minute)
	def(&c.GiveUpAfter, 24*time.Hour)
	if c.ConnectionsPct <= 0 {
		c.ConnectionsPct = DefaultAlertConnectionsPct
	}
	if c.LagBytes <= 0 {
		c.LagBytes = 10 << 20
	}
	if c.LagSeconds <= 0 {
		c.LagSeconds = 30
	}
	if c.XIDAgeWarning <= 0 {
		c.XIDAgeWarning = 1_500_000_000
	}
	if c.XIDAgeCritical <= 0 {
		c.XIDAgeCritical = 2_000_000_000
	}
	return c
}

// criticalPct is the connections rule's critical share.
func (c AlertConfig) criticalPct() int { return max(95, c.ConnectionsPct) }

// criticalFactor: a duration or size five times the warning's is critical.
const criticalFactor = 5

// staleCritical: an instance silent this long is not coming back by itself.
const staleCritical = 5 * time.Minute

// alertRule describes one rule for the page, the README and the tracker.
type alertRule struct {
	Name string
	// Fleet rules are evaluated by the lease holder; the others by each
	// instance about itself.
	Fleet bool
	// ForRounds: the condition must hold at ForRounds+1 evaluations in a
	// row (for = ForRounds × the interval) before it fires.
	ForRounds int
	Watches   string
	Warning   func(AlertConfig) string
	Critical  func(AlertConfig) string
}

// alertRules are the rules, in the order the page lists them.
var alertRules = []alertRule{
	{Name: ruleLongQuery, Fleet: true, ForRounds: 1,
		Watches:  "a statement of this database running (not waiting for a lock)",
		Warning:  func(c AlertConfig) string { return "longer than " + spanWords(c.LongQuery) },
		Critical: func(c AlertConfig) string { return "longer than " + spanWords(criticalFactor*c.LongQuery) }},
	{Name: ruleIdleInTx, Fleet: true, ForRounds: 1,
		Watches:  "a session idle inside an open transaction (it holds its locks and its snapshot)",
		Warning:  func(c AlertConfig) string { return "longer than " + spanWords(c.IdleInTx) },
		Critical: func(c AlertConfig) string { return "longer than " + spanWords(criticalFactor*c.IdleInTx) }},
	{Name: ruleBlocked, Fleet: true, ForRounds: 1,
		Watches: "queries waiting for a lock, and the session blocking them",
		Warning: func(c AlertConfig) string {
			return "a wait longer than " + spanWords(c.Blocked) + ", or one session blocking 3 or more"
		},
		Critical: func(c AlertConfig) string {
			return "a wait longer than " + spanWords(criticalFactor*c.Blocked) + ", or one session blocking 10 or more"
		}},
	{Name: ruleConnections, Fleet: true, ForRounds: 3,
		Watches:  "client connections to the server against max_connections less the superuser reserve",
		Warning:  func(c AlertConfig) string { return fmt.Sprintf("%d %% in use", c.ConnectionsPct) },
		Critical: func(c AlertConfig) string { return fmt.Sprintf("%d %% in use", c.criticalPct()) }},
	{Name: rulePool, Fleet: false, ForRounds: 1,
		Watches: "this instance's connection pool (HRIS_DB_MAX_CONNS)",
		Warning: func(AlertConfig) string {
			return "requests waited for a connection while the pool was full"
		},
		Critical: func(AlertConfig) string {
			return "requests gave up waiting, or were answered 503"
		}},
	{Name: ruleStale, Fleet: true, ForRounds: 1,
		Watches:  "every instance's heartbeat (one every 5 s; a clean stop is not an alert)",
		Warning:  func(AlertConfig) string { return "none for " + spanWords(staleAfter) },
		Critical: func(AlertConfig) string { return "none for " + spanWords(staleCritical) }},
	{Name: ruleUnreachable, Fleet: false, ForRounds: 1,
		Watches:  "whether this instance reaches PostgreSQL (and PgBouncer, when set), as /health/detailed checks it",
		Warning:  func(AlertConfig) string { return "—" },
		Critical: func(AlertConfig) string { return "no answer at two checks in a row" }},
	{Name: ruleReplication, Fleet: true, ForRounds: 3,
		Watches: "the primary's standbys, when there are any: replay lag, and the synchronous standby",
		Warning: func(c AlertConfig) string {
			return fmt.Sprintf("a standby over %s or %s behind", bytesWords(c.LagBytes), spanWords(secondsDuration(c.LagSeconds)))
		},
		Critical: func(c AlertConfig) string {
			return fmt.Sprintf("over %s or %s behind, or no synchronous standby although synchronous_standby_names asks for one",
				bytesWords(criticalFactor*c.LagBytes), spanWords(secondsDuration(criticalFactor*c.LagSeconds)))
		}},
	{Name: ruleXIDAge, Fleet: true, ForRounds: 1,
		Watches:  "the age of this database's oldest unfrozen transaction ID (wraparound stops writes at about 2.1 billion)",
		Warning:  func(c AlertConfig) string { return "above " + countWords(c.XIDAgeWarning) },
		Critical: func(c AlertConfig) string { return "above " + countWords(c.XIDAgeCritical) }},
}

// ruleByName finds a rule.
func ruleByName(name string) (alertRule, bool) {
	for _, r := range alertRules {
		if r.Name == name {
			return r, true
		}
	}
	return alertRule{}, false
}

// AlertRuleNames lists the rules' names, for the tests that hold the
// Prometheus file to them.
func AlertRuleNames() []string {
	names := make([]string, len(alertRules))
	for i, r := range alertRules {
		names[i] = r.Name
	}
	return names
}

// finding is a rule's condition holding now: what the rule found, about
// what (subject) and whom.
type finding struct {
	Rule     string
	Subject  string // "" for the database; an instance id for the rules about one
	Severity string
	Summary  string
	Instance string // the instance it is about; "" for the evaluator
	Details  map[string]any
}

type alertKey struct{ rule, subject string }

func (f finding) key() alertKey { return alertKey{f.Rule, f.Subject} }

// track is what an evaluator remembers of one rule and subject between
// evaluations.
type track struct {
	pendingSince time.Time // the condition was first seen
	clearSince   time.Time // a firing alert's condition was first missed
	firing       bool
	id           int64 // the open episode (fleet rules)
	severity     string
	startedAt    time.Time
	firedAt      time.Time
	last         finding
	local        *localEpisode // instance rules
}

// transitionKind is what one evaluation decided about one alert.
type transitionKind int

const (
	tFire     transitionKind = iota // pending long enough: it fires
	tEscalate                       // firing as a warning, now critical
	tRefresh                        // still firing: newer details, no message
	tResolve                        // its condition has been gone for an interval
)

type transition struct {
	kind transitionKind
	key  alertKey
	f    finding // for tResolve, the last finding seen
	t    *track
	at   time.Time
	done bool // stored (fleet) — set by the writer
}

// tracker is the state machine of one evaluator: ok → pending → firing →
// resolved, per rule and subject.
type tracker struct {
	tracks map[alertKey]*track
	// tolerance absorbs a round that starts a little early or late.
	tolerance time.Duration
}

func newTracker(interval time.Duration) *tracker {
	return &tracker{tracks: map[alertKey]*track{}, tolerance: interval / 4}
}

// step takes the findings of one evaluation at now of the rules in
// evaluated (a rule whose reading failed is neither fired nor resolved)
// and returns the transitions due. The caller applies them once stored.
func (tr *tracker) step(now time.Time, interval time.Duration, findings []finding, evaluated map[string]bool) []transition {
	var out []transition
	seen := map[alertKey]bool{}
	for _, f := range findings {
		k := f.key()
		seen[k] = true
		t := tr.tracks[k]
		if t == nil {
			t = &track{pendingSince: now}
			tr.tracks[k] = t
		}
		t.clearSince = time.Time{}
		t.last = f
		rule, _ := ruleByName(f.Rule)
		switch {
		case !t.firing && now.Sub(t.pendingSince)+tr.tolerance >= time.Duration(rule.ForRounds)*interval:
			out = append(out, transition{kind: tFire, key: k, f: f, t: t, at: now})
		case t.firing && sevRank(f.Severity) > sevRank(t.severity):
			out = append(out, transition{kind: tEscalate, key: k, f: f, t: t, at: now})
		case t.firing:
			out = append(out, transition{kind: tRefresh, key: k, f: f, t: t, at: now})
		}
	}
	for k, t := range tr.tracks {
		if seen[k] || !evaluated[k.rule] {
			continue
		}
		if !t.firing {
			delete(tr.tracks, k) // a pending blip is forgotten
			continue
		}
		if t.clearSince.IsZero() {
			t.clearSince = now
		}
		if now.Sub(t.clearSince)+tr.tolerance >= interval {
			out = append(out, transition{kind: tResolve, key: k, f: t.last, t: t, at: now})
		}
	}
	return out
}

// apply records a stored transition in the tracker.
func (tr *tracker) apply(x transition) {
	t := x.t
	switch x.kind {
	case tFire:
		t.firing, t.severity, t.startedAt, t.firedAt = true, x.f.Severity, t.pendingSince, x.at
	case tEscalate:
		t.severity = x.f.Severity
	case tResolve:
		delete(tr.tracks, x.key)
	}
}

// forgetPending drops what was pending: after a gap in evaluation (the
// lease was elsewhere) a condition must be seen afresh for its "for".
func (tr *tracker) forgetPending() {
	for k, t := range tr.tracks {
		if !t.firing {
			delete(tr.tracks, k)
		}
	}
}

// alertMessage is the webhook's JSON body (the contract's fields). text is
// one line for people, so a Slack incoming webhook shows it as sent.
type alertMessage struct {
	Status     string          `json:"status"` // firing or resolved
	Rule       string          `json:"rule"`
	Severity   string          `json:"severity"`
	Summary    string          `json:"summary"`
	Details    json.RawMessage `json:"details"`
	StartedAt  time.Time       `json:"started_at"`
	ResolvedAt *time.Time      `json:"resolved_at"`
	Instance   string          `json:"instance"`
	Text       string          `json:"text"`
}

// newAlertMessage builds a transition's body.
func newAlertMessage(status, rule, severity, summary string, details json.RawMessage, instance string, started time.Time, resolved *time.Time) []byte {
	m := alertMessage{
		Status: status, Rule: rule, Severity: severity, Summary: summary, Details: details,
		StartedAt: started.UTC().Truncate(time.Millisecond), Instance: instance,
	}
	if resolved != nil {
		r := resolved.UTC().Truncate(time.Millisecond)
		m.ResolvedAt = &r
	}
	if status == "resolved" {
		took := ""
		if resolved != nil {
			took = " after " + spanWords(resolved.Sub(started).Round(time.Second))
		}
		m.Text = fmt.Sprintf("[RESOLVED] %s on %s%s: %s", rule, instance, took, summary)
	} else {
		m.Text = fmt.Sprintf("[FIRING %s] %s on %s: %s", strings.ToUpper(severity), rule, instance, summary)
	}
	if len(m.Details) == 0 {
		m.Details = json.RawMessage("{}")
	}
	b, err := json.Marshal(m)
	if err != nil {
		// Details are our own JSON; this cannot happen short of a bug.
		panic(fmt.Sprintf("alerts: message: %v", err))
	}
	return b
}

// detailsJSON encodes a finding's details.
func detailsJSON(d map[string]any) json.RawMessage {
	if len(d) == 0 {
		return json.RawMessage("{}")
	}
	b, err := json.Marshal(d)
	if err != nil {
		return json.RawMessage("{}")
	}
	return b
}

// alerts is the alerting state of this process.
type alerts struct {
	cfg   AlertConfig
	lease *db.Lease

	// mu serialises the fleet rounds (tests may run them by hand too).
	mu        sync.Mutex
	fleet     *tracker // the lease holder's
	lastRound time.Time
	lastPrune time.Time
	// reading is the last fleet reading, for /metrics (read without mu:
	// a scrape never waits for a round).
	reading atomic.Pointer[alertReading]

	// heldUntil (unix nanos): this process held the lease at its last
	// round, and may send until then.
	heldUntil atomic.Int64
	// fencedOff counts rounds whose transitions the lease fence refused
	// (this process believed it held the lease; it did not).
	fencedOff atomic.Int64
	// wake nudges the sender (a transition was stored, a round ended).
	wake chan struct{}

	local *localAlerts
	// banner caches what fires for the /ops banner's polls.
	banner *reading[bannerData]

	// fullWaits counts acquires that waited while the pool was full, from
	// the sampler's samples (hris_db_pool_full_waits_total).
	fullWaits atomic.Int64
	// dbUp is 1 when this instance's last check reached the database, 0
	// when it did not, -1 before the first check (hris_db_up).
	dbUp atomic.Int32

	client *webhookClient
}

func newAlerts(a *App) *alerts {
	c := a.cfg.Alerts
	al := &alerts{
		cfg:    c,
		lease:  db.NewLease(a.opsDB, alertLeaseName, a.cfg.InstanceID, leaseTTL(c.Interval)),
		fleet:  newTracker(c.Interval),
		wake:   make(chan struct{}, 1),
		local:  newLocalAlerts(c),
		banner: newBannerCache(a.opsDB),
	}
	al.dbUp.Store(-1)
	if c.WebhookURL != "" {
		al.client = newWebhookClient(c, a.cfg.Version)
	}
	return al
}

// nudge wakes the sender without ever blocking the caller.
func (al *alerts) nudge() {
	select {
	case al.wake <- struct{}{}:
	default:
	}
}

// holding reports whether this process held the lease at its last round
// recently enough to act on it.
func (al *alerts) holding() bool { return time.Now().UnixNano() < al.heldUntil.Load() }

// lastReading is the last fleet reading, when it is fresh: a process that
// lost the lease stops reporting what it no longer reads.
func (al *alerts) lastReading() *alertReading {
	r := al.reading.Load()
	if r == nil || time.Since(r.at) > 3*al.cfg.Interval {
		return nil
	}
	return r
}

// Words for the page and the summaries.

func spanWords(d time.Duration) string {
	switch {
	case d <= 0:
		return "0s"
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	}
	s := d.Round(time.Second).String() // 1h0m0s, 5m0s, 1m30s
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func secondsDuration(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func bytesWords(n int64) string {
	switch {
	case n >= 1<<30:
		return trimFloat(float64(n)/(1<<30)) + " GB"
	case n >= 1<<20:
		return trimFloat(float64(n)/(1<<20)) + " MB"
	case n >= 1<<10:
		return trimFloat(float64(n)/(1<<10)) + " kB"
	}
	return fmt.Sprintf("%d bytes", n)
}

func countWords(n int64) string {
	switch {
	case n >= 1_000_000_000:
		return trimFloat(float64(n)/1e9) + " billion"
	case n >= 1_000_000:
		return trimFloat(float64(n)/1e6) + " million"
	}
	return fmt.Sprintf("%d", n)
}

func trimFloat(f float64) string {
	s := fmt.Sprintf("%.1f", f)
	return strings.TrimSuffix(s, ".0")
}

// shortQuery is a statement for a one-line summary.
func shortQuery(q string, n int) string {
	q = strings.Join(strings.Fields(q), " ")
	if r := []rune(q); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return q
}
