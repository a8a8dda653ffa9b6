package partials

import (
	"fmt"
	"time"
)

// OpsReplicationView is the replication panel (GET /ops/replication): the
// server the dashboard reads, its standbys and slots (or, on a standby, its
// own lag), the hosts of DATABASE_URL as hris sees them, and failovers.
type OpsReplicationView struct {
	UpdatedAt time.Time
	Error     string
	// The server the ops pool is connected to.
	Host       string // host:port as the URL names it
	ServerAddr string // as the server sees itself (inet_server_addr:port)
	Standby    bool   // in recovery: hris reads a standby
	Timeline   int32
	SyncNames  string // synchronous_standby_names
	SyncCommit string // synchronous_commit
	// Where hris writes (the main pool's primary) and since when.
	WritesTo      string
	WritesSince   time.Time
	Previous      string
	ChangedAt     time.Time
	Target        string // target_session_attrs
	Hosts         []OpsHost
	Standbys      []OpsStandby
	Slots         []OpsSlot
	Receiver      *OpsReceiver
	Events        []OpsFailover
	EventsError   string
	Warnings      []string
	HaveSyncState bool // a standby reported sync_state = sync
}

// OpsHost is one host of a multi-host DATABASE_URL.
type OpsHost struct {
	Host    string
	State   string // ok, mismatch, down, unknown
	Reason  string
	Since   time.Time
	Primary bool
}

// StateText says in words what hris believes about the host.
func (h OpsHost) StateText() string {
	switch h.State {
	case "ok":
		if h.Primary {
			return "primary: hris writes here"
		}
		return "answered"
	case "mismatch":
		return "wrong role (a standby, or read-only)"
	case "down":
		return "given up: " + h.Reason
	}
	return "not tried yet"
}

// Level colours the host's badge.
func (h OpsHost) Level() string {
	switch h.State {
	case "ok":
		return "ok"
	case "down":
		return "bad"
	case "mismatch":
		return "muted"
	}
	return ""
}

// OpsStandby is one row of the primary's pg_stat_replication.
type OpsStandby struct {
	Name, Client, State, SyncState               string
	WriteLagBytes, FlushLagBytes, ReplayLagBytes int64
	WriteLag, FlushLag, ReplayLag                float64 // seconds
	HaveLSNs                                     bool    // false without pg_monitor
}

// Level grades the standby for its row: not streaming is bad, a replay
// more than 16 MB or 10 s behind a warning.
func (s OpsStandby) Level() string {
	switch {
	case s.State != "streaming":
		return "bad"
	case s.ReplayLagBytes > 16<<20 || s.ReplayLag > 10:
		return "warn"
	}
	return ""
}

// OpsSlot is a replication slot.
type OpsSlot struct {
	Name, Type, WALStatus string
	Active                bool
	RetainedBytes         int64
}

// OpsReceiver is a standby's own view of its replication.
type OpsReceiver struct {
	Status          string
	Sender          string
	Streaming       bool
	ReceiveLagBytes int64
	LastMessage     float64 // seconds since the primary's last message
	ReplayLagBytes  int64
	ReplayLag       float64 // seconds
}

// OpsFailover is a recorded failover.
type OpsFailover struct {
	At                       time.Time
	By                       string
	From, To                 string
	FromTimeline, ToTimeline int32
}

// Timelines is "1 → 2", or one number when the timeline did not change.
func (f OpsFailover) Timelines() string {
	if f.FromTimeline == f.ToTimeline {
		return fmt.Sprint(f.ToTimeline)
	}
	return fmt.Sprintf("%d → %d", f.FromTimeline, f.ToTimeline)
}

// Assess adds the warnings an operator should act on.
func (v *OpsReplicationView) Assess() {
	if v.Standby {
		v.Warnings = append(v.Warnings, "The dashboard is connected to a standby (read-only): the figures below are the standby's own. Writes go to "+orDash(v.WritesTo)+".")
		if v.Receiver != nil && !v.Receiver.Streaming {
			v.Warnings = append(v.Warnings, "This standby is not receiving WAL from any primary.")
		}
		return
	}
	for _, s := range v.Standbys {
		if s.SyncState == "sync" || s.SyncState == "quorum" {
			v.HaveSyncState = true
		}
		if s.State != "streaming" {
			v.Warnings = append(v.Warnings, fmt.Sprintf("Standby %s is %s, not streaming.", orDash(s.Name), s.State))
		}
	}
	switch {
	case !v.HaveSyncState:
		v.Warnings = append(v.Warnings, "No synchronous standby: a failover can lose the last acknowledged writes. Set synchronous_standby_names (with synchronous_commit on) for zero loss.")
	case v.SyncCommit == "off" || v.SyncCommit == "local":
		v.Warnings = append(v.Warnings, "synchronous_commit is "+v.SyncCommit+": commits do not wait for the synchronous standby, so a failover can lose the last acknowledged writes.")
	}
	for _, s := range v.Slots {
		if !s.Active && s.RetainedBytes > 1<<30 {
			v.Warnings = append(v.Warnings, fmt.Sprintf("Slot %s is inactive and holds back %s of WAL: drop it if its standby is gone.", s.Name, Bytes(s.RetainedBytes)))
		}
	}
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// Ago is "12 s ago" for a time in the past.
func Ago(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return Seconds(time.Since(t).Seconds()) + " ago"
}

// When is the time of day with seconds, and the date when not today.
func When(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	if y, m, d := t.Date(); y == time.Now().Year() && m == time.Now().Month() && d == time.Now().Day() {
		return t.Format("15:04:05")
	}
	return t.Format("2006-01-02 15:04:05")
}
