package web

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"hris/db"
	"hris/views/partials"
)

// failoverCheckEvery is how often the watcher reads the server's role and
// timeline when nothing told it to look sooner: a move of the primary that
// this process's own connections notice wakes it at once.
const failoverCheckEvery = 5 * time.Second

// replicationData is one reading of the replication panel.
type replicationData struct {
	host     string // the ops connection's host, as the URL names it
	server   db.ReplicationServerRow
	standbys []db.ReplicationStandbysRow
	slots    []db.ReplicationSlotsRow
	receiver *db.ReplicationReceiverRow
	events   []db.FailoverEvent
	eventErr error
}

// newReplicationCache reads the replication views at most once a second
// however many admins watch; the failover watcher shares the reading.
func newReplicationCache(ops *db.DB, d *opsDashboard) *reading[replicationData] {
	return newOpsReading(func(ctx context.Context) (r replicationData, err error) {
		err = ops.Read(ctx, func(ctx context.Context, q *db.Queries) (err error) {
			r = replicationData{host: q.ServerHost()}
			d.statements.Add(1)
			if r.server, err = q.ReplicationServer(ctx); err != nil {
				return fmt.Errorf("replication: server: %w", err)
			}
			if r.server.InRecovery {
				d.statements.Add(1)
				rcv, err := q.ReplicationReceiver(ctx)
				if err != nil {
					return fmt.Errorf("replication: receiver: %w", err)
				}
				r.receiver = &rcv
			} else {
				d.statements.Add(1)
				if r.standbys, err = q.ReplicationStandbys(ctx); err != nil {
					return fmt.Errorf("replication: standbys: %w", err)
				}
			}
			d.statements.Add(2)
			if r.slots, err = q.ReplicationSlots(ctx); err != nil {
				return fmt.Errorf("replication: slots: %w", err)
			}
			// A schema without the events table (an older migration) must
			// not hide the live figures.
			r.events, r.eventErr = q.RecentFailovers(ctx)
			return nil
		})
		return r, err
	})
}

// replicationView is the replication panel.
func (a *App) replicationView(ctx context.Context) partials.OpsReplicationView {
	data, at, err := a.ops.replication.get(ctx)
	hosts := a.db.Hosts()
	p := hosts.Primary()
	v := partials.OpsReplicationView{
		UpdatedAt: at, WritesTo: p.Host, WritesSince: p.Since, Previous: p.Previous, ChangedAt: p.ChangedAt,
		Target: hosts.Target(),
	}
	for _, h := range hosts.Status() {
		v.Hosts = append(v.Hosts, partials.OpsHost{Host: h.Host, State: string(h.State), Reason: h.Reason, Since: h.Since, Primary: h.Primary})
	}
	if err != nil {
		v.Error = a.opsError("replication", err)
		return v
	}
	s := data.server
	v.Host, v.Standby, v.Timeline = data.host, s.InRecovery, s.Timeline
	if s.ServerAddr != "" {
		v.ServerAddr = fmt.Sprintf("%s:%d", s.ServerAddr, s.ServerPort)
	}
	v.SyncNames, v.SyncCommit = s.SynchronousStandbyNames, s.SynchronousCommit
	for _, r := range data.standbys {
		v.Standbys = append(v.Standbys, partials.OpsStandby{
			Name: r.ApplicationName, Client: r.ClientAddr, State: r.State, SyncState: r.SyncState,
			WriteLagBytes: r.WriteLagBytes, FlushLagBytes: r.FlushLagBytes, ReplayLagBytes: r.ReplayLagBytes,
			WriteLag: r.WriteLagSeconds, FlushLag: r.FlushLagSeconds, ReplayLag: r.ReplayLagSeconds,
			HaveLSNs: r.HaveLsns,
		})
	}
	for _, r := range data.slots {
		v.Slots = append(v.Slots, partials.OpsSlot{Name: r.SlotName, Type: r.SlotType, WALStatus: r.WalStatus, Active: r.Active, RetainedBytes: r.RetainedBytes})
	}
	if r := data.receiver; r != nil {
		v.Receiver = &partials.OpsReceiver{
			Status: r.Status, Streaming: r.Streaming, ReceiveLagBytes: r.ReceiveLagBytes,
			LastMessage: r.LastMessageSeconds, ReplayLagBytes: r.ReplayLagBytes, ReplayLag: r.ReplayLagSeconds,
		}
		if r.SenderHost != "" {
			v.Receiver.Sender = fmt.Sprintf("%s:%d", r.SenderHost, r.SenderPort)
		}
	}
	if data.eventErr != nil {
		v.EventsError = "Failovers could not be read; the error is in the server log."
		a.log.Warn("ops dashboard: failover events", "err", data.eventErr)
	}
	for _, e := range data.events {
		v.Events = append(v.Events, partials.OpsFailover{
			At: e.DetectedAt, By: e.DetectedBy, From: e.FromHost, To: e.ToHost,
			FromTimeline: e.FromTimeline, ToTimeline: e.ToTimeline,
		})
	}
	v.Assess()
	return v
}

func (a *App) replicationPartial(w http.ResponseWriter, r *http.Request) {
	v := a.replicationView(r.Context())
	a.render(w, r, panelStatus(r, v.Error != ""), partials.OpsReplication(v))
}

// watchFailover notices failovers: the primary's host or timeline changes
// between two readings (the replication panel's, shared). Each one is
// logged and kept in failover_events (one row however many instances see
// it). When this process's connections find the primary moved, the ops
// panels' cached readings are dropped at once, so the dashboard does not
// show the old primary's errors for another second.
func (a *App) watchFailover(ctx context.Context) {
	t := time.NewTicker(failoverCheckEvery)
	defer t.Stop()
	var last *replicationData
	for {
		mainChanged, opsChanged := a.db.Hosts().Changed(), a.opsDB.Hosts().Changed()
		data, _, err := a.ops.replication.get(ctx)
		if err == nil && !data.server.InRecovery && data.host != "" {
			if last != nil && (data.host != last.host || data.server.Timeline != last.server.Timeline) {
				a.recordFailover(ctx, *last, data)
			}
			last = &data
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-mainChanged:
			a.ops.invalidateAll()
		case <-opsChanged:
			a.ops.invalidateAll()
		}
	}
}

// recordFailover logs a failover and keeps it, on the new primary.
func (a *App) recordFailover(ctx context.Context, from, to replicationData) {
	at := time.Now()
	if p := a.opsDB.Hosts().Primary(); p.Host == to.host && !p.ChangedAt.IsZero() && at.Sub(p.ChangedAt) < time.Minute {
		at = p.ChangedAt // when this process's connections found the move
	}
	a.log.Warn("failover: the primary changed",
		"from", from.host, "to", to.host, "from_timeline", from.server.Timeline, "to_timeline", to.server.Timeline, "at", at)
	var recorded int64
	err := a.opsDB.InTxIdempotent(ctx, func(ctx context.Context, q *db.Queries) (err error) {
		recorded, err = q.RecordFailover(ctx, db.RecordFailoverParams{
			DetectedAt: at, DetectedBy: a.cfg.InstanceID, FromHost: from.host, ToHost: to.host,
			FromTimeline: from.server.Timeline, ToTimeline: to.server.Timeline,
		})
		if err != nil {
			return err
		}
		return q.PruneFailovers(ctx)
	})
	if err != nil {
		a.log.Warn("failover: could not record the event", "err", err)
		return
	}
	if recorded == 0 {
		a.log.Info("failover: already recorded by another instance", "to", to.host, "to_timeline", to.server.Timeline)
	}
	a.ops.replication.invalidate()
}

// invalidateAll drops every panel's cached reading: the primary moved, and
// readings (or errors) from the old one must not be shown again.
func (d *opsDashboard) invalidateAll() {
	d.activity.invalidate()
	d.locks.invalidate()
	d.database.invalidate()
	d.fleet.invalidate()
	d.replication.invalidate()
	for _, c := range d.poolHistory {
		c.invalidate()
	}
	for _, c := range d.serverHistory {
		c.invalidate()
	}
}
