package web

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"hris/db"
)

// History kept in PostgreSQL, so that /ops can show last night and not
// only the last 15 minutes of one process's memory:
//
//   - every instance writes its own pool figures once a minute, folded
//     from the sampler's 1 s samples (pool_history);
//   - one instance of the fleet, the holder of the "history" lease, reads
//     the server once a minute (server_history), snapshots
//     pg_stat_statements every HRIS_QUERY_STATS_INTERVAL as deltas
//     (query_snapshots, query_stats), records table and index sizes once
//     a day (relation_sizes), and deletes what is older than
//     HRIS_HISTORY_RETENTION.
//
// All of it runs on the ops pool, so it goes on when the main pool is
// saturated (when history matters most), with every statement bounded:
// a table locked by a migration costs a skipped round, never a stuck one.

// historyLeaseName is the lease the fleet-wide capture runs under.
const historyLeaseName = "history"

// captureLimits bound the capture's statements.
var captureLimits = db.Limits{Lock: time.Second, Statement: 10 * time.Second}

// pruneEvery is how often old history is deleted; pruneBatch rows go per
// statement, at most pruneBatches statements per table and round.
const (
	pruneEvery   = time.Hour
	pruneBatch   = 5000
	pruneBatches = 20
)

// history is the capture's state in this process.
type history struct {
	lease *db.Lease
	every time.Duration // the leased loop's round

	mu         sync.Mutex
	lastServer time.Time // last step captured
	lastQuery  time.Time // last interval snapshotted or found taken
	lastSizes  time.Time // day of the last size capture
	lastPrune  time.Time
	pgssState  string // why pg_stat_statements could not be read, logged once per change
	snapshots  int64  // snapshots this process took
}

func newHistory(a *App) *history {
	every := a.cfg.HistoryStep
	if iv := a.cfg.QueryStatsInterval; iv > 0 && iv < every {
		every = iv
	}
	return &history{
		every: every,
		lease: db.NewLease(a.opsDB, historyLeaseName, a.cfg.InstanceID, leaseTTL(every)),
	}
}

// leaseTTL is how long a lease taken every `every` holds: two rounds and a
// margin, so one late round (a loaded machine) does not hand it over, and
// a holder that died is replaced within about three rounds.
func leaseTTL(every time.Duration) time.Duration {
	return 2*every + max(every/2, time.Second)
}

// nextBoundary sleeps until just after the next multiple of step (wall
// clock, UTC) and returns that boundary; false when ctx ends first. Every
// instance wakes at the same moments, and rows are keyed by them.
func nextBoundary(ctx context.Context, step time.Duration) (time.Time, bool) {
	b := time.Now().Truncate(step).Add(step)
	// A little after the boundary, so the sampler's sample of that second
	// is in.
	t := time.NewTimer(time.Until(b) + min(step/20, 2*time.Second))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return time.Time{}, false
	case <-t.C:
		return b, true
	}
}

// recordPoolHistory writes this instance's pool figures for every step
// (a minute) until ctx ends.
func (a *App) recordPoolHistory(ctx context.Context) {
	step := a.cfg.HistoryStep
	prev := db.SamplePool(a.db.Pool)
	prevUnavailable := a.unavailable.Load()
	for {
		at, ok := nextBoundary(ctx, step)
		if !ok {
			return
		}
		cur := db.SamplePool(a.db.Pool)
		unavailable := a.unavailable.Load()
		row := poolMinute(a.sampler.Samples(), prev, cur, unavailable-prevUnavailable, at.Add(-step))
		row.InstanceID = a.cfg.InstanceID
		prev, prevUnavailable = cur, unavailable
		err := a.opsDB.InTxLimited(ctx, captureLimits, func(ctx context.Context, q *db.Queries) error {
			return q.InsertPoolHistory(ctx, row)
		})
		if err != nil && ctx.Err() == nil {
			a.log.Warn("history: pool minute not written", "at", row.At, "err", err)
		}
	}
}

// captureHistory takes the fleet-wide history while this instance holds
// the history lease, until ctx ends.
func (a *App) captureHistory(ctx context.Context) {
	a.runLeased(ctx, a.history.lease, a.history.every, a.captureRound)
}

// runLeased calls fn at every multiple of every (wall clock) while this
// instance holds lease, renewing it each time, and gives the lease up when
// ctx ends so another instance takes over at once. fn gets the round's
// boundary time. Any fleet-wide loop (the alerts, say) can run this way.
func (a *App) runLeased(ctx context.Context, lease *db.Lease, every time.Duration, fn func(ctx context.Context, at time.Time)) {
	held := false
	defer func() {
		if !held {
			return
		}
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		if err := lease.Release(rctx); err != nil {
			a.log.Debug("lease not released", "lease", lease.Name(), "err", err)
		}
	}()
	for {
		at, ok := nextBoundary(ctx, every)
		if !ok {
			return
		}
		got, err := lease.Acquire(ctx)
		if err != nil {
			if ctx.Err() == nil {
				a.log.Warn("lease: cannot take or renew", "lease", lease.Name(), "err", err)
			}
			continue
		}
		if got != held {
			a.log.Info("lease", "lease", lease.Name(), "held", got, "instance", a.cfg.InstanceID)
		}
		held = got
		if held {
			fn(ctx, at)
		}
	}
}

// captureRound does whatever of the fleet-wide capture is due at `at`.
func (a *App) captureRound(ctx context.Context, at time.Time) {
	h := a.history
	h.mu.Lock()
	defer h.mu.Unlock()
	if step := at.Truncate(a.cfg.HistoryStep); step.After(h.lastServer) {
		// Keyed by the minute its deltas cover, like the pool's rows.
		if err := a.captureServer(ctx, step.Add(-a.cfg.HistoryStep)); err != nil {
			a.captureFailed("server figures", err)
		} else {
			h.lastServer = step
		}
	}
	if iv := a.cfg.QueryStatsInterval; iv > 0 {
		if bucket := at.Truncate(iv); bucket.After(h.lastQuery) {
			res, err := a.captureQueryStats(ctx, bucket)
			switch {
			case err != nil:
				a.captureFailed("query statistics", err)
			default:
				h.lastQuery = bucket
				if res.taken {
					h.snapshots++
				}
			}
		}
	}
	if day := at.UTC().Truncate(24 * time.Hour); day.After(h.lastSizes) {
		if err := a.captureSizes(ctx, day); err != nil {
			a.captureFailed("relation sizes", err)
		} else {
			h.lastSizes = day
		}
	}
	if at.Sub(h.lastPrune) >= pruneEvery {
		if _, err := a.pruneHistory(ctx, at); err != nil {
			a.captureFailed("retention", err)
		} else {
			h.lastPrune = at
		}
	}
}

// captureFailed logs a failed part of a round; it is tried again next round.
func (a *App) captureFailed(what string, err error) {
	if errors.Is(err, context.Canceled) {
		return
	}
	if state := statStatementsProblem(err); state != "" {
		// Missing pg_stat_statements is a setup matter, said once (and on
		// /ops/queries), not a warning every interval.
		if a.history.pgssState != state {
			a.history.pgssState = state
			a.log.Info("history: query statistics are not captured: "+state, "err", err)
		}
		return
	}
	a.log.Warn("history: capture failed; next round tries again", "what", what, "sqlstate", db.SQLState(err), "err", err)
}

// captureServer writes the server's figures for the step at.
func (a *App) captureServer(ctx context.Context, at time.Time) error {
	return a.opsDB.InTxLimited(ctx, captureLimits, func(ctx context.Context, q *db.Queries) error {
		r, err := q.ServerReading(ctx)
		if err != nil {
			return fmt.Errorf("history: server reading: %w", err)
		}
		last, err := q.LastServerHistory(ctx)
		haveLast := err == nil
		if err != nil && !errors.Is(err, db.ErrNotFound) {
			return fmt.Errorf("history: last server row: %w", err)
		}
		p := db.InsertServerHistoryParams{
			At: at, InstanceID: a.cfg.InstanceID,
			Active: r.Active, Idle: r.Idle, IdleInTx: r.IdleInTx, Waiting: r.Waiting,
			Clients: r.Clients, MaxConnections: r.MaxConnections,
			CommitsTotal: r.CommitsTotal, RollbacksTotal: r.RollbacksTotal,
			BlksHitTotal: r.BlksHitTotal, BlksReadTotal: r.BlksReadTotal, StatsReset: r.StatsReset,
		}
		serverDeltas(&p, last, haveLast, a.cfg.HistoryStep)
		_, err = q.InsertServerHistory(ctx, p)
		return err
	})
}

// snapshotResult is what one query statistics capture did.
type snapshotResult struct {
	taken      bool // false: another instance had taken this interval
	baseline   bool // the first snapshot (or the first after a long gap): no deltas yet
	reset      bool
	statements int
	took       time.Duration
}

// captureQueryStats snapshots pg_stat_statements for the interval at: the
// change of every statement since the previous snapshot. The interval is
// claimed first, in the same transaction, so however many instances try,
// one snapshot is stored per interval.
func (a *App) captureQueryStats(ctx context.Context, at time.Time) (snapshotResult, error) {
	var res snapshotResult
	err := a.opsDB.InTxLimited(ctx, captureLimits, func(ctx context.Context, q *db.Queries) error {
		start := time.Now()
		res = snapshotResult{}
		_, err := q.ClaimQuerySnapshot(ctx, db.ClaimQuerySnapshotParams{At: at, InstanceID: a.cfg.InstanceID})
		if errors.Is(err, db.ErrNotFound) {
			return nil // taken already
		}
		if err != nil {
			return fmt.Errorf("query stats: claim: %w", err)
		}
		res.taken = true
		info, err := q.StatStatementsInfo(ctx)
		if err != nil {
			return fmt.Errorf("query stats: pg_stat_statements_info: %w", err)
		}
		rows, err := q.StatStatementsCounters(ctx)
		if err != nil {
			return fmt.Errorf("query stats: pg_stat_statements: %w", err)
		}
		cur := make([]stmtCounters, len(rows))
		for i, r := range rows {
			cur[i] = stmtCounters(r)
		}
		prev, err := q.PreviousQuerySnapshot(ctx, at)
		res.baseline = errors.Is(err, db.ErrNotFound)
		if err != nil && !res.baseline {
			return fmt.Errorf("query stats: previous snapshot: %w", err)
		}
		var base []stmtCounters
		if !res.baseline {
			brows, err := q.QueryBaseline(ctx)
			if err != nil {
				return fmt.Errorf("query stats: baseline: %w", err)
			}
			base = make([]stmtCounters, len(brows))
			for i, r := range brows {
				base[i] = stmtCounters(r)
			}
		}
		fullReset := !res.baseline && !sameReset(prev.StatsReset, info.StatsReset)
		ch := stmtDeltas(cur, base, fullReset || res.baseline)
		res.reset = fullReset || ch.Restarted > 0

		// The baseline becomes the counters now.
		if fullReset || res.baseline {
			if err := q.ClearQueryBaseline(ctx); err != nil {
				return fmt.Errorf("query stats: clear baseline: %w", err)
			}
		} else if len(ch.Gone) > 0 {
			if err := q.DeleteQueryBaseline(ctx, ch.Gone); err != nil {
				return fmt.Errorf("query stats: forget baseline: %w", err)
			}
		}
		if len(ch.Changed) > 0 {
			if err := q.UpsertQueryBaseline(ctx, baselineParams(ch.Changed)); err != nil {
				return fmt.Errorf("query stats: baseline: %w", err)
			}
		}

		fin := db.FinishQuerySnapshotParams{At: at, StatsReset: info.StatsReset}
		if !res.baseline {
			kept := keepTop(ch.Deltas, maxPerOrder)
			fin.Since = &prev.TakenAt
			fin.Reset = res.reset
			fin.Calls, fin.TotalMs = ch.Calls, ch.TotalMs
			fin.Statements = int32(len(kept))
			if err := a.storeDeltas(ctx, q, at, kept); err != nil {
				return err
			}
			res.statements = len(kept)
		}
		res.took = time.Since(start)
		fin.CaptureMs = float64(res.took.Microseconds()) / 1000
		return q.FinishQuerySnapshot(ctx, fin)
	})
	return res, err
}

// storeDeltas writes a snapshot's statements, and the texts of those seen
// for the first time (scrubbed: see db.ScrubQuery).
func (a *App) storeDeltas(ctx context.Context, q *db.Queries, at time.Time, deltas []stmtCounters) error {
	if len(deltas) == 0 {
		return nil
	}
	p := db.InsertQueryStatsParams{At: at}
	for _, d := range deltas {
		p.Queryids = append(p.Queryids, d.Queryid)
		p.Calls = append(p.Calls, d.Calls)
		p.TotalMs = append(p.TotalMs, d.TotalMs)
		p.Rows = append(p.Rows, d.Rows)
		p.BlksHit = append(p.BlksHit, d.BlksHit)
		p.BlksRead = append(p.BlksRead, d.BlksRead)
	}
	if err := q.InsertQueryStats(ctx, p); err != nil {
		return fmt.Errorf("query stats: insert: %w", err)
	}
	known, err := q.KnownQueryTexts(ctx, p.Queryids)
	if err != nil {
		return fmt.Errorf("query stats: known texts: %w", err)
	}
	have := make(map[int64]bool, len(known))
	for _, id := range known {
		have[id] = true
	}
	var missing []int64
	for _, id := range p.Queryids {
		if !have[id] {
			missing = append(missing, id)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	texts, err := q.StatStatementsTexts(ctx, missing)
	if err != nil {
		return fmt.Errorf("query stats: texts: %w", err)
	}
	tp := db.InsertQueryTextsParams{}
	for _, t := range texts {
		tp.Queryids = append(tp.Queryids, t.Queryid)
		tp.Queries = append(tp.Queries, db.ScrubQuery(t.Query))
	}
	if err := q.InsertQueryTexts(ctx, tp); err != nil {
		return fmt.Errorf("query stats: insert texts: %w", err)
	}
	return nil
}

func baselineParams(rows []stmtCounters) db.UpsertQueryBaselineParams {
	var p db.UpsertQueryBaselineParams
	for _, r := range rows {
		p.Queryids = append(p.Queryids, r.Queryid)
		p.Calls = append(p.Calls, r.Calls)
		p.TotalMs = append(p.TotalMs, r.TotalMs)
		p.Rows = append(p.Rows, r.Rows)
		p.BlksHit = append(p.BlksHit, r.BlksHit)
		p.BlksRead = append(p.BlksRead, r.BlksRead)
	}
	return p
}

// captureSizes records every table's and index's size for day, once.
func (a *App) captureSizes(ctx context.Context, day time.Time) error {
	return a.opsDB.InTxLimited(ctx, captureLimits, func(ctx context.Context, q *db.Queries) error {
		have, err := q.HaveRelationSizes(ctx, day)
		if err != nil || have {
			return err
		}
		_, err = q.CaptureRelationSizes(ctx, day)
		return err
	})
}

// pruneHistory deletes history older than HRIS_HISTORY_RETENTION before
// now, a bounded batch per statement, and returns how many rows went.
func (a *App) pruneHistory(ctx context.Context, now time.Time) (int64, error) {
	before := now.Add(-a.cfg.HistoryRetention)
	var total int64
	for _, t := range []struct {
		batch int32
		del   func(context.Context, *db.Queries, int32) (int64, error)
	}{
		{pruneBatch, func(ctx context.Context, q *db.Queries, n int32) (int64, error) {
			return q.DeleteOldPoolHistory(ctx, db.DeleteOldPoolHistoryParams{Before: before, Batch: n})
		}},
		{pruneBatch, func(ctx context.Context, q *db.Queries, n int32) (int64, error) {
			return q.DeleteOldServerHistory(ctx, db.DeleteOldServerHistoryParams{Before: before, Batch: n})
		}},
		// A snapshot takes its statements with it: fewer per batch.
		{pruneBatch / 50, func(ctx context.Context, q *db.Queries, n int32) (int64, error) {
			return q.DeleteOldQuerySnapshots(ctx, db.DeleteOldQuerySnapshotsParams{Before: before, Batch: n})
		}},
	} {
		for range pruneBatches {
			var n int64
			err := a.opsDB.InTxLimited(ctx, captureLimits, func(ctx context.Context, q *db.Queries) (err error) {
				n, err = t.del(ctx, q, t.batch)
				return err
			})
			if err != nil {
				return total, fmt.Errorf("history: retention: %w", err)
			}
			total += n
			if n < int64(t.batch) {
				break
			}
		}
	}
	err := a.opsDB.InTxLimited(ctx, captureLimits, func(ctx context.Context, q *db.Queries) error {
		n, err := q.DeleteOldRelationSizes(ctx, before)
		total += n
		if err != nil {
			return err
		}
		n, err = q.DeleteUnusedQueryTexts(ctx)
		total += n
		return err
	})
	if err != nil {
		return total, fmt.Errorf("history: retention: %w", err)
	}
	if total > 0 {
		a.log.Info("history: old rows deleted", "rows", total, "before", before)
	}
	return total, nil
}

// statStatementsProblem says why an error means pg_stat_statements cannot
// be read here, or "" when it is some other error.
func statStatementsProblem(err error) string {
	switch db.SQLState(err) {
	case "42P01", "42883": // undefined table, undefined function
		return "the pg_stat_statements extension is not created in this database"
	case "55000": // object not in prerequisite state
		return "pg_stat_statements is not in shared_preload_libraries"
	}
	return ""
}
