package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"hris/db"
	"hris/views/components"
	"hris/views/pages"
)

// /ops/queries: PgHero's most used page. The statements that used the
// database's time, from pg_stat_statements now (live) or from the stored
// snapshots of the last hour, day or week, which outlive a reset of the
// statistics. Texts are pg_stat_statements' normalised ones, scrubbed
// (db.ScrubQuery): no parameter value is ever shown.

// maxQueryRows is how many statements the list shows.
const maxQueryRows = 100

// querySorts are the orders of the list, by ?sort=.
var querySorts = map[string]bool{"total": true, "mean": true, "calls": true}

func (a *App) opsQueryList(w http.ResponseWriter, r *http.Request) {
	p := parsePeriod(r.URL.Query().Get("period"), periodLive)
	sort := r.URL.Query().Get("sort")
	if !querySorts[sort] {
		sort = "total"
	}
	v := pages.OpsQueriesView{
		Period: p.Name, Sort: sort, Periods: periodLinks("/ops/queries", p, "sort="+sort),
		Interval: a.cfg.QueryStatsInterval, SlowMean: a.cfg.SlowQueryMean, SlowCalls: a.cfg.SlowQueryCalls,
	}
	ctx, cancel := context.WithTimeout(r.Context(), opsLoadBudget)
	defer cancel()
	v.Setup = a.statStatementsSetup(ctx)
	switch {
	case p == periodLive && v.Setup == nil:
		a.liveQueries(ctx, &v)
	case p != periodLive:
		a.storedQueries(ctx, &v, p)
	}
	a.render(w, r, http.StatusOK, pages.OpsQueries(a.page(r, "Queries", "ops"), v))
}

// liveQueries fills v from pg_stat_statements now.
func (a *App) liveQueries(ctx context.Context, v *pages.OpsQueriesView) {
	var rows []db.LiveQueryStatsRow
	var info db.StatStatementsInfoRow
	err := opsRead(ctx, a.opsDB, func(ctx context.Context, q *db.Queries) (err error) {
		if info, err = q.StatStatementsInfo(ctx); err != nil {
			return err
		}
		rows, err = q.LiveQueryStats(ctx, db.LiveQueryStatsParams{Sort: v.Sort, MaxRows: maxQueryRows})
		return err
	})
	if err != nil {
		if setup := a.statStatementsError(err); setup != nil {
			v.Setup = setup
		} else {
			v.Error = a.opsError("pg_stat_statements", err)
		}
		return
	}
	v.StatsReset = info.StatsReset
	for i, r := range rows {
		if i == 0 {
			v.Statements, v.AllCalls, v.AllTotalMS = r.Statements, r.AllCalls, r.AllTotalMs
		}
		v.Rows = append(v.Rows, a.queryRow(r.Queryid, db.ScrubQuery(r.Query), r.Calls, r.TotalMs, r.Rows, r.BlksHit, r.BlksRead, v.AllTotalMS))
	}
	v.SlowShown = countSlow(v.Rows)
}

// storedQueries fills v from the snapshots of period p.
func (a *App) storedQueries(ctx context.Context, v *pages.OpsQueriesView, p period) {
	since := time.Now().Add(-p.Span)
	var cover db.QuerySnapshotsSinceRow
	var rows []db.StoredQueryStatsRow
	err := opsRead(ctx, a.opsDB, func(ctx context.Context, q *db.Queries) (err error) {
		if cover, err = q.QuerySnapshotsSince(ctx, since); err != nil {
			return err
		}
		rows, err = q.StoredQueryStats(ctx, db.StoredQueryStatsParams{Since: since, Sort: v.Sort, MaxRows: maxQueryRows})
		return err
	})
	if err != nil {
		v.Error = a.opsError("the stored query statistics", err)
		return
	}
	v.Snapshots, v.Resets = int(cover.Snapshots), int(cover.Resets)
	v.From, v.To = cover.FirstSince, cover.LastTaken
	v.AllCalls, v.AllTotalMS = cover.Calls, cover.TotalMs
	for i, r := range rows {
		if i == 0 {
			v.Statements = r.Statements
		}
		text := r.Query // scrubbed when stored
		if text == "" {
			text = "(text not kept)"
		}
		v.Rows = append(v.Rows, a.queryRow(r.Queryid, text, r.Calls, r.TotalMs, r.Rows, r.BlksHit, r.BlksRead, v.AllTotalMS))
	}
	v.SlowShown = countSlow(v.Rows)
}

// queryRow makes one statement's figures, flagged slow by the configured
// rule (PgHero's: mean at least 20 ms over at least 100 calls).
func (a *App) queryRow(id int64, text string, calls int64, totalMS float64, rows, hit, read int64, allMS float64) pages.OpsQueryRow {
	r := pages.OpsQueryRow{QueryID: id, Text: text, Calls: calls, TotalMS: totalMS, Rows: rows}
	if calls > 0 {
		r.MeanMS = totalMS / float64(calls)
	}
	if allMS > 0 {
		r.Share = totalMS / allMS
	}
	r.HitRatio, r.HaveHit = cacheHitRatio(hit, read)
	r.Slow = isSlow(r.MeanMS, calls, a.cfg.SlowQueryMean, a.cfg.SlowQueryCalls)
	return r
}

// isSlow is the slow-query rule: a mean of at least mean over at least
// calls calls.
func isSlow(meanMS float64, n int64, mean time.Duration, calls int64) bool {
	return n >= calls && meanMS >= float64(mean.Microseconds())/1000
}

func countSlow(rows []pages.OpsQueryRow) int {
	n := 0
	for _, r := range rows {
		if r.Slow {
			n++
		}
	}
	return n
}

// statStatementsSetup checks that pg_stat_statements is installed here;
// nil when it is (whether its library is loaded shows when it is read).
func (a *App) statStatementsSetup(ctx context.Context) *pages.StatStatementsSetup {
	var st db.StatStatementsStatusRow
	err := opsRead(ctx, a.opsDB, func(ctx context.Context, q *db.Queries) (err error) {
		st, err = q.StatStatementsStatus(ctx)
		return err
	})
	if err != nil {
		return nil // the reading that follows fails too, and says why
	}
	switch {
	case !st.Available:
		return setupSteps(st.Database, "The pg_stat_statements module is not installed on the database server.", true, true)
	case st.SchemaName == "":
		return setupSteps(st.Database, "The pg_stat_statements extension is not created in the database "+st.Database+".", true, false)
	}
	return nil
}

// statStatementsError turns an error reading pg_stat_statements into setup
// steps when it means the module is not (fully) set up.
func (a *App) statStatementsError(err error) *pages.StatStatementsSetup {
	switch db.SQLState(err) {
	case "55000":
		return setupSteps("", "pg_stat_statements is created in this database, but its library is not loaded: it must be in shared_preload_libraries, which takes a restart.", false, false)
	case "42P01", "42883":
		return setupSteps("", "pg_stat_statements is not found: the extension is not created in this database, or its schema is not on the search_path.", true, false)
	case "42501":
		return &pages.StatStatementsSetup{Problem: "hris's database role may not read pg_stat_statements.",
			Steps: []pages.SetupStep{{Text: "As a superuser, let it read the statistics of every role:", Code: "GRANT pg_read_all_stats TO hris;"}}}
	}
	return nil
}

// setupSteps is how to enable pg_stat_statements, from wherever it stands.
func setupSteps(database, problem string, create, install bool) *pages.StatStatementsSetup {
	s := &pages.StatStatementsSetup{Problem: problem, Database: database}
	if install {
		s.Steps = append(s.Steps, pages.SetupStep{Text: "Install PostgreSQL's contrib modules on the database server (Debian and Ubuntu ship them in the postgresql package; on Red Hat it is postgresql-contrib)."})
	}
	s.Steps = append(s.Steps,
		pages.SetupStep{Text: "Load the library at server start: in postgresql.conf (add it to the list if there is one already), or with", Code: "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements';"},
		pages.SetupStep{Text: "Restart PostgreSQL (a reload is not enough for shared_preload_libraries)."},
	)
	if create {
		where := "in hris's database"
		if database != "" {
			where = "in the database " + database
		}
		s.Steps = append(s.Steps, pages.SetupStep{Text: "As a superuser, " + where + ":", Code: "CREATE EXTENSION IF NOT EXISTS pg_stat_statements;"})
	}
	s.Steps = append(s.Steps, pages.SetupStep{Text: "Reload this page. `hris dev` and the test clusters do all of this themselves."})
	return s
}

// queryIDFromURL parses {queryid}: pg_stat_statements' ids are signed 64-bit.
func queryIDFromURL(r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(chi.URLParam(r, "queryid"), 10, 64)
	return id, err == nil
}

// queryDetailPeriods are the detail page's choices: its charts need stored
// history.
var queryDetailPeriods = []period{period1h, period24h, period7d}

func (a *App) opsQueryShow(w http.ResponseWriter, r *http.Request) {
	id, ok := queryIDFromURL(r)
	if !ok {
		a.notFound(w, r)
		return
	}
	p := parsePeriod(r.URL.Query().Get("period"), period24h)
	if p == periodLive {
		p = period24h
	}
	v := pages.OpsQueryView{
		QueryID: id, Period: p.Name, Periods: periodLinks(pages.QueryHref(id, ""), p, "", queryDetailPeriods...),
		Interval: a.cfg.QueryStatsInterval, SlowMean: a.cfg.SlowQueryMean, SlowCalls: a.cfg.SlowQueryCalls,
	}
	ctx, cancel := context.WithTimeout(r.Context(), opsLoadBudget)
	defer cancel()

	// Now, from pg_stat_statements (which may not have it any more).
	var now db.LiveQueryStatRow
	err := opsRead(ctx, a.opsDB, func(ctx context.Context, q *db.Queries) (err error) {
		now, err = q.LiveQueryStat(ctx, id)
		return err
	})
	switch {
	case err == nil:
		v.HaveNow = true
		v.Text = db.ScrubQuery(now.Query)
		v.Now = a.queryRow(id, v.Text, now.Calls, now.TotalMs, now.Rows, now.BlksHit, now.BlksRead, 0)
	case errors.Is(err, db.ErrNotFound):
	case a.statStatementsError(err) != nil:
		v.NowError = "pg_stat_statements cannot be read here: see Queries for how to enable it."
	default:
		v.NowError = a.opsError("pg_stat_statements", err)
	}

	// The period, from the snapshots.
	since := time.Now().Add(-p.Span)
	var (
		text  string
		hist  []db.QueryHistoryRow
		snaps []db.SnapshotTimesRow
		cover db.QuerySnapshotsSinceRow
	)
	err = opsRead(ctx, a.opsDB, func(ctx context.Context, q *db.Queries) (err error) {
		text, err = q.StoredQueryText(ctx, id)
		if err != nil && !errors.Is(err, db.ErrNotFound) {
			return err
		}
		if hist, err = q.QueryHistory(ctx, db.QueryHistoryParams{Queryid: id, Since: since}); err != nil {
			return err
		}
		if snaps, err = q.SnapshotTimes(ctx, since); err != nil {
			return err
		}
		cover, err = q.QuerySnapshotsSince(ctx, since)
		return err
	})
	if err != nil {
		v.HistoryError = a.opsError("the stored query statistics", err)
	}
	if v.Text == "" {
		v.Text = text
	}
	if !v.HaveNow && text == "" && len(hist) == 0 && v.NowError == "" && v.HistoryError == "" {
		a.notFound(w, r)
		return
	}
	if v.Text == "" {
		v.Text = "(text not kept)"
	}
	v.Snapshots, v.Resets, v.RanIn = len(snaps), int(cover.Resets), len(hist)
	v.From, v.To = cover.FirstSince, cover.LastTaken
	a.queryCharts(&v, snaps, hist)
	a.render(w, r, http.StatusOK, pages.OpsQuery(a.page(r, fmt.Sprintf("Query %d", id), "ops"), v))
}

// queryCharts lays one statement's snapshots out as charts: calls per
// minute and mean time, one point per group of snapshots (at most
// sparkPoints), zero where it did not run.
func (a *App) queryCharts(v *pages.OpsQueryView, snaps []db.SnapshotTimesRow, hist []db.QueryHistoryRow) {
	by := make(map[time.Time]db.QueryHistoryRow, len(hist))
	var over struct {
		calls, rows, hit, read int64
		ms                     float64
	}
	for _, h := range hist {
		by[h.At.UTC()] = h
		over.calls += h.Calls
		over.ms += h.TotalMs
		over.rows += h.Rows
		over.hit += h.BlksHit
		over.read += h.BlksRead
	}
	v.Over = a.queryRow(v.QueryID, v.Text, over.calls, over.ms, over.rows, over.hit, over.read, 0)
	n := len(snaps)
	groups := min(n, sparkPoints)
	if groups == 0 {
		return
	}
	calls, mean := make([]float64, groups), make([]float64, groups)
	var span float64
	for g := range groups {
		lo, hi := g*n/groups, (g+1)*n/groups
		var c int64
		var ms, secs float64
		for _, s := range snaps[lo:hi] {
			secs += s.Seconds
			if h, ok := by[s.At.UTC()]; ok {
				c += h.Calls
				ms += h.TotalMs
			}
		}
		calls[g] = perMinute(float64(c), secs)
		if c > 0 {
			mean[g] = ms / float64(c)
		}
		v.PeakCalls, v.PeakMean = max(v.PeakCalls, calls[g]), max(v.PeakMean, mean[g])
		span += secs
	}
	v.Step = (time.Duration(span/float64(groups)) * time.Second).Round(time.Second)
	v.Calls = components.Spark{Values: calls, Label: "Calls per minute of this statement, per snapshot interval"}
	v.Mean = components.Spark{Values: mean, Label: "Mean time in milliseconds per call, per snapshot interval"}
}
