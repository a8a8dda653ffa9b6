package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"hris/db"
	"hris/views/pages"
	"hris/views/partials"
)

// opsPage is the admin dashboard: every panel rendered with its current
// content, each polling its own fragment afterwards.
// With ?period=1h|24h|7d the charts show stored history instead of the
// last 15 minutes.
func (a *App) opsPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p := parsePeriod(r.URL.Query().Get("period"), periodLive)
	v := pages.OpsView{Instance: a.cfg.InstanceID, Version: a.cfg.Version, Period: p.Name, Periods: periodLinks("/ops", p, "")}
	// The database panels load concurrently: the ops pool has two
	// connections, and a slow server should cost one wait, not four.
	done := make(chan struct{}, 6)
	go func() { v.Alerts = a.alertsBannerView(ctx); done <- struct{}{} }()
	go func() { v.Pool = a.poolPanel(ctx, p); done <- struct{}{} }()
	go func() { v.Activity = a.activityView(ctx); done <- struct{}{} }()
	go func() { v.Locks = a.locksView(ctx); done <- struct{}{} }()
	go func() { v.Database = a.databasePanel(ctx, p); done <- struct{}{} }()
	go func() { v.Replication = a.replicationView(ctx); done <- struct{}{} }()
	for range 6 {
		<-done
	}
	// The fleet panel reuses the activity panel's reading of the server's
	// limits, so it comes after it.
	v.Fleet = a.fleetPanel(ctx, p)
	a.render(w, r, http.StatusOK, pages.Ops(a.page(r, "Ops", "ops"), v))
}

// poolPanel is the pool panel with its charts for period p.
func (a *App) poolPanel(ctx context.Context, p period) partials.OpsPoolView {
	v := a.poolView()
	if p.Bucket > 0 {
		v.History = a.poolHistoryView(ctx, p)
	}
	return v
}

// databasePanel is the database panel with its charts for period p.
func (a *App) databasePanel(ctx context.Context, p period) partials.OpsDatabaseView {
	v := a.databaseView(ctx)
	if p.Bucket > 0 && v.Error == "" {
		v.History = a.serverHistoryView(ctx, p)
	}
	return v
}

// fleetPanel is the fleet panel, with each instance's history for period p.
func (a *App) fleetPanel(ctx context.Context, p period) partials.OpsFleetView {
	v := a.fleetView(ctx)
	if p.Bucket > 0 && v.Error == "" {
		v.HistoryLabel = p.Label
		hist := a.instanceHistories(ctx, p)
		for i := range v.Instances {
			v.Instances[i].History, v.Instances[i].HaveHistory = hist[v.Instances[i].ID]
		}
	}
	return v
}

// panelStatus is 200 for htmx polls, so a panel shows its own error notice
// (htmx does not swap error responses), and 503 for a plain GET.
func panelStatus(r *http.Request, failed bool) int {
	if failed && r.Header.Get("HX-Request") == "" {
		return http.StatusServiceUnavailable
	}
	return http.StatusOK
}

func (a *App) poolPartial(w http.ResponseWriter, r *http.Request) {
	p := parsePeriod(r.URL.Query().Get("period"), periodLive)
	a.render(w, r, http.StatusOK, partials.OpsPool(a.poolPanel(r.Context(), p)))
}

func (a *App) activityPartial(w http.ResponseWriter, r *http.Request) {
	v := a.activityView(r.Context())
	a.render(w, r, panelStatus(r, v.Error != ""), partials.OpsActivity(v))
}

func (a *App) locksPartial(w http.ResponseWriter, r *http.Request) {
	v := a.locksView(r.Context())
	a.render(w, r, panelStatus(r, v.Error != ""), partials.OpsLocks(v))
}

func (a *App) databasePartial(w http.ResponseWriter, r *http.Request) {
	v := a.databasePanel(r.Context(), parsePeriod(r.URL.Query().Get("period"), periodLive))
	a.render(w, r, panelStatus(r, v.Error != ""), partials.OpsDatabase(v))
}

// backendAction is pg_cancel_backend or pg_terminate_backend.
type backendAction struct {
	name   string // cancel or terminate
	signal func(q *db.Queries, ctx context.Context, pid int32) (bool, error)
	done   string // flash after success, %d is the pid
}

var (
	cancelBackend = backendAction{
		name:   "cancel",
		signal: (*db.Queries).CancelBackend,
		done:   "Cancelled query on backend %d.",
	}
	terminateBackend = backendAction{
		name:   "terminate",
		signal: (*db.Queries).TerminateBackend,
		done:   "Terminated backend %d.",
	}
)

// auditBackend is what the audit log keeps of a backend acted on: its
// pg_stat_activity row at that moment.
type auditBackend struct {
	Pid             int32   `json:"pid"`
	Database        string  `json:"database"`
	User            string  `json:"user"`
	ApplicationName string  `json:"application_name"`
	ClientAddr      string  `json:"client_addr"`
	State           string  `json:"state"`
	WaitEventType   string  `json:"wait_event_type"`
	WaitEvent       string  `json:"wait_event"`
	Query           string  `json:"query"`
	QuerySeconds    float64 `json:"query_seconds"`
	XactSeconds     float64 `json:"xact_seconds"`
	OwnConnection   bool    `json:"own_connection"`
}

// errRefused is an action the dashboard will not take; its message is
// shown to the admin as it is.
type errRefused struct{ msg string }

func (e errRefused) Error() string { return e.msg }

// pidFromURL parses {pid}; anything else is a 404.
func pidFromURL(r *http.Request) (int32, bool) {
	pid, err := strconv.ParseInt(chi.URLParam(r, "pid"), 10, 32)
	return int32(pid), err == nil && pid > 0
}

// checkBackend refuses backends the dashboard must not touch: gone, in
// another database, not a client session, the very connection asking,
// or (without allowOwn) one of hris's own pooled connections.
func (a *App) checkBackend(row db.OpsBackendRow, allowOwn bool) error {
	switch {
	case !row.Here:
		return errRefused{fmt.Sprintf("Refused: backend %d belongs to database %q, not to hris's database.", row.Pid, row.Datname)}
	case row.BackendType != "client backend":
		return errRefused{fmt.Sprintf("Refused: backend %d is a PostgreSQL %s, not a client session.", row.Pid, row.BackendType)}
	case row.IsSelf:
		return errRefused{fmt.Sprintf("Refused: backend %d is the connection running this very request.", row.Pid)}
	case a.ownBackend(row.Pid) && !allowOwn:
		return errRefused{fmt.Sprintf("Refused: backend %d is one of hris's own pooled connections. Tick “this is one of hris's own connections — I know” to go ahead.", row.Pid)}
	}
	return nil
}

func backendGone(pid int32) error {
	return errRefused{fmt.Sprintf("Backend %d no longer exists: its session has ended.", pid)}
}

func (a *App) backendCancelConfirm(w http.ResponseWriter, r *http.Request) {
	a.backendConfirm(w, r, cancelBackend)
}

func (a *App) backendTerminateConfirm(w http.ResponseWriter, r *http.Request) {
	a.backendConfirm(w, r, terminateBackend)
}

func (a *App) backendCancelPost(w http.ResponseWriter, r *http.Request) {
	a.backendSignalPost(w, r, cancelBackend)
}

func (a *App) backendTerminatePost(w http.ResponseWriter, r *http.Request) {
	a.backendSignalPost(w, r, terminateBackend)
}

// backendConfirm shows the backend and asks before acting (GET; no change).
func (a *App) backendConfirm(w http.ResponseWriter, r *http.Request, act backendAction) {
	pid, ok := pidFromURL(r)
	if !ok {
		a.notFound(w, r)
		return
	}
	var row db.OpsBackendRow
	err := a.opsDB.Read(r.Context(), func(ctx context.Context, q *db.Queries) (err error) {
		row, err = q.OpsBackend(ctx, pid)
		return err
	})
	if errors.Is(err, db.ErrNotFound) {
		err = backendGone(pid)
	} else if err == nil {
		err = a.checkBackend(row, true) // own connections get the checkbox instead
	}
	var refused errRefused
	if errors.As(err, &refused) {
		a.flash(r, "error", refused.msg)
		redirect(w, r, "/ops")
		return
	}
	if err != nil {
		a.handleError(w, r, err)
		return
	}
	s := partials.OpsSession{
		Pid: row.Pid, User: row.Usename, App: row.ApplicationName, Client: row.ClientAddr,
		State: row.State, WaitEventType: row.WaitEventType, WaitEvent: row.WaitEvent,
		Query: row.Query, QuerySeconds: row.QuerySeconds, XactSeconds: row.XactSeconds,
		Own: a.ownBackend(row.Pid),
	}
	title := "Cancel query"
	if act.name == "terminate" {
		title = "Terminate backend"
	}
	a.render(w, r, http.StatusOK, pages.OpsBackend(a.page(r, title, "ops"), pages.OpsBackendConfirm{Action: act.name, Session: s, Database: row.Datname}))
}

// backendSignalPost cancels or terminates a backend after the checks, with
// an audit row. It runs on the ops pool: the moment an admin needs to kill
// a runaway query is often the moment the main pool is exhausted.
func (a *App) backendSignalPost(w http.ResponseWriter, r *http.Request, act backendAction) {
	pid, ok := pidFromURL(r)
	if !ok {
		a.notFound(w, r)
		return
	}
	allowOwn := r.PostFormValue("allow_own") == "1"
	// First the checks and the audit row, committed: the signal cannot be
	// taken back, so it is only sent once its record is safely written.
	err := a.opsDB.InTx(r.Context(), func(ctx context.Context, q *db.Queries) error {
		row, err := q.OpsBackend(ctx, pid)
		if errors.Is(err, db.ErrNotFound) {
			return backendGone(pid)
		}
		if err != nil {
			return fmt.Errorf("ops: backend %d: %w", pid, err)
		}
		if err := a.checkBackend(row, allowOwn); err != nil {
			return err
		}
		return a.audit(ctx, q, r, auditEntry{
			Action: "backend." + act.name, Entity: "backend", EntityID: int64(pid),
			Before: auditBackend{
				Pid: row.Pid, Database: row.Datname, User: row.Usename, ApplicationName: row.ApplicationName,
				ClientAddr: row.ClientAddr, State: row.State, WaitEventType: row.WaitEventType, WaitEvent: row.WaitEvent,
				Query: row.Query, QuerySeconds: row.QuerySeconds, XactSeconds: row.XactSeconds,
				OwnConnection: a.ownBackend(row.Pid),
			},
		})
	})
	if err == nil {
		// Then the signal, exactly once: a retry after a lost connection
		// could cancel the backend's next query instead.
		var signalled bool
		err = a.opsDB.Once(r.Context(), func(ctx context.Context, q *db.Queries) (err error) {
			signalled, err = act.signal(q, ctx, pid)
			return err
		})
		if err != nil {
			err = fmt.Errorf("ops: %s backend %d: %w", act.name, pid, err)
		} else if !signalled {
			err = backendGone(pid) // it ended between the check and the signal
		}
	}
	var refused errRefused
	switch {
	case errors.As(err, &refused):
		a.flash(r, "error", refused.msg)
	case db.SQLState(err) == "42501":
		a.log.Warn("ops: signal refused by PostgreSQL", "action", act.name, "pid", pid, "err", err)
		a.flash(r, "error", fmt.Sprintf("PostgreSQL refused to %s backend %d: hris's database role needs the pg_signal_backend role (or to be the backend's own role).", act.name, pid))
	case err != nil:
		a.handleError(w, r, err)
		return
	default:
		a.log.Info("ops: backend signalled", "action", act.name, "pid", pid, "allow_own", allowOwn, "user_id", currentUser(r.Context()).ID)
		a.flash(r, "success", fmt.Sprintf(act.done, pid))
		a.ops.activity.invalidate()
		a.ops.locks.invalidate()
	}
	redirect(w, r, "/ops")
}
