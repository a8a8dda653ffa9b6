package web

import (
	"time"

	"hris/db"
)

// The arithmetic of the ops dashboard: turning the sampler's cumulative
// pool counters into rates and 15 minutes of 1 s samples into chart points,
// and sizing the pool against the server's connection limit. Kept apart
// from the handlers so it is tested without a database.

// sparkPoints is how many points a 15-minute sparkline gets: one per 7.5 s
// from 900 samples, plenty for a chart a few hundred pixels wide.
const sparkPoints = 120

// downsample reduces vals to at most n points by splitting them into n
// nearly equal buckets and reducing each with agg. Fewer than n values are
// returned as they are.
func downsample(vals []float64, n int, agg func([]float64) float64) []float64 {
	if n <= 0 || len(vals) <= n {
		return append([]float64(nil), vals...)
	}
	out := make([]float64, n)
	for i := range n {
		lo, hi := i*len(vals)/n, (i+1)*len(vals)/n
		out[i] = agg(vals[lo:hi])
	}
	return out
}

// peak keeps a bucket's largest value, so a one-second spike of a gauge
// stays visible in a 15-minute chart.
func peak(vals []float64) float64 {
	m := vals[0]
	for _, v := range vals[1:] {
		m = max(m, v)
	}
	return m
}

// mean averages a bucket: the right reduction for rates, whose mean over
// the bucket is the rate over the bucket's time.
func mean(vals []float64) float64 {
	var sum float64
	for _, v := range vals {
		sum += v
	}
	return sum / float64(len(vals))
}

// counterFunc reads one cumulative counter from a pool sample.
type counterFunc func(db.PoolSample) float64

var (
	acquires        counterFunc = func(s db.PoolSample) float64 { return float64(s.AcquireCount) }
	acquireMillis   counterFunc = func(s db.PoolSample) float64 { return float64(s.AcquireDuration.Microseconds()) / 1000 }
	emptyAcquires   counterFunc = func(s db.PoolSample) float64 { return float64(s.EmptyAcquireCount) }
	canceledAcquire counterFunc = func(s db.PoolSample) float64 { return float64(s.CanceledAcquireCount) }
	newConns        counterFunc = func(s db.PoolSample) float64 { return float64(s.NewConns) }
	destroys        counterFunc = func(s db.PoolSample) float64 { return float64(s.LifetimeDestroys + s.IdleDestroys) }
)

// perSecond turns a cumulative counter into the rate between each pair of
// consecutive samples (len(samples)-1 values). A counter that went
// backwards (the pool was rebuilt) or samples out of order count as zero.
func perSecond(samples []db.PoolSample, counter counterFunc) []float64 {
	if len(samples) < 2 {
		return nil
	}
	out := make([]float64, len(samples)-1)
	for i := 1; i < len(samples); i++ {
		dt := samples[i].At.Sub(samples[i-1].At).Seconds()
		dv := counter(samples[i]) - counter(samples[i-1])
		if dt > 0 && dv > 0 {
			out[i-1] = dv / dt
		}
	}
	return out
}

// window returns the first and last sample of the trailing span d of
// samples (oldest first), and whether there are two distinct ones.
func window(samples []db.PoolSample, d time.Duration) (first, last db.PoolSample, ok bool) {
	if len(samples) < 2 {
		return first, last, false
	}
	last = samples[len(samples)-1]
	first = samples[0]
	for i := len(samples) - 2; i >= 0; i-- {
		first = samples[i]
		if last.At.Sub(samples[i].At) >= d {
			break
		}
	}
	return first, last, last.At.After(first.At)
}

// deltaOver is how much counter grew over the trailing span d (or over the
// whole history when it is shorter), and the span actually covered.
func deltaOver(samples []db.PoolSample, d time.Duration, counter counterFunc) (delta float64, span time.Duration, ok bool) {
	first, last, ok := window(samples, d)
	if !ok {
		return 0, 0, false
	}
	return max(counter(last)-counter(first), 0), last.At.Sub(first.At), true
}

// rateOver is counter's average rate per second over the trailing span d.
func rateOver(samples []db.PoolSample, d time.Duration, counter counterFunc) (float64, bool) {
	delta, span, ok := deltaOver(samples, d, counter)
	if !ok {
		return 0, false
	}
	return delta / span.Seconds(), true
}

// avgAcquireMillis is the mean time one acquire took over the trailing
// span d; ok is false when there were no acquires to average.
func avgAcquireMillis(samples []db.PoolSample, d time.Duration) (float64, bool) {
	n, _, ok := deltaOver(samples, d, acquires)
	if !ok || n == 0 {
		return 0, false
	}
	ms, _, _ := deltaOver(samples, d, acquireMillis)
	return ms / n, true
}

// poolSizing answers "how many instances of hris does this server take,
// and could this one exhaust it?" from the server's limits and the pools'
// configured sizes.
type poolSizing struct {
	MaxConnections int32 // server's max_connections
	Reserved       int32 // superuser_reserved_connections
	PerInstance    int32 // connections one instance may open: main pool + ops pool
	Instances      int32 // instances like this one that fit
	InUse          int32 // client connections open on the server now (all databases)
	Own            int32 // of which this instance's pools hold
	Headroom       int32 // more connections this instance may still open
	Free           int32 // connections the server can still accept from non-superusers
	FewInstances   bool  // fewer than two instances fit: no room for a rolling deploy
	CanExhaust     bool  // this instance growing to its limit would run the server out
}

func sizePools(maxConnections, reserved, perInstance, inUse, own int32) poolSizing {
	s := poolSizing{MaxConnections: maxConnections, Reserved: reserved, PerInstance: perInstance, InUse: inUse, Own: own}
	usable := max(maxConnections-reserved, 0)
	if perInstance > 0 {
		s.Instances = usable / perInstance
	}
	s.Headroom = max(perInstance-own, 0)
	s.Free = max(usable-inUse, 0)
	s.FewInstances = s.Instances < 2
	s.CanExhaust = inUse+s.Headroom > usable
	return s
}

// dbSample is one reading of pg_stat_database for this database.
type dbSample struct {
	At time.Time
	db.OpsDatabaseRow
}

// dbRates are the database panel's figures derived from two samples.
type dbRates struct {
	Span             time.Duration // time between the two samples
	CommitsPerSec    float64
	RollbacksPerSec  float64
	RecentDeadlocks  int64
	RecentSpan       time.Duration // time the recent deadlock count covers
	RecentTempFiles  int64
	HaveRates        bool
	HaveRecentCounts bool
}

// dbRateWindow is how far back the transaction rates look: long enough to
// smooth PostgreSQL's once-a-second statistics flushes, short enough to
// follow a change.
const dbRateWindow = 10 * time.Second

// dbHistory keeps 15 minutes of pg_stat_database samples (taken whenever
// the panel is loaded) for rates and the recent deadlock count.
const dbHistory = 15 * time.Minute

// rates compares the newest sample with the one about dbRateWindow older
// (or the oldest kept) for rates, and with the oldest kept for the
// recent counts.
func dbRatesOf(samples []dbSample) dbRates {
	var r dbRates
	if len(samples) < 2 {
		return r
	}
	last := samples[len(samples)-1]
	base := samples[0]
	for i := len(samples) - 2; i >= 0; i-- {
		base = samples[i]
		if last.At.Sub(base.At) >= dbRateWindow {
			break
		}
	}
	if dt := last.At.Sub(base.At); dt > 0 {
		r.Span = dt
		r.CommitsPerSec = float64(max(last.XactCommit-base.XactCommit, 0)) / dt.Seconds()
		r.RollbacksPerSec = float64(max(last.XactRollback-base.XactRollback, 0)) / dt.Seconds()
		r.HaveRates = true
	}
	first := samples[0]
	if dt := last.At.Sub(first.At); dt > 0 {
		r.RecentSpan = dt
		r.RecentDeadlocks = max(last.Deadlocks-first.Deadlocks, 0)
		r.RecentTempFiles = max(last.TempFiles-first.TempFiles, 0)
		r.HaveRecentCounts = true
	}
	return r
}

// addDBSample appends s to history, dropping samples older than dbHistory
// and all of them when the statistics were reset in between.
func addDBSample(history []dbSample, s dbSample) []dbSample {
	if n := len(history); n > 0 && !sameReset(history[n-1].StatsReset, s.StatsReset) {
		history = history[:0]
	}
	cut := 0
	for cut < len(history) && s.At.Sub(history[cut].At) > dbHistory {
		cut++
	}
	history = append(history[cut:], s)
	return history
}

func sameReset(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Equal(*b)
}

// cacheHitRatio is the share of block reads served from shared buffers.
func cacheHitRatio(hit, read int64) (float64, bool) {
	if hit+read == 0 {
		return 0, false
	}
	return float64(hit) / float64(hit+read), true
}

// dbSeries is the commit and rollback rate between each pair of
// consecutive samples, for the database panel's charts.
func dbSeries(samples []dbSample) (commits, rollbacks []float64) {
	for i := 1; i < len(samples); i++ {
		dt := samples[i].At.Sub(samples[i-1].At).Seconds()
		if dt <= 0 {
			continue
		}
		commits = append(commits, float64(max(samples[i].XactCommit-samples[i-1].XactCommit, 0))/dt)
		rollbacks = append(rollbacks, float64(max(samples[i].XactRollback-samples[i-1].XactRollback, 0))/dt)
	}
	return commits, rollbacks
}
