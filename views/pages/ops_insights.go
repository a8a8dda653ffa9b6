package pages

import (
	"net/url"
	"strconv"
	"strings"
	"time"

	"hris/views/components"
)

// OpsQueriesView is /ops/queries: the statements that used the database's
// time, from pg_stat_statements now or from stored snapshots.
type OpsQueriesView struct {
	Period  string // live, 1h, 24h, 7d
	Sort    string // total, mean, calls
	Periods []PeriodLink
	// Setup, when set, says why pg_stat_statements cannot be read here and
	// how to enable it.
	Setup *StatStatementsSetup
	Error string
	// What the figures cover: pg_stat_statements since StatsReset (live),
	// or Snapshots stored snapshots from From to To.
	StatsReset *time.Time
	Snapshots  int
	Resets     int
	From, To   time.Time
	Interval   time.Duration // HRIS_QUERY_STATS_INTERVAL; 0: not captured
	// Over all statements, not only the rows shown.
	Statements int64
	AllCalls   int64
	AllTotalMS float64
	Rows       []OpsQueryRow
	SlowMean   time.Duration
	SlowCalls  int64
	SlowShown  int
}

// OpsQueryRow is one statement's figures.
type OpsQueryRow struct {
	QueryID  int64
	Text     string
	Calls    int64
	TotalMS  float64
	MeanMS   float64
	Rows     int64
	Share    float64 // of all statements' time
	HitRatio float64
	HaveHit  bool
	Slow     bool
}

// StatStatementsSetup explains a missing pg_stat_statements.
type StatStatementsSetup struct {
	Problem  string
	Database string
	// Steps are what to do, in order; Code, when set, is the line to run
	// or write for the step.
	Steps []SetupStep
}

// SetupStep is one step of the setup.
type SetupStep struct {
	Text, Code string
}

// StatementParts splits a statement's text into the name sqlc writes at
// the top of its queries ("-- name: ListEmployees :many") and the SQL; name
// is "" for statements without one.
func StatementParts(text string) (name, sql string) {
	rest, ok := strings.CutPrefix(text, "-- name: ")
	if !ok {
		return "", text
	}
	line, sql, _ := strings.Cut(rest, "\n")
	if f := strings.Fields(line); len(f) > 0 {
		name = f[0]
	}
	if sql == "" {
		// pg_stat_statements keeps the newline; a text without one has the
		// name and the SQL on one line after the ":kind" word.
		f := strings.Fields(line)
		if len(f) > 2 {
			sql = strings.Join(f[2:], " ")
		}
	}
	return name, strings.TrimSpace(sql)
}

// Live reports whether the page shows pg_stat_statements now.
func (v OpsQueriesView) Live() bool { return v.Period == "live" }

// SortHref is the address of this page sorted by s.
func (v OpsQueriesView) SortHref(s string) string {
	q := url.Values{"period": {v.Period}, "sort": {s}}
	return "/ops/queries?" + q.Encode()
}

// AriaSort is the aria-sort of the column sorted by s.
func (v OpsQueriesView) AriaSort(s string) string {
	if v.Sort == s {
		return "descending"
	}
	return "none"
}

// QueryHref is the address of a statement's page, for the same period.
func QueryHref(id int64, period string) string {
	h := "/ops/queries/" + strconv.FormatInt(id, 10)
	if period != "" && period != "live" {
		h += "?period=" + url.QueryEscape(period)
	}
	return h
}

// OpsQueryView is /ops/queries/{queryid}: one statement's text, its
// figures now and its history.
type OpsQueryView struct {
	QueryID int64
	Text    string
	Period  string
	Periods []PeriodLink
	// Now is pg_stat_statements' figures (HaveNow: it still has the
	// statement); NowError why they could not be read.
	Now      OpsQueryRow
	HaveNow  bool
	NowError string
	// Over the chosen period, from the snapshots.
	HistoryError string
	Snapshots    int // snapshots in the period
	RanIn        int // of which the statement ran in
	Resets       int
	Calls        components.Spark // calls per minute
	Mean         components.Spark // mean time, ms
	PeakCalls    float64          // the charts' highest points
	PeakMean     float64
	Step         time.Duration // time one chart point covers, about
	Over         OpsQueryRow   // the statement's figures over the period
	From, To     time.Time
	Interval     time.Duration
	SlowMean     time.Duration
	SlowCalls    int64
}

// OpsTablesView is /ops/tables: space and maintenance, in sections that
// each load (and fail) on their own.
type OpsTablesView struct {
	Sizes       OpsSizes
	Maintenance OpsMaintenance
	XID         OpsXID
	Indexes     OpsIndexes
	Sequences   OpsSequences
}

// OpsSizes is the space section.
type OpsSizes struct {
	Error   string
	Tables  []OpsTableSize
	Indexes []OpsIndexSize
	// GrowthSince is the daily capture growth is measured from (zero: none
	// yet); GrowthDays how many days back it is.
	GrowthSince time.Time
	GrowthDays  int
}

// OpsTableSize is one table's space.
type OpsTableSize struct {
	Schema, Name                       string
	TotalBytes, TableBytes, IndexBytes int64
	RowsEstimate                       float64
	Growth                             int64
	HaveGrowth                         bool
}

// OpsIndexSize is one index's space.
type OpsIndexSize struct {
	Schema, Name, Table string
	Bytes               int64
	Growth              int64
	HaveGrowth          bool
}

// OpsMaintenance is the tables' rows, scans, dead rows and vacuums.
type OpsMaintenance struct {
	Error  string
	Tables []OpsTableMaint
}

// OpsTableMaint is one table's maintenance figures.
type OpsTableMaint struct {
	Schema, Name             string
	RowsEstimate             float64
	LiveRows, DeadRows       int64
	SeqScans, IdxScans       int64
	ModifiedSinceAnalyze     int64
	LastVacuum, LastAutovac  *time.Time
	LastAnalyze, LastAutoanl *time.Time
}

// OpsXID is the transaction id age section.
type OpsXID struct {
	Error        string
	Database     string
	Age          int64
	FreezeMaxAge int64
	Tables       []OpsXIDTable
}

// OpsXIDTable is one table's transaction id age.
type OpsXIDTable struct {
	Schema, Name string
	Age          int64
}

// OpsIndexes is the index checks: unused, duplicate, invalid.
type OpsIndexes struct {
	Error      string
	StatsReset *time.Time
	Unused     []OpsIndexIssue
	Duplicate  []OpsIndexIssue
	Invalid    []OpsIndexIssue
}

// OpsIndexIssue is one index to look at, and the statement that drops it.
type OpsIndexIssue struct {
	Schema, Table, Index string
	Bytes                int64
	Definition           string
	CoveredBy            string // duplicates: the index that serves its queries
	CoveringDefinition   string
	BeingBuilt           bool // invalid because CREATE INDEX CONCURRENTLY is running
	DropSQL              string
}

// OpsSequences is the sequences close to their limit.
type OpsSequences struct {
	Error     string
	Threshold float64
	Rows      []OpsSequence
}

// OpsSequence is one sequence and how much of it is used.
type OpsSequence struct {
	Schema, Name, Table, Column string
	LastValue, MaxValue         int64
	Used                        float64
}
