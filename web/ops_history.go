package web

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"hris/views/components"
	"hris/views/pages"
	"hris/views/partials"
)

// The /ops charts over a stored period (?period=1h|24h|7d): the pool,
// database and fleet panels read pool_history and server_history, in
// buckets that give about a hundred points whatever the period.

// poolHistoryView is the pool panel's history for p, from this
// instance's rows and the fleet's.
func (a *App) poolHistoryView(ctx context.Context, p period) *partials.OpsPoolHistory {
	h := &partials.OpsPoolHistory{Label: p.Label, Step: p.Bucket}
	rows, _, err := a.ops.poolHistory[p.Name].get(ctx)
	if err != nil {
		h.Error = a.opsError("the pool history", err)
		return h
	}
	start, n := p.grid(time.Now())
	inUse, wait, waited := make([]float64, n), make([]float64, n), make([]float64, n)
	fleet, fleetMax, unavailable := make([]float64, n), make([]float64, n), make([]float64, n)
	instances := map[string]bool{}
	first := n
	for _, r := range rows {
		i := slot(start, r.Bucket, p.Bucket, n)
		if i < 0 {
			continue
		}
		first = min(first, i)
		instances[r.InstanceID] = true
		fleet[i] += r.InUseAvg
		fleetMax[i] += float64(r.MaxConns)
		unavailable[i] += perMinute(float64(r.Unavailable), r.Seconds)
		h.UnavailableTotal += r.Unavailable
		if r.InstanceID != a.cfg.InstanceID {
			continue
		}
		inUse[i] = float64(r.InUseMax)
		if r.Seconds > 0 {
			wait[i] = r.WaitMs / r.Seconds
		}
		waited[i] = perMinute(float64(r.Waited), r.Seconds)
		h.PeakInUse = max(h.PeakInUse, r.InUseMax)
		h.Max = max(h.Max, r.MaxConns)
		h.WaitedTotal += r.Waited
	}
	if h.Max == 0 {
		h.Max = a.db.Config().MaxConns
	}
	for i := range fleet {
		h.FleetPeak = max(h.FleetPeak, fleet[i])
		h.FleetMax = max(h.FleetMax, int32(fleetMax[i]))
	}
	h.Instances = len(instances)
	// The charts begin where the history does: no data is not zero.
	first = min(first, n-1)
	h.From = start.Add(time.Duration(first) * p.Bucket)
	inUse, wait, waited, fleet, unavailable = inUse[first:], wait[first:], waited[first:], fleet[first:], unavailable[first:]
	h.InUse = components.Spark{Values: inUse, Limit: float64(h.Max),
		Label: fmt.Sprintf("Peak connections in use on this instance over the last %s; at most %d of %d", p.Label, h.PeakInUse, h.Max)}
	h.Wait = components.Spark{Values: wait, Label: "Milliseconds spent waiting for a connection per second, last " + p.Label}
	h.Waited = components.Spark{Values: waited, Label: "Acquires per minute that found no idle connection, last " + p.Label}
	h.FleetInUse = components.Spark{Values: fleet, Limit: float64(h.FleetMax),
		Label: fmt.Sprintf("Connections in use across %d instances (sum of averages) over the last %s", h.Instances, p.Label)}
	h.Unavailable = components.Spark{Values: unavailable, Label: "Requests answered 503 per minute across the fleet, last " + p.Label}
	return h
}

// instanceHistories is each instance's peak in use over p, for the fleet
// panel; nil when the history cannot be read (the panel says no history).
func (a *App) instanceHistories(ctx context.Context, p period) map[string]components.Spark {
	rows, _, err := a.ops.poolHistory[p.Name].get(ctx)
	if err != nil {
		return nil
	}
	start, n := p.grid(time.Now())
	vals := map[string][]float64{}
	limit := map[string]float64{}
	first := n
	for _, r := range rows {
		i := slot(start, r.Bucket, p.Bucket, n)
		if i < 0 {
			continue
		}
		first = min(first, i)
		v := vals[r.InstanceID]
		if v == nil {
			v = make([]float64, n)
			vals[r.InstanceID] = v
		}
		v[i] = float64(r.InUseMax)
		limit[r.InstanceID] = max(limit[r.InstanceID], float64(r.MaxConns))
	}
	out := make(map[string]components.Spark, len(vals))
	for id, v := range vals {
		out[id] = components.Spark{Values: v[first:], Limit: limit[id],
			Label: fmt.Sprintf("Peak connections in use on %s over the last %s", id, p.Label)}
	}
	return out
}

// serverHistoryView is the database panel's history for p.
func (a *App) serverHistoryView(ctx context.Context, p period) *partials.OpsServerHistory {
	h := &partials.OpsServerHistory{Label: p.Label, Step: p.Bucket}
	rows, _, err := a.ops.serverHistory[p.Name].get(ctx)
	if err != nil {
		h.Error = a.opsError("the server history", err)
		return h
	}
	start, n := p.grid(time.Now())
	commits, rollbacks := make([]float64, n), make([]float64, n)
	active, idleInTx, hit := make([]float64, n), make([]float64, n), make([]float64, n)
	var secs float64
	var nCommits, nRollbacks, nHit, nRead int64
	first := n
	for _, r := range rows {
		i := slot(start, r.Bucket, p.Bucket, n)
		if i < 0 {
			continue
		}
		first = min(first, i)
		if r.Seconds > 0 {
			commits[i] = float64(r.Commits) / r.Seconds
			rollbacks[i] = float64(r.Rollbacks) / r.Seconds
		}
		active[i], idleInTx[i] = r.Active, r.IdleInTx
		if ratio, ok := cacheHitRatio(r.BlksHit, r.BlksRead); ok {
			hit[i] = ratio * 100
		}
		secs += r.Seconds
		nCommits += r.Commits
		nRollbacks += r.Rollbacks
		nHit += r.BlksHit
		nRead += r.BlksRead
		h.PeakActive = max(h.PeakActive, r.Active)
		h.PeakIdleInTx = max(h.PeakIdleInTx, r.IdleInTx)
	}
	if secs > 0 {
		h.HaveRates = true
		h.CommitsPerSec, h.RollbacksPerSec = float64(nCommits)/secs, float64(nRollbacks)/secs
	}
	h.HitRatioAll, h.HaveHit = cacheHitRatio(nHit, nRead)
	first = min(first, n-1)
	h.From = start.Add(time.Duration(first) * p.Bucket)
	commits, rollbacks, active, idleInTx, hit = commits[first:], rollbacks[first:], active[first:], idleInTx[first:], hit[first:]
	h.Commits = components.Spark{Values: commits, Label: "Commits per second over the last " + p.Label}
	h.Rollbacks = components.Spark{Values: rollbacks, Label: "Rollbacks per second over the last " + p.Label}
	h.Active = components.Spark{Values: active, Label: "Sessions of this database running a query, last " + p.Label}
	h.IdleInTx = components.Spark{Values: idleInTx, Label: "Sessions idle in a transaction, last " + p.Label}
	h.HitRatio = components.Spark{Values: hit, Limit: 100, Label: "Cache hit ratio in percent, last " + p.Label}
	return h
}

// periodLinks is a period switch for the page at base; extra (url-encoded,
// "sort=mean") is kept on every link. live, when a period of the page,
// links to base alone.
func periodLinks(base string, cur period, extra string, choices ...period) []pages.PeriodLink {
	if len(choices) == 0 {
		choices = periods
	}
	links := make([]pages.PeriodLink, 0, len(choices))
	for _, p := range choices {
		q := url.Values{}
		if p != periodLive || base != "/ops" {
			q.Set("period", p.Name)
		}
		href := base
		if enc := q.Encode(); enc != "" {
			href += "?" + enc
			if extra != "" {
				href += "&" + extra
			}
		} else if extra != "" {
			href += "?" + extra
		}
		label := p.Label
		if p == periodLive && base != "/ops" {
			label = "Live" // pg_stat_statements now, not the charts' 15 minutes
		}
		links = append(links, pages.PeriodLink{Label: label, Href: href, Current: p == cur})
	}
	return links
}
