package partials

import (
	"time"

	"hris/views/components"
)

// OpsPoolHistory is the pool panel's charts over a stored period (1 h,
// 24 h or 7 d) instead of the last 15 minutes in memory.
type OpsPoolHistory struct {
	Error string
	Label string        // the period: "24 h"
	Step  time.Duration // one chart point per Step
	From  time.Time     // where the charts begin: the period's start, or the first history in it
	// Instances is how many instances left history in the period.
	Instances int
	// This instance.
	InUse  components.Spark // peak in use per point, against the pool's max
	Wait   components.Spark // ms spent waiting for a connection per second
	Waited components.Spark // acquires that waited, per minute
	// The whole fleet.
	FleetInUse  components.Spark // sum of the instances' average in use, against their sum of max
	Unavailable components.Spark // requests answered 503, per minute
	// Figures over the period.
	PeakInUse, Max   int32
	WaitedTotal      int64
	UnavailableTotal int64
	FleetPeak        float64
	FleetMax         int32
}

// OpsServerHistory is the database panel's charts over a stored period.
type OpsServerHistory struct {
	Error     string
	Label     string
	Step      time.Duration
	From      time.Time
	Commits   components.Spark // per second
	Rollbacks components.Spark // per second
	Active    components.Spark // sessions running a query
	IdleInTx  components.Spark // sessions idle in a transaction
	HitRatio  components.Spark // cache hit ratio, %
	// Figures over the period.
	CommitsPerSec, RollbacksPerSec float64
	HaveRates                      bool
	HitRatioAll                    float64
	HaveHit                        bool
	PeakActive, PeakIdleInTx       float64
}

// historyCaption says what the history charts show.
func historyCaption(label string, from time.Time, step time.Duration, extra string) string {
	s := "Charts: the last " + label + " from stored history (from " + from.Local().Format("Jan 2 15:04") + "), one point per " + Span(step) + "."
	if extra != "" {
		s += " " + extra
	}
	return s
}
