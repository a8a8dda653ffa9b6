package web

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"hris/db"
)

// The fleet rules: one reading of the database, then each rule's check of
// it. Query texts are scrubbed of literals (db.ScrubQuery) before they are
// stored or sent: an alert goes to chat, and a WHERE clause may hold an
// employee's name.

// alertReading is what the fleet rules look at, read in one go on the ops
// pool within the dashboard's limits.
type alertReading struct {
	at          time.Time
	longQueries []db.AlertLongQueriesRow
	idle        []db.AlertIdleInTransactionRow
	waits       []db.AlertLockWaitsRow
	server      db.OpsServerRow
	replication db.ReplicationServerRow
	standbys    []db.ReplicationStandbysRow
	xid         db.OpsDatabaseXidAgeRow
	fleet       []db.FleetInstancesRow
	open        []db.OpenAlertsRow
	// failed holds the rules whose part of the reading failed: they are
	// neither fired nor resolved this round.
	failed map[string]error
}

// readAlerts reads what the fleet rules need. An error is returned only
// when the open alerts could not be read (nothing can be decided then);
// a rule whose own part failed is marked in failed.
func (a *App) readAlerts(ctx context.Context) (*alertReading, error) {
	c := a.cfg.Alerts
	var r *alertReading
	err := opsRead(ctx, a.opsDB, func(ctx context.Context, q *db.Queries) error {
		r = &alertReading{failed: map[string]error{}}
		fail := func(err error, rules ...string) {
			for _, rule := range rules {
				r.failed[rule] = err
			}
		}
		var err error
		if r.longQueries, err = q.AlertLongQueries(ctx, db.AlertLongQueriesParams{ThresholdSeconds: c.LongQuery.Seconds(), MaxRows: alertRows}); err != nil {
			fail(fmt.Errorf("alerts: long queries: %w", err), ruleLongQuery)
		}
		if r.idle, err = q.AlertIdleInTransaction(ctx, db.AlertIdleInTransactionParams{ThresholdSeconds: c.IdleInTx.Seconds(), MaxRows: alertRows}); err != nil {
			fail(fmt.Errorf("alerts: idle in transaction: %w", err), ruleIdleInTx)
		}
		if r.waits, err = q.AlertLockWaits(ctx, alertLockRows); err != nil {
			fail(fmt.Errorf("alerts: lock waits: %w", err), ruleBlocked)
		}
		if r.server, err = q.OpsServer(ctx); err != nil {
			fail(fmt.Errorf("alerts: connections: %w", err), ruleConnections)
		}
		if r.replication, err = q.ReplicationServer(ctx); err != nil {
			fail(fmt.Errorf("alerts: replication: %w", err), ruleReplication)
		} else if !r.replication.InRecovery {
			if r.standbys, err = q.ReplicationStandbys(ctx); err != nil {
				fail(fmt.Errorf("alerts: standbys: %w", err), ruleReplication)
			}
		}
		if r.xid, err = q.OpsDatabaseXidAge(ctx); err != nil {
			fail(fmt.Errorf("alerts: xid age: %w", err), ruleXIDAge)
		}
		if r.fleet, err = q.FleetInstances(ctx); err != nil {
			fail(fmt.Errorf("alerts: fleet: %w", err), ruleStale)
		}
		if r.open, err = q.OpenAlerts(ctx, openAlertRows); err != nil {
			return fmt.Errorf("alerts: open alerts: %w", err)
		}
		r.at = time.Now()
		return nil
	})
	return r, err
}

// fleetFindings runs every fleet rule on r and returns what holds now and
// which rules were evaluated.
func fleetFindings(c AlertConfig, r *alertReading, self string) ([]finding, map[string]bool) {
	evaluated := map[string]bool{}
	var out []finding
	for _, check := range []struct {
		rule string
		fn   func() []finding
	}{
		{ruleLongQuery, func() []finding { return checkLongQuery(c, r.longQueries) }},
		{ruleIdleInTx, func() []finding { return checkIdleInTx(c, r.idle) }},
		{ruleBlocked, func() []finding { return checkBlocked(c, r.waits) }},
		{ruleConnections, func() []finding { return checkConnections(c, r.server) }},
		{ruleStale, func() []finding { return checkStale(r.fleet, self) }},
		{ruleReplication, func() []finding { return checkReplication(c, r.replication, r.standbys) }},
		{ruleXIDAge, func() []finding { return checkXIDAge(c, r.xid) }},
	} {
		if r.failed[check.rule] != nil {
			continue
		}
		if check.rule == ruleStale && selfStale(r.fleet, self) {
			// This instance's own heartbeats are not getting through (the
			// database was away): the others' silence proves nothing yet.
			continue
		}
		evaluated[check.rule] = true
		for _, f := range check.fn() {
			if f.Instance == "" {
				f.Instance = self
			}
			f.Details["evaluated_by"] = self
			out = append(out, f)
		}
	}
	return out, evaluated
}

// durationSeverity grades a measure against a warning threshold (critical
// at five times it); "" is below the warning.
func durationSeverity(seconds float64, warn time.Duration) string {
	switch {
	case seconds >= criticalFactor*warn.Seconds():
		return sevCritical
	case seconds >= warn.Seconds():
		return sevWarning
	}
	return ""
}

func secs(s float64) time.Duration { return time.Duration(s * float64(time.Second)).Round(time.Second) }

// also is the tail of a summary naming how many more there are.
func also(total int32, what string) string {
	if total <= 1 {
		return ""
	}
	return fmt.Sprintf(" (+%d more %s)", total-1, what)
}

func checkLongQuery(c AlertConfig, rows []db.AlertLongQueriesRow) []finding {
	if len(rows) == 0 {
		return nil
	}
	top := rows[0]
	sev := durationSeverity(top.Seconds, c.LongQuery)
	if sev == "" {
		return nil
	}
	q := db.ScrubQuery(top.Query)
	var others []map[string]any
	for _, o := range rows[1:] {
		if o.Seconds >= c.LongQuery.Seconds() {
			others = append(others, map[string]any{"pid": o.Pid, "seconds": round1(o.Seconds), "query": db.ScrubQuery(o.Query), "application": o.ApplicationName})
		}
	}
	d := map[string]any{
		"pid": top.Pid, "seconds": round1(top.Seconds), "query": q,
		"user": top.Usename, "application": top.ApplicationName, "client": top.ClientAddr,
		"count": top.OverThreshold, "threshold_seconds": c.LongQuery.Seconds(),
		"critical_seconds": criticalFactor * c.LongQuery.Seconds(),
	}
	if len(others) > 0 {
		d["others"] = others
	}
	return []finding{{
		Rule: ruleLongQuery, Severity: sev, Details: d,
		Summary: fmt.Sprintf("Query running for %s on pid %d%s: %s%s", spanWords(secs(top.Seconds)), top.Pid, appWords(top.ApplicationName), shortQuery(q, 80), also(top.OverThreshold, "over "+spanWords(c.LongQuery))),
	}}
}

func checkIdleInTx(c AlertConfig, rows []db.AlertIdleInTransactionRow) []finding {
	if len(rows) == 0 {
		return nil
	}
	top := rows[0]
	sev := durationSeverity(top.Seconds, c.IdleInTx)
	if sev == "" {
		return nil
	}
	q := db.ScrubQuery(top.Query)
	d := map[string]any{
		"pid": top.Pid, "seconds": round1(top.Seconds), "transaction_seconds": round1(top.XactSeconds),
		"state": top.State, "last_query": q, "user": top.Usename, "application": top.ApplicationName,
		"client": top.ClientAddr, "count": top.OverThreshold, "threshold_seconds": c.IdleInTx.Seconds(),
		"critical_seconds": criticalFactor * c.IdleInTx.Seconds(),
	}
	return []finding{{
		Rule: ruleIdleInTx, Severity: sev, Details: d,
		Summary: fmt.Sprintf("Session idle in a transaction for %s on pid %d%s (transaction open %s); last statement: %s%s",
			spanWords(secs(top.Seconds)), top.Pid, appWords(top.ApplicationName), spanWords(secs(top.XactSeconds)), shortQuery(q, 60),
			also(top.OverThreshold, "over "+spanWords(c.IdleInTx))),
	}}
}

// Fan-out thresholds of blocked_query: one session holding up this many.
const (
	blockingWarn     = 3
	blockingCritical = 10
)

func checkBlocked(c AlertConfig, rows []db.AlertLockWaitsRow) []finding {
	if len(rows) == 0 {
		return nil
	}
	// Who waits on whom: the waiters of each blocker, and the blockers of
	// each waiter (to follow a chain to the session at its head).
	waitersOf := map[int32]map[int32]bool{}
	blockerOf := map[int32]int32{}
	info := map[int32]db.AlertLockWaitsRow{} // a blocker's own row, by its pid
	waiters := map[int32]bool{}
	for _, r := range rows {
		waiters[r.Pid] = true
		if waitersOf[r.BlockerPid] == nil {
			waitersOf[r.BlockerPid] = map[int32]bool{}
		}
		waitersOf[r.BlockerPid][r.Pid] = true
		if _, ok := blockerOf[r.Pid]; !ok {
			blockerOf[r.Pid] = r.BlockerPid
		}
		if _, ok := info[r.BlockerPid]; !ok {
			info[r.BlockerPid] = r
		}
	}
	top := rows[0] // the longest wait
	// The head of the chain: follow blockers that are themselves waiting.
	head := top.BlockerPid
	for range 16 {
		next, ok := blockerOf[head]
		if !ok || !waiters[head] || next == top.Pid {
			break
		}
		head = next
	}
	// The session blocking the most others.
	var fanPid int32
	fan := 0
	for pid, ws := range waitersOf {
		if len(ws) > fan || len(ws) == fan && pid < fanPid {
			fanPid, fan = pid, len(ws)
		}
	}
	waitSev := durationSeverity(top.Seconds, c.Blocked)
	fanSev := ""
	switch {
	case fan >= blockingCritical:
		fanSev = sevCritical
	case fan >= blockingWarn:
		fanSev = sevWarning
	}
	if waitSev == "" && fanSev == "" {
		return nil
	}
	sev := waitSev
	if sevRank(fanSev) > sevRank(sev) {
		sev = fanSev
	}
	named := head
	if waitSev == "" {
		named = fanPid // only the fan-out holds: name that blocker
	}
	b := info[named]
	lock := top.LockMode
	if top.LockType != "" {
		lock += " on " + top.LockType
	}
	if top.LockRelation != "" {
		lock += " " + top.LockRelation
	}
	d := map[string]any{
		"pid": top.Pid, "seconds": round1(top.Seconds), "query": db.ScrubQuery(top.Query),
		"application": top.ApplicationName, "user": top.Usename, "lock": lock,
		"blocker_pid": named, "blocker_state": b.BlockerState, "blocker_query": db.ScrubQuery(b.BlockerQuery),
		"blocker_application": b.BlockerApplication, "blocker_user": b.BlockerUser, "blocker_client": b.BlockerClient,
		"blocker_transaction_seconds": round1(b.BlockerXactSeconds),
		"blocked_by_blocker":          len(waitersOf[named]), "waiting": len(waiters),
		"threshold_seconds": c.Blocked.Seconds(), "critical_seconds": criticalFactor * c.Blocked.Seconds(),
	}
	if top.BlockerPid != named {
		d["direct_blocker_pid"] = top.BlockerPid
	}
	blocker := fmt.Sprintf("pid %d (%s%s", named, orWord(b.BlockerState, "?"), appWords(b.BlockerApplication))
	if b.BlockerXactSeconds > 0 {
		blocker += fmt.Sprintf(", transaction open %s", spanWords(secs(b.BlockerXactSeconds)))
	}
	blocker += ")"
	var summary string
	if waitSev != "" {
		summary = fmt.Sprintf("Query on pid %d waiting %s for a lock, blocked by %s: %s", top.Pid, spanWords(secs(top.Seconds)), blocker, shortQuery(db.ScrubQuery(top.Query), 60))
		if fan >= blockingWarn {
			summary += fmt.Sprintf("; %d sessions waiting", len(waiters))
		}
	} else {
		summary = fmt.Sprintf("%s is blocking %d sessions: %s", strings.ToUpper(blocker[:1])+blocker[1:], fan, shortQuery(db.ScrubQuery(b.BlockerQuery), 60))
	}
	return []finding{{Rule: ruleBlocked, Severity: sev, Details: d, Summary: summary}}
}

func checkConnections(c AlertConfig, s db.OpsServerRow) []finding {
	usable := s.MaxConnections - s.ReservedConnections
	if usable <= 0 {
		return nil
	}
	pct := 100 * float64(s.ClientConnections) / float64(usable)
	sev := ""
	switch {
	case pct >= float64(c.criticalPct()):
		sev = sevCritical
	case pct >= float64(c.ConnectionsPct):
		sev = sevWarning
	default:
		return nil
	}
	return []finding{{
		Rule: ruleConnections, Severity: sev,
		Summary: fmt.Sprintf("%d of %d usable server connections in use (%.0f %%; max_connections %d, %d reserved for superusers)",
			s.ClientConnections, usable, pct, s.MaxConnections, s.ReservedConnections),
		Details: map[string]any{
			"connections": s.ClientConnections, "usable": usable, "percent": round1(pct),
			"max_connections": s.MaxConnections, "superuser_reserved": s.ReservedConnections,
			"other_databases": s.OtherDatabaseConnections, "warning_percent": c.ConnectionsPct, "critical_percent": c.criticalPct(),
		},
	}}
}

// checkStale names the instances that stopped sending heartbeats without
// a clean stop. The evaluator is not one of them: it is evaluating.
func checkStale(rows []db.FleetInstancesRow, self string) []finding {
	var out []finding
	for _, r := range rows {
		age := secondsDuration(r.SecondsSinceSeen)
		if r.StoppedAt != nil || age <= staleAfter || r.InstanceID == self {
			continue
		}
		sev := sevWarning
		if age >= staleCritical {
			sev = sevCritical
		}
		out = append(out, finding{
			Rule: ruleStale, Subject: r.InstanceID, Instance: r.InstanceID, Severity: sev,
			Summary: fmt.Sprintf("Instance %s (host %s) has sent no heartbeat for %s: crashed, frozen or cut off from the database", r.InstanceID, r.Host, spanWords(age.Round(time.Second))),
			Details: map[string]any{
				"stale_instance": r.InstanceID, "host": r.Host, "version": r.Version,
				"last_seen": r.LastSeen.UTC(), "seconds_since_heartbeat": round1(r.SecondsSinceSeen),
				"started_at": r.StartedAt.UTC(), "stale_after_seconds": staleAfter.Seconds(),
			},
		})
	}
	return out
}

// selfStale reports whether the evaluator's own heartbeat is stale.
func selfStale(rows []db.FleetInstancesRow, self string) bool {
	for _, r := range rows {
		if r.InstanceID == self {
			return r.StoppedAt == nil && secondsDuration(r.SecondsSinceSeen) > staleAfter
		}
	}
	return false
}

// checkReplication looks at the primary's standbys, when it has any or
// asks for a synchronous one.
func checkReplication(c AlertConfig, srv db.ReplicationServerRow, standbys []db.ReplicationStandbysRow) []finding {
	syncNames := strings.TrimSpace(srv.SynchronousStandbyNames)
	if srv.InRecovery || len(standbys) == 0 && syncNames == "" {
		return nil // no replication to watch (or not the primary)
	}
	syncMissing := false
	if syncNames != "" {
		syncMissing = true
		for _, s := range standbys {
			if s.State == "streaming" && (s.SyncState == "sync" || s.SyncState == "quorum") {
				syncMissing = false
			}
		}
	}
	// The standby furthest behind (by bytes, then by time).
	worst := -1
	for i, s := range standbys {
		if worst < 0 || s.ReplayLagBytes > standbys[worst].ReplayLagBytes ||
			s.ReplayLagBytes == standbys[worst].ReplayLagBytes && s.ReplayLagSeconds > standbys[worst].ReplayLagSeconds {
			worst = i
		}
	}
	sev := ""
	var lag db.ReplicationStandbysRow
	if worst >= 0 {
		lag = standbys[worst]
		switch {
		case lag.ReplayLagBytes >= criticalFactor*c.LagBytes || lag.ReplayLagSeconds >= criticalFactor*c.LagSeconds:
			sev = sevCritical
		case lag.ReplayLagBytes >= c.LagBytes || lag.ReplayLagSeconds >= c.LagSeconds:
			sev = sevWarning
		}
	}
	if syncMissing {
		sev = sevCritical
	}
	if sev == "" {
		return nil
	}
	d := map[string]any{
		"sync_standby_missing": syncMissing, "synchronous_standby_names": syncNames,
		"synchronous_commit": srv.SynchronousCommit, "standbys": len(standbys),
		"warning_bytes": c.LagBytes, "warning_seconds": c.LagSeconds,
	}
	var parts []string
	if syncMissing {
		parts = append(parts, fmt.Sprintf("no synchronous standby is streaming although synchronous_standby_names is '%s': commits wait for one", syncNames))
	}
	if worst >= 0 {
		d["standby"] = lag.ApplicationName
		d["client"] = lag.ClientAddr
		d["state"] = lag.State
		d["sync_state"] = lag.SyncState
		d["replay_lag_bytes"] = lag.ReplayLagBytes
		d["replay_lag_seconds"] = round1(lag.ReplayLagSeconds)
		d["write_lag_bytes"] = lag.WriteLagBytes
		d["flush_lag_bytes"] = lag.FlushLagBytes
		if lag.ReplayLagBytes >= c.LagBytes || lag.ReplayLagSeconds >= c.LagSeconds {
			parts = append(parts, fmt.Sprintf("standby %s is %s and %s behind in replay", orWord(lag.ApplicationName, lag.ClientAddr), bytesWords(lag.ReplayLagBytes), spanWords(secs(lag.ReplayLagSeconds))))
		}
	}
	s := strings.Join(parts, "; ")
	return []finding{{Rule: ruleReplication, Severity: sev, Details: d, Summary: strings.ToUpper(s[:1]) + s[1:]}}
}

func checkXIDAge(c AlertConfig, x db.OpsDatabaseXidAgeRow) []finding {
	sev := ""
	switch {
	case x.XidAge >= c.XIDAgeCritical:
		sev = sevCritical
	case x.XidAge >= c.XIDAgeWarning:
		sev = sevWarning
	default:
		return nil
	}
	return []finding{{
		Rule: ruleXIDAge, Severity: sev,
		Summary: fmt.Sprintf("Database %s's oldest unfrozen transaction ID is %s transactions old (PostgreSQL stops writes at about 2.1 billion): VACUUM (FREEZE) its oldest tables", x.Database, countWords(x.XidAge)),
		Details: map[string]any{
			"database": x.Database, "xid_age": x.XidAge, "autovacuum_freeze_max_age": x.FreezeMaxAge,
			"warning": c.XIDAgeWarning, "critical": c.XIDAgeCritical,
		},
	}}
}

// orphanedLocal finds what instances left behind: the instance rules'
// open episodes of an instance that stopped cleanly or is gone from the
// fleet (it cannot resolve them itself any more).
func orphanedLocal(r *alertReading) []db.OpenAlertsRow {
	if r.failed[ruleStale] != nil {
		return nil
	}
	live := map[string]bool{}
	for _, f := range r.fleet {
		if f.StoppedAt == nil {
			live[f.InstanceID] = true
		}
	}
	var out []db.OpenAlertsRow
	for _, o := range r.open {
		if rule, ok := ruleByName(o.Rule); ok && !rule.Fleet && !live[o.Subject] {
			out = append(out, o)
		}
	}
	return out
}

func round1(f float64) float64 { return float64(int64(f*10+0.5)) / 10 }

func appWords(app string) string {
	if app == "" {
		return ""
	}
	return ", " + app
}

func orWord(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}

// sortedRules lists the rules present in m, for stable logs.
func sortedRules(m map[string]error) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// errLeaseLost is how a fenced write ends when another instance has taken
// the lease over.
var errLeaseLost = db.ErrLeaseLost

func isLeaseLost(err error) bool { return errors.Is(err, errLeaseLost) }
