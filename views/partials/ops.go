// Package partials holds htmx swap targets: fragments without the page
// shell, rendered both inside their page and on their own.
package partials

import (
	"strconv"
	"strings"
	"time"

	"hris/views/components"
)

// OpsPoolView is the connection pool panel: figures now, rates over the
// last minute and 15 minutes of history.
type OpsPoolView struct {
	UpdatedAt    time.Time
	Max          int32
	Acquired     int32
	Idle         int32
	Total        int32
	Constructing int32
	// Rates over RateSpan (the last minute, or less just after start).
	RateSpan         time.Duration
	HaveRates        bool
	AcquiresPerSec   float64
	EmptyPerSec      float64
	AvgAcquireMS     float64
	HaveAvgAcquire   bool
	Canceled         int64
	NewConns         int64
	LifetimeDestroys int64
	IdleDestroys     int64
	Retries          int64 // since the process started
	AcquireTimeout   time.Duration
	Acquired15       components.Spark
	Wait15           components.Spark
	Empty15          components.Spark
	WaitNow          float64 // ms spent acquiring per second, last minute
	ChartSpan        time.Duration
	ChartStep        time.Duration
	// History, when set, replaces the 15-minute charts with a stored period.
	History *OpsPoolHistory
}

// Usage is the share of the pool in use, for the gauge.
func (v OpsPoolView) Usage() float64 { return ratio(float64(v.Acquired), float64(v.Max)) }

// Level is "", "warn" or "bad" for the pool's use: full is bad, and
// acquires that had to wait in the last minute are a warning.
func (v OpsPoolView) Level() string {
	switch {
	case v.Max > 0 && v.Acquired >= v.Max:
		return "bad"
	case v.Usage() >= 0.8 || v.EmptyPerSec > 0 || v.Canceled > 0:
		return "warn"
	}
	return ""
}

// OpsSession is one row of pg_stat_activity.
type OpsSession struct {
	Pid           int32
	User          string
	App           string
	Client        string
	State         string
	WaitEventType string
	WaitEvent     string
	Query         string
	QuerySeconds  float64
	XactSeconds   float64
	StateSeconds  float64
	Long          bool // over HRIS_LONG_QUERY_THRESHOLD
	Own           bool // one of this hris process's pooled connections
}

// Wait is the wait event as "Type: Event", or "".
func (s OpsSession) Wait() string {
	if s.WaitEventType == "" {
		return ""
	}
	return s.WaitEventType + ": " + s.WaitEvent
}

// OpsSizing relates the pools' sizes to the server's connection limit.
type OpsSizing struct {
	MaxConnections int32
	Reserved       int32
	PerInstance    int32
	MainPool       int32
	OpsPool        int32
	Instances      int32
	InUse          int32
	Own            int32
	Headroom       int32
	Free           int32
	FewInstances   bool
	CanExhaust     bool
}

// OpsActivityView is the sessions panel.
type OpsActivityView struct {
	UpdatedAt       time.Time
	Error           string
	Database        string
	Threshold       time.Duration
	Active          int
	Idle            int
	IdleInTx        int
	IdleInTxAborted int
	Waiting         int
	Own             int
	Sessions        int // client sessions of this database, all states
	OtherDatabases  int32
	Sizing          OpsSizing
	Running         []OpsSession
	InTx            []OpsSession
}

// ConnUsage is the share of usable server connections in use.
func (v OpsActivityView) ConnUsage() float64 {
	return ratio(float64(v.Sizing.InUse), float64(v.Sizing.MaxConnections-v.Sizing.Reserved))
}

// ConnLevel grades the server's connection use for the gauge.
func (v OpsActivityView) ConnLevel() string {
	switch u := v.ConnUsage(); {
	case u >= 0.95:
		return "bad"
	case u >= 0.8 || v.Sizing.CanExhaust:
		return "warn"
	}
	return ""
}

// OpsBlocked is one blocked session and one session blocking it.
type OpsBlocked struct {
	Pid                 int32
	User                string
	App                 string
	Query               string
	WaitSeconds         float64
	Lock                string // "ShareLock on transactionid"
	Long                bool
	BlockerPid          int32
	BlockerUser         string
	BlockerApp          string
	BlockerState        string
	BlockerQuery        string
	BlockerXactSeconds  float64
	BlockerQuerySeconds float64
	BlockerHere         bool // in this database, so it may be acted on
	BlockerOwn          bool
}

// OpsLocksView is the blocked queries panel.
type OpsLocksView struct {
	UpdatedAt time.Time
	Error     string
	Blocked   []OpsBlocked
	Sessions  int // distinct blocked sessions
}

// OpsDatabaseView is the database statistics panel.
type OpsDatabaseView struct {
	UpdatedAt       time.Time
	Error           string
	Database        string
	SizeBytes       int64
	Backends        int32
	HitRatio        float64
	HaveHitRatio    bool
	BlocksRead      int64
	CommitsPerSec   float64
	RollbacksPerSec float64
	RateSpan        time.Duration
	HaveRates       bool
	Deadlocks       int64
	RecentDeadlocks int64
	RecentTempFiles int64
	RecentSpan      time.Duration
	HaveRecent      bool
	TempFiles       int64
	TempBytes       int64
	Conflicts       int64
	StatsReset      *time.Time
	// History of the time the dashboard has been watched.
	Commits15   components.Spark
	Rollbacks15 components.Spark
	HistorySpan time.Duration
	// History, when set, replaces those charts with a stored period.
	History *OpsServerHistory
}

// HitLevel grades the cache hit ratio: an OLTP database should serve
// nearly every block from memory.
func (v OpsDatabaseView) HitLevel() string {
	switch {
	case !v.HaveHitRatio:
		return ""
	case v.HitRatio < 0.9:
		return "bad"
	case v.HitRatio < 0.99:
		return "warn"
	}
	return ""
}

func ratio(a, b float64) float64 {
	if b <= 0 {
		return 0
	}
	return min(max(a/b, 0), 1)
}

// gaugeStyle is the width of a gauge's bar.
func gaugeStyle(r float64) string {
	return "width: " + strconv.FormatFloat(min(max(r, 0), 1)*100, 'f', 1, 64) + "%"
}

func gaugeClass(level string) string {
	if level == "" {
		return "gauge"
	}
	return "gauge " + level
}

func statClass(level string) string {
	if level == "" {
		return "stat"
	}
	return "stat " + level
}

// Seconds formats a duration in seconds the way an operator reads it:
// "0.4 s", "12 s", "4 m 05 s", "2 h 03 m", "3 d 04 h".
func Seconds(s float64) string {
	switch {
	case s < 0:
		s = 0
		fallthrough
	case s < 10:
		return strconv.FormatFloat(s, 'f', 1, 64) + " s"
	case s < 60:
		return strconv.Itoa(int(s)) + " s"
	}
	n := int64(s)
	switch {
	case n < 3600:
		return strconv.FormatInt(n/60, 10) + " m " + pad2(n%60) + " s"
	case n < 86400:
		return strconv.FormatInt(n/3600, 10) + " h " + pad2(n%3600/60) + " m"
	}
	return strconv.FormatInt(n/86400, 10) + " d " + pad2(n%86400/3600) + " h"
}

// Span formats a duration for "over the last …" captions.
func Span(d time.Duration) string {
	switch {
	case d >= time.Minute && d%time.Minute < time.Second:
		if d < 2*time.Minute {
			return "minute"
		}
		return strconv.Itoa(int(d/time.Minute)) + " min"
	case d >= time.Minute:
		return Seconds(d.Seconds())
	}
	return strconv.Itoa(int(d.Round(time.Second)/time.Second)) + " s"
}

func pad2(n int64) string {
	if n < 10 {
		return "0" + strconv.FormatInt(n, 10)
	}
	return strconv.FormatInt(n, 10)
}

// Rate formats a per-second rate: one decimal below 10, none above.
func Rate(f float64) string {
	if f < 10 {
		return strconv.FormatFloat(f, 'f', 1, 64)
	}
	return components.Thousands(int64(f + 0.5))
}

// Bytes formats a size like pg_size_pretty: 8 kB, 12 MB, 1.5 GB.
func Bytes(n int64) string {
	units := []string{"bytes", "kB", "MB", "GB", "TB", "PB"}
	f := float64(n)
	i := 0
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	if i == 0 {
		return strconv.FormatInt(n, 10) + " bytes"
	}
	prec := 1
	if f >= 100 {
		prec = 0
	}
	return strconv.FormatFloat(f, 'f', prec, 64) + " " + units[i]
}

// Percent formats a ratio: "99.87 %".
func Percent(r float64) string {
	return strconv.FormatFloat(r*100, 'f', 2, 64) + " %"
}

// Millis formats milliseconds: "0.12 ms", "3.4 ms", "120 ms".
func Millis(ms float64) string {
	switch {
	case ms < 1:
		return strconv.FormatFloat(ms, 'f', 2, 64) + " ms"
	case ms < 10:
		return strconv.FormatFloat(ms, 'f', 1, 64) + " ms"
	}
	return components.Thousands(int64(ms+0.5)) + " ms"
}

// Clock is the time of day a panel was read.
func Clock(t time.Time) string { return t.Format("15:04:05") }

// Short is the first line of a query, cut to n characters: the table cell
// shows it, the title (and the confirm page) the whole text.
func Short(q string, n int) string {
	q = strings.Join(strings.Fields(q), " ")
	if r := []rune(q); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return q
}

// Pid formats a backend process id.
func Pid(p int32) string { return strconv.FormatInt(int64(p), 10) }

// BackendURL is the address of an action on a backend.
func BackendURL(pid int32, action string) string {
	return "/ops/backends/" + Pid(pid) + "/" + action
}

// Caption explains the pool panel's time spans.
func (v OpsPoolView) Caption() string {
	s := "Rates appear after two samples."
	if v.HaveRates {
		s = "Rates and counts over the last " + Span(v.RateSpan) + "."
	}
	s += " Charts: last " + Span(v.ChartSpan)
	if v.ChartStep > time.Second {
		s += ", one point per " + Span(v.ChartStep)
	}
	s += "."
	if v.AcquireTimeout > 0 {
		s += " A request that gets no connection within " + Span(v.AcquireTimeout) + " is answered 503."
	}
	return s
}

// Breakdown is the per-instance connection budget: "22 = 20 (HRIS_DB_MAX_CONNS) + 2 (ops pool)".
func (z OpsSizing) Breakdown() string {
	s := components.Thousands(int64(z.PerInstance)) + " = " + components.Thousands(int64(z.MainPool)) + " (HRIS_DB_MAX_CONNS)"
	if z.OpsPool > 0 {
		s += " + " + components.Thousands(int64(z.OpsPool)) + " (ops pool)"
	}
	return s
}

// InstancesWord is "instance" or "instances".
func (z OpsSizing) InstancesWord() string {
	if z.Instances == 1 {
		return "instance"
	}
	return "instances"
}
