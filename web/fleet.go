package web

import (
	"context"
	"os"
	"time"

	"hris/db"
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
