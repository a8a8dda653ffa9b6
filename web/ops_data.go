package web

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"hris/db"
	"hris/views/components"
	"hris/views/partials"
)

const (
	// opsCacheFor: however many admins poll, each panel's statistics are
	// read from PostgreSQL at most about once a second.
	opsCacheFor = time.Second
	// opsLoadBudget bounds one load: the ops pool's acquire timeout plus
	// its statement timeout, so a hung server costs a panel error, not a
	// pile of waiting requests.
	opsLoadBudget = 5 * time.Second
	// opsHistoryFor: stored history changes once a minute, so its
	// readings are shared longer than the live panels'.
	opsHistoryFor = 15 * time.Second
)

// opsLimits bound every statement the dashboard runs: one that meets a
// table locked by a migration gives up after a second (and its panel says
// so) instead of queueing behind the lock; none runs past 5 s.
var opsLimits = db.Limits{Lock: time.Second, Statement: 5 * time.Second}

// opsRead runs a dashboard read on the ops pool within opsLimits.
func opsRead(ctx context.Context, ops *db.DB, fn db.Query) error {
	return ops.ReadLimited(ctx, opsLimits, fn)
}

// newOpsReading is a panel's reading: reused for opsCacheFor, loaded
// within opsLoadBudget.
func newOpsReading[T any](load func(context.Context) (T, error)) *reading[T] {
	return newReading(opsCacheFor, opsLoadBudget, load)
}

// opsDashboard is the state behind /ops: one cache per panel that reads
// PostgreSQL, and the history of pg_stat_database readings for rates.
type opsDashboard struct {
	activity *reading[opsActivityData]
	locks    *reading[[]db.OpsBlockedRow]
	database *reading[opsDatabaseData]
	fleet    *reading[[]db.FleetInstancesRow]
	// poolHistory and serverHistory are the stored history for the
	// charts' period switch, one cache per period.
	poolHistory   map[string]*reading[[]db.PoolHistoryRow]
	serverHistory map[string]*reading[[]db.ServerHistoryRow]
	// replication is also read by the failover watcher.
	replication *reading[replicationData]
	// statements counts the SQL statements the dashboard ran.
	statements atomic.Int64

	mu        sync.Mutex
	dbHistory []dbSample
}

type opsActivityData struct {
	server   db.OpsServerRow
	sessions []db.OpsActivityRow
}

type opsDatabaseData struct {
	row                db.OpsDatabaseRow
	rates              dbRates
	commits, rollbacks []float64
	span               time.Duration
}

func newOpsDashboard(ops *db.DB) *opsDashboard {
	d := &opsDashboard{}
	d.activity = newOpsReading(func(ctx context.Context) (res opsActivityData, err error) {
		err = opsRead(ctx, ops, func(ctx context.Context, q *db.Queries) (err error) {
			d.statements.Add(2)
			if res.server, err = q.OpsServer(ctx); err != nil {
				return fmt.Errorf("ops: server connections: %w", err)
			}
			if res.sessions, err = q.OpsActivity(ctx); err != nil {
				return fmt.Errorf("ops: activity: %w", err)
			}
			return nil
		})
		return res, err
	})
	d.locks = newOpsReading(func(ctx context.Context) (rows []db.OpsBlockedRow, err error) {
		err = opsRead(ctx, ops, func(ctx context.Context, q *db.Queries) (err error) {
			d.statements.Add(1)
			rows, err = q.OpsBlocked(ctx)
			if err != nil {
				return fmt.Errorf("ops: blocked queries: %w", err)
			}
			return nil
		})
		return rows, err
	})
	d.database = newOpsReading(func(ctx context.Context) (res opsDatabaseData, err error) {
		err = opsRead(ctx, ops, func(ctx context.Context, q *db.Queries) (err error) {
			d.statements.Add(1)
			res.row, err = q.OpsDatabase(ctx)
			if err != nil {
				return fmt.Errorf("ops: database statistics: %w", err)
			}
			return nil
		})
		if err != nil {
			return res, err
		}
		d.mu.Lock()
		d.dbHistory = addDBSample(d.dbHistory, dbSample{At: time.Now(), OpsDatabaseRow: res.row})
		res.rates = dbRatesOf(d.dbHistory)
		res.commits, res.rollbacks = dbSeries(d.dbHistory)
		res.span = d.dbHistory[len(d.dbHistory)-1].At.Sub(d.dbHistory[0].At)
		d.mu.Unlock()
		return res, nil
	})
	d.fleet = newFleetCache(ops, d)
	d.poolHistory = map[string]*reading[[]db.PoolHistoryRow]{}
	d.serverHistory = map[string]*reading[[]db.ServerHistoryRow]{}
	for _, p := range periods[1:] {
		ph := newOpsReading(func(ctx context.Context) (rows []db.PoolHistoryRow, err error) {
			err = opsRead(ctx, ops, func(ctx context.Context, q *db.Queries) (err error) {
				d.statements.Add(1)
				rows, err = q.PoolHistory(ctx, db.PoolHistoryParams{BucketSeconds: p.Bucket.Seconds(), Since: time.Now().Add(-p.Span)})
				return err
			})
			return rows, err
		})
		sh := newOpsReading(func(ctx context.Context) (rows []db.ServerHistoryRow, err error) {
			err = opsRead(ctx, ops, func(ctx context.Context, q *db.Queries) (err error) {
				d.statements.Add(1)
				rows, err = q.ServerHistory(ctx, db.ServerHistoryParams{BucketSeconds: p.Bucket.Seconds(), Since: time.Now().Add(-p.Span)})
				return err
			})
			return rows, err
		})
		ph.ttl, sh.ttl = opsHistoryFor, opsHistoryFor
		d.poolHistory[p.Name], d.serverHistory[p.Name] = ph, sh
	}
	d.replication = newReplicationCache(ops, d)
	return d
}

// ownBackend reports whether pid is a connection of this process's pools.
func (a *App) ownBackend(pid int32) bool {
	return a.db.Backends.Has(pid) || a.opsDB.Backends.Has(pid)
}

// opsError is what a panel shows when its statistics could not be read;
// the detail goes to the log.
func (a *App) opsError(what string, err error) string {
	a.log.Warn("ops dashboard: read failed", "panel", what, "err", err, "sqlstate", db.SQLState(err))
	switch {
	case db.SQLState(err) == "55P03":
		return "A table " + what + " needs is locked (a migration, VACUUM FULL or REINDEX?), so this part gave up after " +
			partials.Span(opsLimits.Lock) + " instead of waiting behind the lock. Everything else still works; reload to try again."
	case db.SQLState(err) == "57014":
		return "Reading " + what + " took longer than " + partials.Span(opsLimits.Statement) + " and was stopped. Reload to try again."
	case errors.Is(err, db.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		return "PostgreSQL is not answering, so " + what + " cannot be shown. This panel keeps trying every 2 seconds."
	case db.SQLState(err) == "42501":
		return "The database role lacks the privilege to read " + what + " (grant it pg_monitor)."
	}
	return "Could not read " + what + "; the error is in the server log."
}

// poolView is the pool panel, from the sampler's history: no database
// query at all, so it keeps working when PostgreSQL does not.
func (a *App) poolView() partials.OpsPoolView {
	now := db.SamplePool(a.db.Pool)
	hist := a.sampler.Samples()
	if len(hist) == 0 || now.At.Sub(hist[len(hist)-1].At) >= a.sampler.Interval()/2 {
		hist = append(hist, now)
	}
	v := partials.OpsPoolView{
		UpdatedAt: now.At, Max: now.Max, Acquired: now.Acquired, Idle: now.Idle,
		Total: now.Total, Constructing: now.Constructing,
		Retries:        a.db.Retries.Total(),
		AcquireTimeout: a.db.Config().AcquireTimeout,
	}
	if _, span, ok := deltaOver(hist, time.Minute, acquires); ok {
		v.HaveRates, v.RateSpan = true, span.Round(time.Second)
		v.AcquiresPerSec, _ = rateOver(hist, time.Minute, acquires)
		v.EmptyPerSec, _ = rateOver(hist, time.Minute, emptyAcquires)
		v.WaitNow, _ = rateOver(hist, time.Minute, acquireMillis)
		v.AvgAcquireMS, v.HaveAvgAcquire = avgAcquireMillis(hist, time.Minute)
		canceled, _, _ := deltaOver(hist, time.Minute, canceledAcquire)
		created, _, _ := deltaOver(hist, time.Minute, newConns)
		v.Canceled, v.NewConns = int64(canceled), int64(created)
		first, last, _ := window(hist, time.Minute)
		v.LifetimeDestroys = max(last.LifetimeDestroys-first.LifetimeDestroys, 0)
		v.IdleDestroys = max(last.IdleDestroys-first.IdleDestroys, 0)
	}

	inUse := make([]float64, len(hist))
	for i, s := range hist {
		inUse[i] = float64(s.Acquired)
	}
	v.Acquired15 = components.Spark{
		Values: downsample(inUse, sparkPoints, peak),
		Limit:  float64(now.Max),
		Label:  fmt.Sprintf("Connections in use over the last %s; now %d of %d", partials.Span(v.ChartSpan), now.Acquired, now.Max),
	}
	v.Wait15 = components.Spark{
		Values: downsample(perSecond(hist, acquireMillis), sparkPoints, mean),
		Label:  "Milliseconds spent acquiring connections per second",
	}
	v.Empty15 = components.Spark{
		Values: downsample(perSecond(hist, emptyAcquires), sparkPoints, mean),
		Label:  "Acquires per second that found no idle connection and waited",
	}
	if len(hist) > 1 {
		v.ChartSpan = hist[len(hist)-1].At.Sub(hist[0].At).Round(time.Second)
		v.ChartStep = (time.Duration(len(hist)/sparkPoints) * a.sampler.Interval())
		v.Acquired15.Label = fmt.Sprintf("Connections in use over the last %s; now %d of %d", partials.Span(v.ChartSpan), now.Acquired, now.Max)
	}
	return v
}

// activityView is the sessions panel.
func (a *App) activityView(ctx context.Context) partials.OpsActivityView {
	data, at, err := a.ops.activity.get(ctx)
	v := partials.OpsActivityView{UpdatedAt: at, Threshold: a.cfg.LongQueryThreshold}
	if err != nil {
		v.Error = a.opsError("pg_stat_activity", err)
		return v
	}
	v.Database = data.server.Database
	v.OtherDatabases = data.server.OtherDatabaseConnections
	threshold := a.cfg.LongQueryThreshold.Seconds()
	for _, r := range data.sessions {
		s := sessionView(r, a.ownBackend(r.Pid))
		v.Sessions++
		if s.Own {
			v.Own++
		}
		if r.WaitEventType == "Lock" {
			v.Waiting++
		}
		switch r.State {
		case "idle":
			v.Idle++
		case "idle in transaction", "idle in transaction (aborted)":
			if r.State == "idle in transaction" {
				v.IdleInTx++
			} else {
				v.IdleInTxAborted++
			}
			s.Long = threshold > 0 && r.XactSeconds > threshold
			v.InTx = append(v.InTx, s)
		default: // active, fastpath function call, disabled
			if r.State == "active" {
				v.Active++
			}
			s.Long = threshold > 0 && r.QuerySeconds > threshold
			v.Running = append(v.Running, s)
		}
	}
	v.Sizing = a.sizing(data.server)
	return v
}

func sessionView(r db.OpsActivityRow, own bool) partials.OpsSession {
	return partials.OpsSession{
		Pid: r.Pid, User: r.Usename, App: r.ApplicationName, Client: r.ClientAddr,
		State: r.State, WaitEventType: r.WaitEventType, WaitEvent: r.WaitEvent, Query: r.Query,
		QuerySeconds: r.QuerySeconds, XactSeconds: r.XactSeconds, StateSeconds: r.StateSeconds,
		Own: own,
	}
}

// sizing relates this instance's pools to the server's connection limit.
func (a *App) sizing(srv db.OpsServerRow) partials.OpsSizing {
	mainMax := a.db.Config().MaxConns
	own := a.db.Pool.Stat().TotalConns()
	var opsMax int32
	if a.opsDB != a.db {
		opsMax = a.opsDB.Config().MaxConns
		own += a.opsDB.Pool.Stat().TotalConns()
	}
	s := sizePools(srv.MaxConnections, srv.ReservedConnections, mainMax+opsMax, srv.ClientConnections, own)
	return partials.OpsSizing{
		MaxConnections: s.MaxConnections, Reserved: s.Reserved, PerInstance: s.PerInstance,
		MainPool: mainMax, OpsPool: opsMax, Instances: s.Instances, InUse: s.InUse, Own: s.Own,
		Headroom: s.Headroom, Free: s.Free, FewInstances: s.FewInstances, CanExhaust: s.CanExhaust,
	}
}

// locksView is the blocked queries panel.
func (a *App) locksView(ctx context.Context) partials.OpsLocksView {
	rows, at, err := a.ops.locks.get(ctx)
	v := partials.OpsLocksView{UpdatedAt: at}
	if err != nil {
		v.Error = a.opsError("pg_locks", err)
		return v
	}
	threshold := a.cfg.LongQueryThreshold.Seconds()
	seen := map[int32]bool{}
	for _, r := range rows {
		if !seen[r.BlockedPid] {
			seen[r.BlockedPid] = true
			v.Sessions++
		}
		lock := r.LockMode
		if r.LockType != "" {
			lock += " on " + r.LockType
		}
		if r.LockRelation != "" {
			lock += " " + r.LockRelation
		}
		v.Blocked = append(v.Blocked, partials.OpsBlocked{
			Pid: r.BlockedPid, User: r.BlockedUser, App: r.BlockedApplication, Query: r.BlockedQuery,
			WaitSeconds: r.WaitSeconds, Lock: lock, Long: threshold > 0 && r.WaitSeconds > threshold,
			BlockerPid: r.BlockerPid, BlockerUser: r.BlockerUser, BlockerApp: r.BlockerApplication,
			BlockerState: r.BlockerState, BlockerQuery: r.BlockerQuery,
			BlockerXactSeconds: r.BlockerXactSeconds, BlockerQuerySeconds: r.BlockerQuerySeconds,
			BlockerHere: r.BlockerHere, BlockerOwn: a.ownBackend(r.BlockerPid),
		})
	}
	return v
}

// databaseView is the database statistics panel.
func (a *App) databaseView(ctx context.Context) partials.OpsDatabaseView {
	data, at, err := a.ops.database.get(ctx)
	v := partials.OpsDatabaseView{UpdatedAt: at}
	if err != nil {
		v.Error = a.opsError("pg_stat_database", err)
		return v
	}
	r := data.row
	v.SizeBytes, v.Backends = r.SizeBytes, r.Backends
	v.HitRatio, v.HaveHitRatio = cacheHitRatio(r.BlksHit, r.BlksRead)
	v.BlocksRead = r.BlksRead
	v.Deadlocks, v.TempFiles, v.TempBytes, v.Conflicts = r.Deadlocks, r.TempFiles, r.TempBytes, r.Conflicts
	v.StatsReset = r.StatsReset
	rt := data.rates
	v.HaveRates, v.RateSpan = rt.HaveRates, rt.Span.Round(time.Second)
	v.CommitsPerSec, v.RollbacksPerSec = rt.CommitsPerSec, rt.RollbacksPerSec
	v.HaveRecent, v.RecentSpan = rt.HaveRecentCounts, rt.RecentSpan.Round(time.Second)
	v.RecentDeadlocks, v.RecentTempFiles = rt.RecentDeadlocks, rt.RecentTempFiles
	v.Database = r.Database
	v.HistorySpan = data.span.Round(time.Second)
	v.Commits15 = components.Spark{
		Values: downsample(data.commits, sparkPoints, mean),
		Label:  "Commits per second while this dashboard was watched",
	}
	v.Rollbacks15 = components.Spark{
		Values: downsample(data.rollbacks, sparkPoints, mean),
		Label:  "Rollbacks per second while this dashboard was watched",
	}
	return v
}
