package web

import (
	"slices"
	"testing"
	"time"

	"hris/db"
)

func TestPoolMinute(t *testing.T) {
	prev := db.PoolSample{At: t0, Acquired: 1, Max: 10, AcquireCount: 100, EmptyAcquireCount: 5,
		AcquireDuration: time.Second, EmptyAcquireWait: 500 * time.Millisecond, CanceledAcquireCount: 2}
	cur := db.PoolSample{At: t0.Add(time.Minute), Acquired: 2, Max: 10, AcquireCount: 160, EmptyAcquireCount: 8,
		AcquireDuration: 4 * time.Second, EmptyAcquireWait: 2 * time.Second, CanceledAcquireCount: 3}
	var samples []db.PoolSample
	for i := range 60 {
		samples = append(samples, db.PoolSample{At: t0.Add(time.Duration(i) * time.Second), Acquired: int32(i % 7)})
	}
	row := poolMinute(samples, prev, cur, 4, t0)
	if row.At != t0 || row.Seconds != 60 || row.MaxConns != 10 {
		t.Errorf("row %+v", row)
	}
	if row.Acquires != 60 || row.Waited != 3 || row.Canceled != 1 || row.Unavailable != 4 {
		t.Errorf("counters: %+v", row)
	}
	if row.AcquireMs != 3000 || row.WaitMs != 1500 {
		t.Errorf("times: acquire %v wait %v", row.AcquireMs, row.WaitMs)
	}
	if row.InUseMax != 6 {
		t.Errorf("peak in use %d, want 6", row.InUseMax)
	}
	// Samples 1..59 (the one at prev is the previous minute's) plus cur.
	var sum float64
	for i := 1; i < 60; i++ {
		sum += float64(i % 7)
	}
	if want := (sum + 2) / 60; row.InUseAvg != want {
		t.Errorf("average in use %v, want %v", row.InUseAvg, want)
	}
	// A pool rebuilt in between (counters back to zero) gives no negatives.
	row = poolMinute(nil, cur, prev, -1, t0)
	if row.Acquires != 0 || row.AcquireMs != 0 || row.Unavailable != 0 || row.Canceled != 0 {
		t.Errorf("negative deltas not clamped: %+v", row)
	}
}

func TestStmtDeltas(t *testing.T) {
	base := []stmtCounters{
		{Queryid: 1, Calls: 10, TotalMs: 100, Rows: 10, BlksHit: 50, BlksRead: 5},
		{Queryid: 2, Calls: 5, TotalMs: 50, Rows: 5},
		{Queryid: 3, Calls: 7, TotalMs: 70},   // idle since
		{Queryid: 4, Calls: 100, TotalMs: 10}, // reset on its own since (pg_stat_statements_reset(0, 0, 4))
		{Queryid: 9, Calls: 1, TotalMs: 1},    // evicted
	}
	cur := []stmtCounters{
		{Queryid: 1, Calls: 13, TotalMs: 160, Rows: 13, BlksHit: 80, BlksRead: 5},
		{Queryid: 2, Calls: 5, TotalMs: 50, Rows: 5},
		{Queryid: 3, Calls: 7, TotalMs: 70},
		{Queryid: 4, Calls: 2, TotalMs: 3},
		{Queryid: 5, Calls: 4, TotalMs: 8}, // new
	}
	c := stmtDeltas(cur, base, false)
	want := []stmtCounters{
		{Queryid: 1, Calls: 3, TotalMs: 60, Rows: 3, BlksHit: 30},
		{Queryid: 4, Calls: 2, TotalMs: 3},
		{Queryid: 5, Calls: 4, TotalMs: 8},
	}
	if !slices.Equal(c.Deltas, want) {
		t.Errorf("deltas\n got %+v\nwant %+v", c.Deltas, want)
	}
	if c.Calls != 9 || c.TotalMs != 71 || c.Restarted != 1 {
		t.Errorf("totals: calls %d, ms %v, restarted %d", c.Calls, c.TotalMs, c.Restarted)
	}
	var changed []int64
	for _, s := range c.Changed {
		changed = append(changed, s.Queryid)
	}
	if !slices.Equal(changed, []int64{1, 4, 5}) || !slices.Equal(c.Gone, []int64{9}) {
		t.Errorf("baseline update: changed %v, gone %v", changed, c.Gone)
	}

	// After a full reset everything counted now is new, whatever the
	// baseline says, and no delta is ever negative.
	c = stmtDeltas(cur, base, true)
	if len(c.Deltas) != len(cur) || c.Calls != 31 {
		t.Errorf("after a reset: %d deltas, %d calls; want all %d statements, 31 calls", len(c.Deltas), c.Calls, len(cur))
	}
	for _, d := range append(c.Deltas, stmtDeltas(cur, base, false).Deltas...) {
		if d.Calls < 0 || d.TotalMs < 0 || d.Rows < 0 || d.BlksHit < 0 || d.BlksRead < 0 {
			t.Errorf("negative delta %+v", d)
		}
	}
	// A statement whose calls grew but whose time shrank (reset, then ran
	// past its old count) is clamped, not negative.
	c = stmtDeltas([]stmtCounters{{Queryid: 1, Calls: 20, TotalMs: 5}}, base[:1], false)
	if c.Deltas[0].TotalMs != 0 || c.Deltas[0].Calls != 10 {
		t.Errorf("clamped delta %+v", c.Deltas[0])
	}
}

func TestServerDeltas(t *testing.T) {
	reset := t0.Add(-time.Hour)
	last := db.LastServerHistoryRow{At: t0, CommitsTotal: 100, RollbacksTotal: 10, BlksHitTotal: 1000, BlksReadTotal: 50, StatsReset: &reset}
	row := func(at time.Time, commits int64, r *time.Time) db.InsertServerHistoryParams {
		return db.InsertServerHistoryParams{At: at, CommitsTotal: commits, RollbacksTotal: 12, BlksHitTotal: 1500, BlksReadTotal: 55, StatsReset: r}
	}
	p := row(t0.Add(time.Minute), 160, &reset)
	serverDeltas(&p, last, true, time.Minute)
	if p.Seconds == nil || *p.Seconds != 60 || *p.Commits != 60 || *p.Rollbacks != 2 || *p.BlksHit != 500 || *p.BlksRead != 5 {
		t.Fatalf("deltas: %+v", p)
	}
	later := reset.Add(time.Minute)
	for name, p := range map[string]db.InsertServerHistoryParams{
		"statistics reset":      row(t0.Add(time.Minute), 5, &later),
		"counter went back":     row(t0.Add(time.Minute), 50, &reset),
		"gap of four steps":     row(t0.Add(4*time.Minute), 500, &reset),
		"not after the last":    row(t0, 500, &reset),
		"reset time now known":  row(t0.Add(time.Minute), 160, nil),
		"first row (none last)": row(t0.Add(time.Minute), 160, &reset),
	} {
		serverDeltas(&p, last, name != "first row (none last)", time.Minute)
		if p.Seconds != nil || p.Commits != nil {
			t.Errorf("%s: deltas %v, want none", name, *p.Commits)
		}
	}
}

func TestPeriodGrid(t *testing.T) {
	now := time.Date(2025, 3, 4, 10, 17, 30, 0, time.UTC)
	start, n := period24h.grid(now)
	if start.Sub(bucketOrigin)%period24h.Bucket != 0 || start.After(now.Add(-24*time.Hour)) || n != 121 {
		t.Errorf("24h grid: start %s, %d buckets", start, n)
	}
	if i := slot(start, now.Truncate(12*time.Minute), period24h.Bucket, n); i != n-1 {
		t.Errorf("now is slot %d of %d", i, n)
	}
	if slot(start, start.Add(-time.Minute), period24h.Bucket, n) != -1 || slot(start, now.Add(time.Hour), period24h.Bucket, n) != -1 {
		t.Error("times off the grid got a slot")
	}
	for _, p := range periods[1:] {
		_, n := p.grid(now)
		if n < 60 || n > 130 {
			t.Errorf("%s: %d points", p.Name, n)
		}
	}
	if parsePeriod("24h", periodLive) != period24h || parsePeriod("bogus", periodLive) != periodLive || parsePeriod("", period1h) != period1h {
		t.Error("parsePeriod")
	}
}

func TestSlowRuleAndLinks(t *testing.T) {
	for _, c := range []struct {
		mean  float64
		calls int64
		slow  bool
	}{{20, 100, true}, {19.99, 1000, false}, {500, 99, false}, {25, 150, true}} {
		if got := isSlow(c.mean, c.calls, 20*time.Millisecond, 100); got != c.slow {
			t.Errorf("mean %v ms over %d calls: slow %v, want %v", c.mean, c.calls, got, c.slow)
		}
	}
	links := periodLinks("/ops", period24h, "")
	if links[0].Href != "/ops" || links[2].Href != "/ops?period=24h" || !links[2].Current || links[0].Current {
		t.Errorf("ops links %+v", links)
	}
	links = periodLinks("/ops/queries", periodLive, "sort=mean")
	if links[0].Href != "/ops/queries?period=live&sort=mean" || links[3].Href != "/ops/queries?period=7d&sort=mean" {
		t.Errorf("queries links %+v", links)
	}
	if ttl := leaseTTL(time.Minute); ttl <= 2*time.Minute || ttl > 3*time.Minute {
		t.Errorf("lease TTL for a minute's round: %s", ttl)
	}
}

func TestKeepTop(t *testing.T) {
	var d []stmtCounters
	for i := range 1000 {
		d = append(d, stmtCounters{Queryid: int64(i), Calls: int64(1000 - i), TotalMs: float64(i % 100)})
	}
	// The slowest by mean: one call of a long time.
	d = append(d, stmtCounters{Queryid: 5000, Calls: 1, TotalMs: 99.5})
	kept := keepTop(d, 10)
	ids := map[int64]bool{}
	for _, s := range kept {
		ids[s.Queryid] = true
	}
	if len(kept) > 30 {
		t.Errorf("kept %d, want at most 3 × 10", len(kept))
	}
	for _, want := range []int64{0, 1, 9, 99, 5000} { // most calls; most time (99, 199...); highest mean
		if !ids[want] {
			t.Errorf("statement %d not kept", want)
		}
	}
	if ids[500] {
		t.Error("a statement in no top 10 was kept")
	}
	if got := keepTop(d[:5], 10); len(got) != 5 {
		t.Errorf("fewer than n: kept %d of 5", len(got))
	}
}
