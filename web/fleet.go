package web

import (
	"context"
	"net/http"
	"os"
	"time"

	"hris/db"
	"hris/views/partials"
)

// heartbeatEvery is how often an instance reports itself; an instance not
// heard from for staleAfter is shown as stale on every other instance's /ops.
const (
	heartbeatEvery = 5 * time.Second
	staleAfter     = 15 * time.Second
)

// heartbeat writes this instance's row in app_instances every
// heartbeatEvery until ctx ends, then once more with stopped_at set, so the
// fleet view tells a clean stop from a crash.
func (a *App) heartbeat(ctx context.Context) {
	host, _ := os.Hostname()
	started := time.Now()
	beat := func(ctx context.Context, stopped bool) {
		s := db.SamplePool(a.db.Pool)
		p := db.HeartbeatParams{
			InstanceID:           a.cfg.InstanceID,
			Host:                 host,
			Version:              a.cfg.Version,
			ExecMode:             a.db.Config().ExecMode,
			StartedAt:            started,
			MaxConns:             s.Max,
			OpsMaxConns:          a.opsDB.Config().MaxConns,
			TotalConns:           s.Total,
			AcquiredConns:        s.Acquired,
			IdleConns:            s.Idle,
			AcquireCount:         s.AcquireCount,
			EmptyAcquireCount:    s.EmptyAcquireCount,
			CanceledAcquireCount: s.CanceledAcquireCount,
			EmptyAcquireWaitMs:   float64(s.EmptyAcquireWait.Microseconds()) / 1000,
			Retries:              a.db.Retries.Total(),
		}
		if a.opsDB == a.db {
			p.OpsMaxConns = 0
		}
		if stopped {
			now := time.Now()
			p.StoppedAt = &now
		}
		err := a.db.InTxIdempotent(ctx, func(ctx context.Context, q *db.Queries) error {
			return q.Heartbeat(ctx, p)
		})
		if err != nil && ctx.Err() == nil {
			a.log.Debug("heartbeat failed", "err", err)
		}
	}
	beat(ctx, false)
	t := time.NewTicker(heartbeatEvery)
	defer t.Stop()
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			final, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			beat(final, true)
			cancel()
			return
		case <-t.C:
			beat(ctx, false)
			if n%720 == 0 { // hourly: forget instances gone for a day
				_ = a.db.InTx(ctx, func(ctx context.Context, q *db.Queries) error {
					_, err := q.ForgetOldInstances(ctx)
					return err
				})
			}
		}
	}
}

// fleetCache reads app_instances at most once a second however many admins
// watch, like the other /ops panels.
func newFleetCache(ops *db.DB, d *opsDashboard) *reading[[]db.FleetInstancesRow] {
	return newOpsReading(func(ctx context.Context) (rows []db.FleetInstancesRow, err error) {
		err = opsRead(ctx, ops, func(ctx context.Context, q *db.Queries) (err error) {
			d.statements.Add(1)
			rows, err = q.FleetInstances(ctx)
			return err
		})
		return rows, err
	})
}

// fleetView is the fleet panel: every instance's pool side by side and
// their sum against the server's (and PgBouncer's) connection limits.
func (a *App) fleetView(ctx context.Context) partials.OpsFleetView {
	rows, at, err := a.ops.fleet.get(ctx)
	v := partials.OpsFleetView{UpdatedAt: at, Self: a.cfg.InstanceID, PgBouncerPool: a.cfg.PgBouncerPoolSize}
	if err != nil {
		v.Error = a.opsError("fleet", err)
		return v
	}
	if act, _, err := a.ops.activity.get(ctx); err == nil {
		v.ServerMax, v.Reserved = act.server.MaxConnections, act.server.ReservedConnections
	}
	for _, r := range rows {
		in := partials.OpsInstance{
			ID: r.InstanceID, Host: r.Host, Version: r.Version, ExecMode: r.ExecMode,
			StartedAt: r.StartedAt, SeenAgo: time.Duration(r.SecondsSinceSeen * float64(time.Second)),
			MaxConns: r.MaxConns, OpsMaxConns: r.OpsMaxConns, Total: r.TotalConns, Acquired: r.AcquiredConns,
			Idle: r.IdleConns, EmptyAcquires: r.EmptyAcquireCount, Canceled: r.CanceledAcquireCount,
			WaitMS: r.EmptyAcquireWaitMs, Retries: r.Retries, Self: r.InstanceID == a.cfg.InstanceID,
		}
		switch {
		case r.StoppedAt != nil:
			in.State = "stopped"
		case in.SeenAgo > staleAfter:
			in.State = "stale"
		default:
			in.State = "live"
			v.Live++
			v.FleetMain += r.MaxConns
			v.FleetOps += r.OpsMaxConns
		}
		v.Instances = append(v.Instances, in)
	}
	v.Assess()
	return v
}

func (a *App) fleetPartial(w http.ResponseWriter, r *http.Request) {
	v := a.fleetPanel(r.Context(), parsePeriod(r.URL.Query().Get("period"), periodLive))
	a.render(w, r, panelStatus(r, v.Error != ""), partials.OpsFleet(v))
}
