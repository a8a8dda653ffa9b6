package web

import (
	"crypto/subtle"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"hris/db"
)

// metrics is the app's own Prometheus registry (no global state): pool
// figures read at scrape time, retry counts, HTTP request histograms.
type metrics struct {
	registry *prometheus.Registry
	requests *prometheus.HistogramVec
}

func newMetrics(a *App) *metrics {
	reg := prometheus.NewRegistry()
	constLabels := prometheus.Labels{"instance": a.cfg.InstanceID}
	m := &metrics{
		registry: reg,
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:        "hris_http_request_duration_seconds",
			Help:        "Time to answer HTTP requests, by route pattern, method and status code.",
			Buckets:     []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
			ConstLabels: constLabels,
		}, []string{"method", "route", "code"}),
	}
	reg.MustRegister(m.requests, newPoolCollector(a.db, constLabels), newAlertCollector(a, constLabels))
	// The runtime's own series carry the instance label too.
	prometheus.WrapRegistererWith(constLabels, reg).MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

func (m *metrics) observeRequest(method, route string, status int, took time.Duration) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(method, route, strconv.Itoa(status)).Observe(took.Seconds())
}

// routePattern is the chi pattern that matched (/employees/{id}), so that
// metrics have one series per route rather than one per URL.
func routePattern(r *http.Request) string {
	if rc := chi.RouteContext(r.Context()); rc != nil {
		if p := rc.RoutePattern(); p != "" {
			return p
		}
	}
	return "unmatched"
}

func levelFor(path string, status int) slog.Level {
	switch {
	case status >= 500:
		return slog.LevelError
	case len(path) >= 7 && (path[:7] == "/health" || path[:7] == "/static" || path[:7] == "/metric"),
		path == "/livez", path == "/readyz":
		return slog.LevelDebug
	default:
		return slog.LevelInfo
	}
}

// metricsHandler serves /metrics; with HRIS_METRICS_TOKEN set it requires
// "Authorization: Bearer <token>".
func (a *App) metricsHandler() http.Handler {
	h := promhttp.HandlerFor(a.metrics.registry, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(a.log.Handler(), slog.LevelError)})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tok := a.cfg.MetricsToken; tok != "" {
			got := r.Header.Get("Authorization")
			if subtle.ConstantTimeCompare([]byte(got), []byte("Bearer "+tok)) != 1 {
				w.Header().Set("WWW-Authenticate", `Bearer realm="hris metrics"`)
				http.Error(w, "metrics need Authorization: Bearer <HRIS_METRICS_TOKEN>", http.StatusUnauthorized)
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}

// poolCollector reads pool.Stat() at scrape time: always current, no
// background goroutine needed.
type poolCollector struct {
	db    *db.DB
	descs map[string]*prometheus.Desc
	// retries is not a pool figure but is read the same way.
	retries *prometheus.Desc
}

type poolSeries struct {
	name, help string
	kind       prometheus.ValueType
	value      func(db.PoolSample) float64
}

var poolSeriesList = []poolSeries{
	{"max_conns", "Largest number of connections the pool may open (HRIS_DB_MAX_CONNS).", prometheus.GaugeValue, func(s db.PoolSample) float64 { return float64(s.Max) }},
	{"total_conns", "Connections open now: acquired, idle and being built.", prometheus.GaugeValue, func(s db.PoolSample) float64 { return float64(s.Total) }},
	{"acquired_conns", "Connections in use by requests now.", prometheus.GaugeValue, func(s db.PoolSample) float64 { return float64(s.Acquired) }},
	{"idle_conns", "Connections open and waiting for work now.", prometheus.GaugeValue, func(s db.PoolSample) float64 { return float64(s.Idle) }},
	{"constructing_conns", "Connections being established now.", prometheus.GaugeValue, func(s db.PoolSample) float64 { return float64(s.Constructing) }},
	{"acquires_total", "Successful connection acquires.", prometheus.CounterValue, func(s db.PoolSample) float64 { return float64(s.AcquireCount) }},
	{"acquire_seconds_total", "Time spent acquiring connections, successful acquires only.", prometheus.CounterValue, func(s db.PoolSample) float64 { return s.AcquireDuration.Seconds() }},
	{"empty_acquires_total", "Acquires that had to wait because no connection was idle.", prometheus.CounterValue, func(s db.PoolSample) float64 { return float64(s.EmptyAcquireCount) }},
	{"empty_acquire_wait_seconds_total", "Time spent waiting by acquires that found the pool empty.", prometheus.CounterValue, func(s db.PoolSample) float64 { return s.EmptyAcquireWait.Seconds() }},
	{"canceled_acquires_total", "Acquires given up (deadline or client gone) before a connection was free.", prometheus.CounterValue, func(s db.PoolSample) float64 { return float64(s.CanceledAcquireCount) }},
	{"new_conns_total", "Connections opened.", prometheus.CounterValue, func(s db.PoolSample) float64 { return float64(s.NewConns) }},
	{"max_lifetime_destroys_total", "Connections closed for reaching HRIS_DB_MAX_CONN_LIFETIME.", prometheus.CounterValue, func(s db.PoolSample) float64 { return float64(s.LifetimeDestroys) }},
	{"max_idle_destroys_total", "Connections closed for idling past HRIS_DB_MAX_CONN_IDLE_TIME.", prometheus.CounterValue, func(s db.PoolSample) float64 { return float64(s.IdleDestroys) }},
}

func newPoolCollector(d *db.DB, labels prometheus.Labels) *poolCollector {
	c := &poolCollector{db: d, descs: map[string]*prometheus.Desc{}}
	for _, s := range poolSeriesList {
		c.descs[s.name] = prometheus.NewDesc("hris_db_pool_"+s.name, s.help, nil, labels)
	}
	c.retries = prometheus.NewDesc("hris_db_retries_total", "Database operations retried, by operation kind and reason.", []string{"op", "reason"}, labels)
	return c
}

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
	ch <- c.retries
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := db.SamplePool(c.db.Pool)
	for _, series := range poolSeriesList {
		ch <- prometheus.MustNewConstMetric(c.descs[series.name], series.kind, series.value(s))
	}
	c.db.Retries.Each(func(op, reason string, n int64) {
		ch <- prometheus.MustNewConstMetric(c.retries, prometheus.CounterValue, float64(n), op, reason)
	})
}
