package main

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/joho/godotenv"

	"hris/db"
)

// config is every setting of the process, parsed once at startup from the
// environment (and a .env file in the working directory; the environment
// wins). A bad value is an error that names the variable.
type config struct {
	DB                 db.Config
	DirectURL          string // HRIS_DB_DIRECT_URL: bypasses PgBouncer for migrations and ops queries
	Addr               string
	CookieSecure       bool
	PoolLogInterval    time.Duration
	LongQueryThreshold time.Duration
	MetricsToken       string
	StartupTimeout     time.Duration
	ShutdownTimeout    time.Duration
	ShutdownDelay      time.Duration
	SessionIdleTimeout time.Duration
	SessionLifetime    time.Duration
	InstanceID         string
	TrustedProxies     []netip.Prefix
	PgBouncerPoolSize  int32 // HRIS_PGBOUNCER_POOL_SIZE: server connections PgBouncer may open, for the fleet view's sizing check
	LeaveAnnualDays    int32 // HRIS_LEAVE_ANNUAL_DAYS: annual leave allowance unless HR set one for the employee and year
	QueryStatsInterval time.Duration
	HistoryRetention   time.Duration
	SlowQueryMean      time.Duration
	SlowQueryCalls     int32
	Alerts             alertConfig
	LogLevel           string
	LogFormat          string
}

// alertConfig is HRIS_ALERT_*.
type alertConfig struct {
	WebhookURL     string        // HRIS_ALERT_WEBHOOK_URL: every alert transition is POSTed there as JSON
	Interval       time.Duration // HRIS_ALERT_INTERVAL: how often the rules are evaluated
	LongQuery      time.Duration // HRIS_ALERT_LONG_QUERY
	IdleInTx       time.Duration // HRIS_ALERT_IDLE_IN_TX
	Blocked        time.Duration // HRIS_ALERT_BLOCKED
	ConnectionsPct int32         // HRIS_ALERT_CONNECTIONS_PCT
}

// env looks variables up in the environment first, then in .env.
type env struct {
	getenv func(string) string
	file   map[string]string
}

func loadEnv(getenv func(string) string) (env, error) {
	e := env{getenv: getenv}
	f, err := godotenv.Read(".env")
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return e, fmt.Errorf(".env: %w", err)
	}
	e.file = f
	return e, nil
}

func (e env) get(name string) string {
	if v := e.getenv(name); v != "" {
		return v
	}
	return e.file[name]
}

// parser collects the first error while reading variables.
type parser struct {
	env env
	err error
}

func (p *parser) fail(name, value, want string) {
	if p.err == nil {
		p.err = fmt.Errorf("%s=%q: %s", name, value, want)
	}
}

func (p *parser) str(name, def string) string {
	if v := p.env.get(name); v != "" {
		return v
	}
	return def
}

func (p *parser) duration(name string, def time.Duration) time.Duration {
	v := p.env.get(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		p.fail(name, v, "want a Go duration such as 500ms, 30s or 1h")
		return def
	}
	return d
}

func (p *parser) positiveDuration(name string, def time.Duration) time.Duration {
	d := p.duration(name, def)
	if d == 0 {
		p.fail(name, p.env.get(name), "want a duration above zero")
	}
	return d
}

func (p *parser) int32(name string, def int32, lo, hi int32) int32 {
	v := p.env.get(name)
	if v == "" {
		return def
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil || int32(n) < lo || int32(n) > hi {
		p.fail(name, v, fmt.Sprintf("want a whole number from %d to %d", lo, hi))
		return def
	}
	return int32(n)
}

func (p *parser) bool(name string, def bool) bool {
	v := p.env.get(name)
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		p.fail(name, v, "want true or false")
		return def
	}
	return b
}

// prefixes reads a comma-separated list of addresses and CIDR ranges.
func (p *parser) prefixes(name string) []netip.Prefix {
	var out []netip.Prefix
	for _, f := range strings.Split(p.env.get(name), ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		pfx, err := netip.ParsePrefix(f)
		if err != nil {
			addr, aerr := netip.ParseAddr(f)
			if aerr != nil {
				p.fail(name, f, "want IP addresses or CIDR ranges, comma-separated (10.0.0.0/8, 127.0.0.1)")
				return nil
			}
			pfx = netip.PrefixFrom(addr, addr.BitLen())
		}
		out = append(out, pfx.Masked())
	}
	return out
}

// webhookURL reads an http(s) URL. A bad one is reported without its
// path and query, which may hold a token (a Slack webhook's does).
func (p *parser) webhookURL(name string) string {
	v := strings.TrimSpace(p.env.get(name))
	if v == "" {
		return ""
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		if p.err == nil {
			p.err = fmt.Errorf("%s: want an http:// or https:// URL with a host (such as a Slack incoming webhook's)", name)
		}
		return ""
	}
	return v
}

func (p *parser) oneOf(name, def string, allowed ...string) string {
	v := p.str(name, def)
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	p.fail(name, v, "want one of "+strings.Join(allowed, ", "))
	return def
}

// parseConfig reads the configuration. needDB says whether DATABASE_URL is
// required (hris dev makes its own).
func parseConfig(e env, needDB bool) (config, error) {
	p := &parser{env: e}
	c := config{DB: db.DefaultConfig()}
	c.DB.URL = p.str("DATABASE_URL", "")
	if needDB && c.DB.URL == "" {
		return c, errors.New("DATABASE_URL is not set: point it at PostgreSQL (postgres://user:password@host:5432/hris), or run `hris dev` for a private one")
	}
	c.DirectURL = p.str("HRIS_DB_DIRECT_URL", "")
	c.Addr = p.str("HRIS_ADDR", ":8080")
	c.CookieSecure = p.bool("HRIS_COOKIE_SECURE", true)
	c.DB.MaxConns = p.int32("HRIS_DB_MAX_CONNS", c.DB.MaxConns, 1, 10000)
	c.DB.MinIdleConns = p.int32("HRIS_DB_MIN_IDLE_CONNS", c.DB.MinIdleConns, 0, 10000)
	c.DB.AcquireTimeout = p.positiveDuration("HRIS_DB_ACQUIRE_TIMEOUT", c.DB.AcquireTimeout)
	// Positive: it is also the client-side bound on a server that stops
	// answering, and zero would leave requests hanging on one.
	c.DB.StatementTimeout = p.positiveDuration("HRIS_DB_STATEMENT_TIMEOUT", c.DB.StatementTimeout)
	c.DB.ConnectTimeout = p.positiveDuration("HRIS_DB_CONNECT_TIMEOUT", c.DB.ConnectTimeout)
	c.DB.MaxConnLifetime = p.positiveDuration("HRIS_DB_MAX_CONN_LIFETIME", c.DB.MaxConnLifetime)
	c.DB.MaxConnIdleTime = p.positiveDuration("HRIS_DB_MAX_CONN_IDLE_TIME", c.DB.MaxConnIdleTime)
	c.DB.HealthCheckPeriod = p.positiveDuration("HRIS_DB_HEALTH_CHECK_PERIOD", c.DB.HealthCheckPeriod)
	c.DB.IdleInTxTimeout = p.duration("HRIS_DB_IDLE_IN_TX_TIMEOUT", c.DB.IdleInTxTimeout)
	c.DB.ExecMode = p.oneOf("HRIS_DB_EXEC_MODE", c.DB.ExecMode, "cache_statement", "cache_describe", "describe_exec", "exec", "simple_protocol")
	c.PoolLogInterval = p.duration("HRIS_POOL_LOG_INTERVAL", 60*time.Second)
	c.LongQueryThreshold = p.positiveDuration("HRIS_LONG_QUERY_THRESHOLD", 5*time.Second)
	c.MetricsToken = p.str("HRIS_METRICS_TOKEN", "")
	c.StartupTimeout = p.positiveDuration("HRIS_DB_STARTUP_TIMEOUT", 15*time.Second)
	c.ShutdownTimeout = p.positiveDuration("HRIS_SHUTDOWN_TIMEOUT", 20*time.Second)
	c.ShutdownDelay = p.duration("HRIS_SHUTDOWN_DELAY", 0)
	c.SessionIdleTimeout = p.positiveDuration("HRIS_SESSION_IDLE_TIMEOUT", 8*time.Hour)
	c.SessionLifetime = p.positiveDuration("HRIS_SESSION_LIFETIME", 7*24*time.Hour)
	host, _ := os.Hostname()
	port := c.Addr
	if _, p, err := net.SplitHostPort(c.Addr); err == nil {
		port = p
	}
	c.InstanceID = p.str("HRIS_INSTANCE_ID", host+":"+port)
	c.TrustedProxies = p.prefixes("HRIS_TRUSTED_PROXIES")
	c.PgBouncerPoolSize = p.int32("HRIS_PGBOUNCER_POOL_SIZE", 0, 0, 100000)
	c.LeaveAnnualDays = p.int32("HRIS_LEAVE_ANNUAL_DAYS", 25, 1, 366)
	c.QueryStatsInterval = p.duration("HRIS_QUERY_STATS_INTERVAL", 5*time.Minute)
	c.HistoryRetention = p.positiveDuration("HRIS_HISTORY_RETENTION", 7*24*time.Hour)
	c.SlowQueryMean = p.positiveDuration("HRIS_SLOW_QUERY_MEAN", 20*time.Millisecond)
	c.SlowQueryCalls = p.int32("HRIS_SLOW_QUERY_CALLS", 100, 1, 1<<30)
	c.Alerts.WebhookURL = p.webhookURL("HRIS_ALERT_WEBHOOK_URL")
	c.Alerts.Interval = p.positiveDuration("HRIS_ALERT_INTERVAL", 10*time.Second)
	c.Alerts.LongQuery = p.positiveDuration("HRIS_ALERT_LONG_QUERY", 60*time.Second)
	c.Alerts.IdleInTx = p.positiveDuration("HRIS_ALERT_IDLE_IN_TX", 60*time.Second)
	c.Alerts.Blocked = p.positiveDuration("HRIS_ALERT_BLOCKED", 30*time.Second)
	c.Alerts.ConnectionsPct = p.int32("HRIS_ALERT_CONNECTIONS_PCT", 80, 1, 100)
	c.LogLevel = p.oneOf("HRIS_LOG_LEVEL", "info", "debug", "info", "warn", "error")
	c.LogFormat = p.oneOf("HRIS_LOG_FORMAT", "text", "text", "json")
	if p.err != nil {
		return c, p.err
	}
	if iv := c.QueryStatsInterval; iv > 0 && (iv < time.Second || time.Hour%iv != 0 && iv%time.Hour != 0) {
		// Snapshots are keyed by wall-clock intervals: 5m means :00, :05…
		return c, fmt.Errorf("HRIS_QUERY_STATS_INTERVAL=%s: want a duration that divides an hour (1m, 5m, 15m) or whole hours, or 0 to turn snapshots off", iv)
	}
	if c.Alerts.Interval < time.Second {
		return c, fmt.Errorf("HRIS_ALERT_INTERVAL=%s: want 1s or more", c.Alerts.Interval)
	}
	if c.DB.MinIdleConns > c.DB.MaxConns {
		return c, fmt.Errorf("HRIS_DB_MIN_IDLE_CONNS=%d is above HRIS_DB_MAX_CONNS=%d", c.DB.MinIdleConns, c.DB.MaxConns)
	}
	if c.DB.URL != "" {
		if _, err := db.PoolConfig(c.DB); err != nil {
			return c, fmt.Errorf("DATABASE_URL: cannot parse it (%v)", redactErr(err))
		}
	}
	if c.DirectURL != "" {
		d := c.DB
		d.URL = c.DirectURL
		if _, err := db.PoolConfig(d); err != nil {
			return c, fmt.Errorf("HRIS_DB_DIRECT_URL: cannot parse it (%v)", redactErr(err))
		}
	}
	return c, nil
}

// directDB is the database config for work that needs a real server session
// (migrations, the ops dashboard): HRIS_DB_DIRECT_URL when set.
func (c config) directDB() db.Config {
	d := c.DB
	if c.DirectURL != "" {
		d.URL = c.DirectURL
	}
	return d
}

// redactErr keeps passwords in a bad URL out of the message.
func redactErr(err error) string {
	s := err.Error()
	if i := strings.Index(s, "://"); i >= 0 {
		if j := strings.Index(s[i:], "@"); j >= 0 {
			return s[:i+3] + "…" + s[i+j:]
		}
	}
	return s
}
