package web

import (
	"cmp"
	"slices"
	"time"

	"hris/db"
)

// The arithmetic of the history: a minute of pool samples folded into one
// row, pg_stat_statements' cumulative counters turned into deltas that are
// never negative, server counters likewise, and stored rows laid out on a
// time grid for the charts. Kept apart from the loops so it is tested
// without a database.

// poolMinute folds the pool's figures between two readings (prev and cur,
// one step apart) into one history row: gauges from the sampler's 1 s
// samples in between, counters as the change from prev to cur.
func poolMinute(samples []db.PoolSample, prev, cur db.PoolSample, unavailable int64, at time.Time) db.InsertPoolHistoryParams {
	row := db.InsertPoolHistoryParams{
		At:          at,
		Seconds:     cur.At.Sub(prev.At).Seconds(),
		MaxConns:    cur.Max,
		InUseMax:    cur.Acquired,
		Acquires:    max(cur.AcquireCount-prev.AcquireCount, 0),
		Waited:      max(cur.EmptyAcquireCount-prev.EmptyAcquireCount, 0),
		AcquireMs:   max(float64((cur.AcquireDuration-prev.AcquireDuration).Microseconds())/1000, 0),
		WaitMs:      max(float64((cur.EmptyAcquireWait-prev.EmptyAcquireWait).Microseconds())/1000, 0),
		Canceled:    max(cur.CanceledAcquireCount-prev.CanceledAcquireCount, 0),
		Unavailable: max(unavailable, 0),
	}
	sum, n := float64(cur.Acquired), 1
	for _, s := range samples {
		if s.At.After(prev.At) && s.At.Before(cur.At) {
			sum += float64(s.Acquired)
			n++
			row.InUseMax = max(row.InUseMax, s.Acquired)
		}
	}
	row.InUseAvg = sum / float64(n)
	return row
}

// stmtCounters is one statement's pg_stat_statements counters: cumulative
// as read, or their change over an interval.
// Its fields are named as sqlc names the columns, so rows convert.
type stmtCounters struct {
	Queryid  int64
	Calls    int64
	TotalMs  float64
	Rows     int64
	BlksHit  int64
	BlksRead int64
}

// stmtChanges is what one snapshot stores and updates.
type stmtChanges struct {
	// Deltas are the statements that ran since the baseline, with what
	// they did since; none is negative.
	Deltas []stmtCounters
	// Changed are the current counters that differ from the baseline
	// (the baseline rows to write); Gone are baseline statements
	// pg_stat_statements no longer has.
	Changed []stmtCounters
	Gone    []int64
	// Restarted counts statements whose counters went backwards: their
	// entry was reset or evicted and came back, so all of their current
	// count is new.
	Restarted int
	Calls     int64
	TotalMs   float64
}

// stmtDeltas compares the counters now with the baseline taken at the
// previous snapshot. After a full reset (pg_stat_statements_reset(), or a
// restart that lost the statistics) everything counted now happened since,
// and the baseline is replaced whole. Otherwise each statement's delta is
// now minus the baseline, or all of now when it is new or its counters
// went backwards (its entry was reset or evicted meanwhile).
func stmtDeltas(cur, base []stmtCounters, fullReset bool) stmtChanges {
	var c stmtChanges
	baseBy := make(map[int64]stmtCounters, len(base))
	if !fullReset {
		for _, b := range base {
			baseBy[b.Queryid] = b
		}
	}
	seen := make(map[int64]bool, len(cur))
	for _, s := range cur {
		seen[s.Queryid] = true
		b, ok := baseBy[s.Queryid]
		d := s
		switch {
		case !ok:
		case s.Calls < b.Calls:
			c.Restarted++
		default:
			d = stmtCounters{
				Queryid:  s.Queryid,
				Calls:    s.Calls - b.Calls,
				TotalMs:  max(s.TotalMs-b.TotalMs, 0),
				Rows:     max(s.Rows-b.Rows, 0),
				BlksHit:  max(s.BlksHit-b.BlksHit, 0),
				BlksRead: max(s.BlksRead-b.BlksRead, 0),
			}
		}
		if !ok || s != b {
			c.Changed = append(c.Changed, s)
		}
		if d.Calls > 0 {
			c.Deltas = append(c.Deltas, d)
			c.Calls += d.Calls
			c.TotalMs += d.TotalMs
		}
	}
	for _, b := range base {
		if !seen[b.Queryid] {
			c.Gone = append(c.Gone, b.Queryid)
		}
	}
	return c
}

// maxPerOrder bounds a snapshot whatever pg_stat_statements.max is: it
// stores the top maxPerOrder statements of its interval by each order of
// /ops/queries (total time, calls, mean time), at most three times as many
// rows; the others count in the snapshot's totals only.
const maxPerOrder = 200

// keepTop is the deltas a snapshot stores one by one: the top n by total
// time, by calls and by mean time, in their original order.
func keepTop(d []stmtCounters, n int) []stmtCounters {
	if len(d) <= n {
		return d
	}
	mean := func(s stmtCounters) float64 { return s.TotalMs / float64(s.Calls) }
	keep := make(map[int64]bool, 3*n)
	for _, order := range []func(a, b stmtCounters) int{
		func(a, b stmtCounters) int { return cmp.Compare(b.TotalMs, a.TotalMs) },
		func(a, b stmtCounters) int { return cmp.Compare(b.Calls, a.Calls) },
		func(a, b stmtCounters) int { return cmp.Compare(mean(b), mean(a)) },
	} {
		sorted := slices.Clone(d)
		slices.SortStableFunc(sorted, order)
		for _, s := range sorted[:n] {
			keep[s.Queryid] = true
		}
	}
	out := make([]stmtCounters, 0, len(keep))
	for _, s := range d {
		if keep[s.Queryid] {
			out = append(out, s)
		}
	}
	return out
}

// serverDeltas fills in a server history row's deltas from the previous
// row: only when it is recent (at most three steps back, else the delta
// would smear a gap into one point), the statistics were not reset in
// between, and no counter went backwards.
func serverDeltas(p *db.InsertServerHistoryParams, last db.LastServerHistoryRow, haveLast bool, step time.Duration) {
	if !haveLast || !p.At.After(last.At) || p.At.Sub(last.At) > 3*step || !sameReset(last.StatsReset, p.StatsReset) {
		return
	}
	d := []int64{
		p.CommitsTotal - last.CommitsTotal, p.RollbacksTotal - last.RollbacksTotal,
		p.BlksHitTotal - last.BlksHitTotal, p.BlksReadTotal - last.BlksReadTotal,
	}
	for _, v := range d {
		if v < 0 {
			return
		}
	}
	secs := p.At.Sub(last.At).Seconds()
	p.Seconds = &secs
	p.Commits, p.Rollbacks, p.BlksHit, p.BlksRead = &d[0], &d[1], &d[2], &d[3]
}

// period is one choice of the charts' period switch.
type period struct {
	Name   string        // as in ?period=
	Label  string        // as shown
	Span   time.Duration // how far back
	Bucket time.Duration // one chart point per bucket (0: the live charts)
}

var (
	periodLive = period{Name: "live", Label: "15 min", Span: 15 * time.Minute}
	period1h   = period{Name: "1h", Label: "1 h", Span: time.Hour, Bucket: time.Minute}
	period24h  = period{Name: "24h", Label: "24 h", Span: 24 * time.Hour, Bucket: 12 * time.Minute}
	period7d   = period{Name: "7d", Label: "7 d", Span: 7 * 24 * time.Hour, Bucket: 84 * time.Minute}
	periods    = []period{periodLive, period1h, period24h, period7d}
)

// parsePeriod reads ?period=; anything unknown is def.
func parsePeriod(s string, def period) period {
	for _, p := range periods {
		if p.Name == s {
			return p
		}
	}
	return def
}

// bucketOrigin is the origin of date_bin in the history queries.
var bucketOrigin = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// grid is the chart's time axis for a period ending at now: the start of
// the first bucket and the number of buckets.
func (p period) grid(now time.Time) (start time.Time, n int) {
	since := now.Add(-p.Span)
	start = since.Add(-(since.Sub(bucketOrigin) % p.Bucket))
	n = int(now.Sub(start)/p.Bucket) + 1
	return start, n
}

// slot is the index of bucket t on the grid, or -1 off it.
func slot(start, t time.Time, bucket time.Duration, n int) int {
	if t.Before(start) {
		return -1
	}
	i := int(t.Sub(start) / bucket)
	if i >= n {
		return -1
	}
	return i
}

// perMinute is count over secs seconds, per minute.
func perMinute(count float64, secs float64) float64 {
	if secs <= 0 {
		return 0
	}
	return count / secs * 60
}
