package partials

import (
	"fmt"
	"time"

	"hris/views/components"
)

// OpsFleetView is the fleet panel: every hris instance that reported a
// heartbeat in the last day, and whether together they fit the server.
type OpsFleetView struct {
	UpdatedAt time.Time
	Error     string
	Self      string // this instance's id
	Instances []OpsInstance
	Live      int
	// FleetMain and FleetOps add up the live instances' pool limits.
	FleetMain, FleetOps int32
	ServerMax, Reserved int32
	PgBouncerPool       int32 // HRIS_PGBOUNCER_POOL_SIZE, 0 when not set
	// HistoryLabel, when set ("24 h"), adds each instance's stored
	// history of connections in use.
	HistoryLabel string
	// Set by Assess.
	ServerDemand int32 // connections the fleet may open on the server itself
	Usable       int32 // max_connections − superuser_reserved_connections
	Warnings     []string
}

// OpsInstance is one instance's heartbeat.
type OpsInstance struct {
	ID, Host, Version, ExecMode string
	State                       string // live, stale or stopped
	Self                        bool
	StartedAt                   time.Time
	SeenAgo                     time.Duration
	MaxConns, OpsMaxConns       int32
	Total, Acquired, Idle       int32
	EmptyAcquires, Canceled     int64
	WaitMS                      float64
	Retries                     int64
	// History is the instance's peak connections in use over the chosen
	// period (HaveHistory: it left some).
	History     components.Spark
	HaveHistory bool
}

// Usage is the share of the instance's main pool in use.
func (i OpsInstance) Usage() float64 { return ratio(float64(i.Acquired), float64(i.MaxConns)) }

// Level grades the instance's pool for its gauge.
func (i OpsInstance) Level() string {
	switch {
	case i.MaxConns > 0 && i.Acquired >= i.MaxConns:
		return "bad"
	case i.Usage() >= 0.8:
		return "warn"
	}
	return ""
}

// Assess applies the sizing rule: instances × HRIS_DB_MAX_CONNS must fit
// PgBouncer's pool when there is one, and what reaches the server (PgBouncer's
// pool, or the instances' pools directly, plus the ops pools) must fit
// max_connections − superuser_reserved_connections.
func (v *OpsFleetView) Assess() {
	v.Usable = v.ServerMax - v.Reserved
	if v.PgBouncerPool > 0 {
		v.ServerDemand = v.PgBouncerPool + v.FleetOps
		if v.FleetMain > v.PgBouncerPool {
			v.Warnings = append(v.Warnings, fmt.Sprintf(
				"The %d live instances may open %d connections to PgBouncer, more than its pool of %d server connections: requests will queue in PgBouncer under load. Lower HRIS_DB_MAX_CONNS or raise default_pool_size.",
				v.Live, v.FleetMain, v.PgBouncerPool))
		}
	} else {
		v.ServerDemand = v.FleetMain + v.FleetOps
	}
	if v.ServerMax > 0 && v.ServerDemand > v.Usable {
		what := fmt.Sprintf("The %d live instances may open %d connections", v.Live, v.ServerDemand)
		if v.PgBouncerPool > 0 {
			what = fmt.Sprintf("PgBouncer's pool (%d) and the instances' ops pools (%d) may open %d connections", v.PgBouncerPool, v.FleetOps, v.ServerDemand)
		}
		v.Warnings = append(v.Warnings, fmt.Sprintf(
			"%s, but the server accepts %d (max_connections %d − %d reserved): under load some will fail with \"too many connections\". Lower HRIS_DB_MAX_CONNS, run fewer instances, raise max_connections, or put PgBouncer in front.",
			what, v.Usable, v.ServerMax, v.Reserved))
	}
}

// Seen says how long ago an instance last reported, in words.
func (i OpsInstance) Seen() string {
	switch {
	case i.SeenAgo < 2*time.Second:
		return "just now"
	case i.SeenAgo < time.Minute:
		return fmt.Sprintf("%ds ago", int(i.SeenAgo.Seconds()))
	case i.SeenAgo < time.Hour:
		return fmt.Sprintf("%dm ago", int(i.SeenAgo.Minutes()))
	}
	return fmt.Sprintf("%dh ago", int(i.SeenAgo.Hours()))
}

// Uptime is how long the instance has been (or was) running.
func (i OpsInstance) Uptime() string {
	d := time.Since(i.StartedAt)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}
