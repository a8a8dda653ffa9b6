package web

import (
	"math"
	"slices"
	"testing"
	"time"

	"hris/db"
)

var t0 = time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)

// poolHistory is n samples one second apart whose counters grow by step
// each second.
func poolHistory(n int, step int64) []db.PoolSample {
	out := make([]db.PoolSample, n)
	for i := range out {
		out[i] = db.PoolSample{
			At:                t0.Add(time.Duration(i) * time.Second),
			Max:               10,
			Acquired:          int32(i % 7),
			AcquireCount:      int64(i) * step,
			AcquireDuration:   time.Duration(int64(i)*step) * time.Millisecond,
			EmptyAcquireCount: int64(i) * step / 2,
		}
	}
	return out
}

func TestSparkDownsample(t *testing.T) {
	vals := make([]float64, 900)
	vals[451] = 20 // a one-second spike
	for i := range vals {
		vals[i] += float64(i % 3)
	}
	got := downsample(vals, sparkPoints, peak)
	if len(got) != sparkPoints {
		t.Fatalf("900 samples became %d points, want %d", len(got), sparkPoints)
	}
	if slices.Max(got) != 21 {
		t.Errorf("peak downsampling lost the spike: max %v", slices.Max(got))
	}
	vals = append(vals, make([]float64, 60)...) // 960 = 120 buckets of 8
	avg := downsample(vals, sparkPoints, mean)
	if total := mean(avg); math.Abs(total-mean(vals)) > 1e-9 {
		t.Errorf("mean of averaged buckets %v, want the overall mean %v (equal buckets)", total, mean(vals))
	}
	short := []float64{1, 2, 3}
	if got := downsample(short, sparkPoints, mean); !slices.Equal(got, short) {
		t.Errorf("fewer samples than points must pass through: %v", got)
	}
	// Uneven division still covers every value exactly once.
	if got := downsample([]float64{1, 1, 1, 1, 1, 1, 1}, 3, func(b []float64) float64 { return float64(len(b)) }); mean(got)*3 != 7 {
		t.Errorf("buckets %v do not cover 7 values", got)
	}
}

func TestSparkPerSecond(t *testing.T) {
	h := poolHistory(5, 4)
	got := perSecond(h, acquires)
	if !slices.Equal(got, []float64{4, 4, 4, 4}) {
		t.Errorf("perSecond = %v, want 4/s between each pair", got)
	}
	// A counter that goes back (a new pool) is not a negative rate, and a
	// two-second gap halves the rate.
	h[2].AcquireCount = 0
	h[4].At = h[4].At.Add(time.Second)
	got = perSecond(h, acquires)
	if got[1] != 0 || got[2] != 12 || got[3] != 2 {
		t.Errorf("perSecond with reset and gap = %v, want [4 0 12 2]", got)
	}
	if perSecond(h[:1], acquires) != nil {
		t.Error("one sample has no rate")
	}
}

func TestOpsRatesOverWindow(t *testing.T) {
	h := poolHistory(300, 6) // five minutes
	r, ok := rateOver(h, time.Minute, acquires)
	if !ok || r != 6 {
		t.Errorf("rateOver last minute = %v %v, want 6/s", r, ok)
	}
	r, _ = rateOver(h, time.Minute, emptyAcquires)
	if r != 3 {
		t.Errorf("empty acquires = %v/s, want 3", r)
	}
	ms, ok := avgAcquireMillis(h, time.Minute)
	if !ok || ms != 1 {
		t.Errorf("avg acquire = %v ms %v, want 1 ms (6 ms of acquiring for 6 acquires a second)", ms, ok)
	}
	d, span, _ := deltaOver(h, time.Minute, acquires)
	if d != 360 || span != time.Minute {
		t.Errorf("deltaOver = %v over %v, want 360 over 1m", d, span)
	}
	// Less history than the window: the whole history is used.
	d, span, _ = deltaOver(h[:11], time.Minute, acquires)
	if d != 60 || span != 10*time.Second {
		t.Errorf("short history: %v over %v, want 60 over 10s", d, span)
	}
	if _, ok := rateOver(h[:1], time.Minute, acquires); ok {
		t.Error("one sample cannot give a rate")
	}
	idle := poolHistory(120, 0)
	if _, ok := avgAcquireMillis(idle, time.Minute); ok {
		t.Error("no acquires: the average wait is unknown, not zero")
	}
}

func TestOpsPoolSizing(t *testing.T) {
	// 100 connections, 3 reserved, 20+2 per instance: 4 instances fit.
	s := sizePools(100, 3, 22, 30, 5)
	if s.Instances != 4 || s.FewInstances || s.CanExhaust || s.Headroom != 17 || s.Free != 67 {
		t.Errorf("roomy server: %+v", s)
	}
	// The seed's setup: a server that fits one instance.
	s = sizePools(25, 3, 22, 10, 2)
	if s.Instances != 1 || !s.FewInstances {
		t.Errorf("one instance fits: %+v", s)
	}
	// Other clients use most connections: our remaining 20 would exhaust it.
	s = sizePools(100, 3, 22, 80, 2)
	if !s.CanExhaust || s.Instances != 4 {
		t.Errorf("busy server: %+v", s)
	}
	if s := sizePools(10, 3, 0, 0, 0); s.Instances != 0 {
		t.Errorf("zero pool size must not divide by zero: %+v", s)
	}
}

func TestOpsDatabaseRates(t *testing.T) {
	mk := func(sec int, commits, rollbacks, deadlocks int64) dbSample {
		s := dbSample{At: t0.Add(time.Duration(sec) * time.Second)}
		s.XactCommit, s.XactRollback, s.Deadlocks = commits, rollbacks, deadlocks
		return s
	}
	var h []dbSample
	if r := dbRatesOf(h); r.HaveRates {
		t.Error("no samples, no rates")
	}
	h = addDBSample(h, mk(0, 100, 10, 1))
	if r := dbRatesOf(h); r.HaveRates {
		t.Error("one sample, no rates")
	}
	h = addDBSample(h, mk(2, 140, 12, 1))
	r := dbRatesOf(h)
	if !r.HaveRates || r.CommitsPerSec != 20 || r.RollbacksPerSec != 1 || r.Span != 2*time.Second {
		t.Errorf("two samples: %+v", r)
	}
	for sec := 4; sec <= 30; sec += 2 {
		h = addDBSample(h, mk(sec, 100+int64(sec)*20, 10, int64(1+sec/10)))
	}
	r = dbRatesOf(h)
	if r.Span != dbRateWindow || r.CommitsPerSec != 20 || r.RecentDeadlocks != 3 || r.RecentSpan != 30*time.Second {
		t.Errorf("rates over the window: %+v", r)
	}
	// History is trimmed to dbHistory.
	h = addDBSample(h, mk(int(dbHistory.Seconds())+10, 100000, 10, 9))
	if h[0].At.Before(t0.Add(10 * time.Second)) {
		t.Errorf("history kept a sample from %v", h[0].At)
	}
	// A statistics reset drops the history instead of giving negative rates.
	reset := t0.Add(time.Hour)
	s := mk(int(dbHistory.Seconds())+12, 5, 0, 0)
	s.StatsReset = &reset
	if h = addDBSample(h, s); len(h) != 1 {
		t.Errorf("after a stats reset %d samples kept, want 1", len(h))
	}
	if _, ok := cacheHitRatio(0, 0); ok {
		t.Error("no reads: hit ratio unknown")
	}
	if r, _ := cacheHitRatio(99, 1); r != 0.99 {
		t.Errorf("hit ratio %v", r)
	}
}

func TestSparkDatabaseSeries(t *testing.T) {
	var h []dbSample
	for i, c := range []int64{10, 30, 30, 90} {
		s := dbSample{At: t0.Add(time.Duration(i*2) * time.Second)}
		s.XactCommit, s.XactRollback = c, int64(i)
		h = append(h, s)
	}
	commits, rollbacks := dbSeries(h)
	if !slices.Equal(commits, []float64{10, 0, 30}) || !slices.Equal(rollbacks, []float64{0.5, 0.5, 0.5}) {
		t.Errorf("dbSeries = %v %v", commits, rollbacks)
	}
	if c, r := dbSeries(h[:1]); c != nil || r != nil {
		t.Error("one sample has no series")
	}
}
