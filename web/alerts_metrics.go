package web

import (
	"github.com/prometheus/client_golang/prometheus"
)

// alertCollector exports what the Prometheus rules of
// deploy/prometheus/alerts.yml need, read at scrape time from what the
// alerts already know: no scrape ever queries the database.
//
// Every instance reports its own hris_db_up, 503s and full-pool waits.
// The hris_pg_* and hris_fleet_* series come from the fleet rules' last
// reading, so only the instance evaluating them (the alerts lease holder)
// reports them, while that reading is fresh; the rules take the max over
// instances.
type alertCollector struct {
	a *App

	dbUp, unavailable, fullWaits                        *prometheus.Desc
	longestQuery, longestIdle, longestWait, mostBlocked *prometheus.Desc
	connections, usable                                 *prometheus.Desc
	lagBytes, lagSeconds, syncMissing                   *prometheus.Desc
	xidAge, heartbeatAge                                *prometheus.Desc
}

func newAlertCollector(a *App, labels prometheus.Labels) *alertCollector {
	d := func(name, help string, vars ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, vars, labels)
	}
	return &alertCollector{
		a:            a,
		dbUp:         d("hris_db_up", "1 when this instance's last check reached the database (and PgBouncer, when set), 0 when it did not."),
		unavailable:  d("hris_http_unavailable_total", "Requests answered 503 because the database could not serve them in time."),
		fullWaits:    d("hris_db_pool_full_waits_total", "Acquires that waited while the pool was at HRIS_DB_MAX_CONNS (seen in its 1 s samples)."),
		longestQuery: d("hris_pg_longest_query_seconds", "Age of the longest-running statement of the database (lock waits excluded); reported by the alerts lease holder."),
		longestIdle:  d("hris_pg_longest_idle_in_transaction_seconds", "Longest time a session of the database has sat idle inside a transaction; reported by the alerts lease holder."),
		longestWait:  d("hris_pg_longest_lock_wait_seconds", "Longest time a statement of the database has waited for a lock; reported by the alerts lease holder."),
		mostBlocked:  d("hris_pg_most_sessions_blocked_by_one", "Most sessions one session blocks; reported by the alerts lease holder."),
		connections:  d("hris_pg_client_connections", "Client connections to the server; reported by the alerts lease holder."),
		usable:       d("hris_pg_usable_connections", "max_connections less superuser_reserved_connections; reported by the alerts lease holder."),
		lagBytes:     d("hris_pg_replication_lag_bytes", "WAL a standby has not replayed yet; reported by the alerts lease holder.", "standby"),
		lagSeconds:   d("hris_pg_replication_lag_seconds", "How far a standby's replay is behind, in time; reported by the alerts lease holder.", "standby"),
		syncMissing:  d("hris_pg_sync_standby_missing", "1 when synchronous_standby_names asks for a synchronous standby and none is streaming; reported by the alerts lease holder."),
		xidAge:       d("hris_pg_xid_age", "Age of the database's oldest unfrozen transaction ID; reported by the alerts lease holder.", "database"),
		heartbeatAge: d("hris_fleet_heartbeat_age_seconds", "Seconds since each running instance's last heartbeat; reported by the alerts lease holder.", "peer"),
	}
}

func (c *alertCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.dbUp, c.unavailable, c.fullWaits, c.longestQuery, c.longestIdle, c.longestWait,
		c.mostBlocked, c.connections, c.usable, c.lagBytes, c.lagSeconds, c.syncMissing, c.xidAge, c.heartbeatAge} {
		ch <- d
	}
}

func (c *alertCollector) Collect(ch chan<- prometheus.Metric) {
	al := c.a.alerts
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	if up := al.dbUp.Load(); up >= 0 {
		gauge(c.dbUp, float64(up))
	}
	ch <- prometheus.MustNewConstMetric(c.unavailable, prometheus.CounterValue, float64(c.a.unavailable.Load()))
	ch <- prometheus.MustNewConstMetric(c.fullWaits, prometheus.CounterValue, float64(al.fullWaits.Load()))

	r := al.lastReading()
	if r == nil {
		return
	}
	if r.failed[ruleLongQuery] == nil {
		v := 0.0
		if len(r.longQueries) > 0 {
			v = r.longQueries[0].Seconds
		}
		gauge(c.longestQuery, v)
	}
	if r.failed[ruleIdleInTx] == nil {
		v := 0.0
		if len(r.idle) > 0 {
			v = r.idle[0].Seconds
		}
		gauge(c.longestIdle, v)
	}
	if r.failed[ruleBlocked] == nil {
		v := 0.0
		waiters := map[int32]map[int32]bool{}
		most := 0
		for _, w := range r.waits {
			v = max(v, w.Seconds)
			if waiters[w.BlockerPid] == nil {
				waiters[w.BlockerPid] = map[int32]bool{}
			}
			waiters[w.BlockerPid][w.Pid] = true
			most = max(most, len(waiters[w.BlockerPid]))
		}
		gauge(c.longestWait, v)
		gauge(c.mostBlocked, float64(most))
	}
	if r.failed[ruleConnections] == nil {
		gauge(c.connections, float64(r.server.ClientConnections))
		gauge(c.usable, float64(r.server.MaxConnections-r.server.ReservedConnections))
	}
	if r.failed[ruleReplication] == nil && !r.replication.InRecovery {
		seen := map[string]bool{}
		for _, s := range r.standbys {
			name := orWord(s.ApplicationName, s.ClientAddr)
			if seen[name] {
				continue // two standbys of one name: the first (the panel lists both)
			}
			seen[name] = true
			gauge(c.lagBytes, float64(s.ReplayLagBytes), name)
			gauge(c.lagSeconds, s.ReplayLagSeconds, name)
		}
		missing := 0.0
		if f := checkReplication(c.a.cfg.Alerts, r.replication, r.standbys); len(f) > 0 && f[0].Details["sync_standby_missing"] == true {
			missing = 1
		}
		gauge(c.syncMissing, missing)
	}
	if r.failed[ruleXIDAge] == nil && r.xid.Database != "" {
		gauge(c.xidAge, float64(r.xid.XidAge), r.xid.Database)
	}
	if r.failed[ruleStale] == nil {
		for _, f := range r.fleet {
			if f.StoppedAt == nil {
				gauge(c.heartbeatAge, f.SecondsSinceSeen, f.InstanceID)
			}
		}
	}
}
