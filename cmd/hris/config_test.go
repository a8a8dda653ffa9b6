package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func envOf(m map[string]string) env {
	return env{getenv: func(k string) string { return m[k] }}
}

func TestConfigDefaults(t *testing.T) {
	c, err := parseConfig(envOf(map[string]string{"DATABASE_URL": "postgres://u@localhost/hris"}), true)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"HRIS_ADDR", c.Addr, ":8080"},
		{"HRIS_COOKIE_SECURE", c.CookieSecure, true},
		{"HRIS_DB_MAX_CONNS", c.DB.MaxConns, int32(20)},
		{"HRIS_DB_MIN_IDLE_CONNS", c.DB.MinIdleConns, int32(2)},
		{"HRIS_DB_ACQUIRE_TIMEOUT", c.DB.AcquireTimeout, 5 * time.Second},
		{"HRIS_DB_STATEMENT_TIMEOUT", c.DB.StatementTimeout, 30 * time.Second},
		{"HRIS_DB_CONNECT_TIMEOUT", c.DB.ConnectTimeout, 10 * time.Second},
		{"HRIS_DB_MAX_CONN_LIFETIME", c.DB.MaxConnLifetime, time.Hour},
		{"HRIS_DB_MAX_CONN_IDLE_TIME", c.DB.MaxConnIdleTime, 30 * time.Minute},
		{"HRIS_DB_HEALTH_CHECK_PERIOD", c.DB.HealthCheckPeriod, time.Minute},
		{"HRIS_POOL_LOG_INTERVAL", c.PoolLogInterval, 60 * time.Second},
		{"HRIS_LONG_QUERY_THRESHOLD", c.LongQueryThreshold, 5 * time.Second},
		{"HRIS_METRICS_TOKEN", c.MetricsToken, ""},
		{"HRIS_DB_EXEC_MODE", c.DB.ExecMode, "cache_statement"},
		{"HRIS_DB_DIRECT_URL", c.DirectURL, ""},
		{"HRIS_LEAVE_ANNUAL_DAYS", c.LeaveAnnualDays, int32(25)},
		{"HRIS_QUERY_STATS_INTERVAL", c.QueryStatsInterval, 5 * time.Minute},
		{"HRIS_HISTORY_RETENTION", c.HistoryRetention, 168 * time.Hour},
		{"HRIS_SLOW_QUERY_MEAN", c.SlowQueryMean, 20 * time.Millisecond},
		{"HRIS_SLOW_QUERY_CALLS", c.SlowQueryCalls, int32(100)},
	}
	for _, ck := range checks {
		if ck.got != ck.want {
			t.Errorf("%s default = %v, want %v", ck.name, ck.got, ck.want)
		}
	}
}

func TestConfigBadValuesNameTheVariable(t *testing.T) {
	for name, value := range map[string]string{
		"HRIS_DB_MAX_CONNS":         "lots",
		"HRIS_DB_MIN_IDLE_CONNS":    "-1",
		"HRIS_DB_ACQUIRE_TIMEOUT":   "5",
		"HRIS_DB_STATEMENT_TIMEOUT": "soon",
		"HRIS_DB_CONNECT_TIMEOUT":   "0s",
		"HRIS_COOKIE_SECURE":        "maybe",
		"HRIS_DB_EXEC_MODE":         "turbo",
		"HRIS_POOL_LOG_INTERVAL":    "-5s",
		"HRIS_LEAVE_ANNUAL_DAYS":    "0",
		"HRIS_QUERY_STATS_INTERVAL": "7m",
		"HRIS_HISTORY_RETENTION":    "0s",
		"HRIS_SLOW_QUERY_MEAN":      "fast",
		"HRIS_SLOW_QUERY_CALLS":     "0",
		"DATABASE_URL":              "postgres://u@host:notaport/db",
	} {
		m := map[string]string{"DATABASE_URL": "postgres://u@localhost/hris", name: value}
		_, err := parseConfig(envOf(m), true)
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=%q: err = %v, want one naming %s", name, value, err, name)
		}
	}
	_, err := parseConfig(envOf(map[string]string{}), true)
	if err == nil || !strings.Contains(err.Error(), "DATABASE_URL") {
		t.Errorf("missing DATABASE_URL: %v", err)
	}
	_, err = parseConfig(envOf(map[string]string{"DATABASE_URL": "postgres://x/y", "HRIS_DB_MAX_CONNS": "2", "HRIS_DB_MIN_IDLE_CONNS": "3"}), true)
	if err == nil || !strings.Contains(err.Error(), "HRIS_DB_MIN_IDLE_CONNS") {
		t.Errorf("min idle above max: %v", err)
	}
}

func TestConfigQueryStatsInterval(t *testing.T) {
	for value, want := range map[string]time.Duration{"0": 0, "0s": 0, "1m": time.Minute, "15m": 15 * time.Minute, "2h": 2 * time.Hour, "10s": 10 * time.Second} {
		c, err := parseConfig(envOf(map[string]string{"DATABASE_URL": "postgres://u@localhost/hris", "HRIS_QUERY_STATS_INTERVAL": value}), true)
		if err != nil || c.QueryStatsInterval != want {
			t.Errorf("HRIS_QUERY_STATS_INTERVAL=%s: %v, %v; want %v", value, c.QueryStatsInterval, err, want)
		}
	}
}

func TestConfigDotEnvFileAndEnvironmentWins(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.WriteFile(filepath.Join(dir, ".env"), []byte("DATABASE_URL=postgres://file@localhost/hris\nHRIS_ADDR=:9999\nHRIS_DB_MAX_CONNS=7\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e, err := loadEnv(func(k string) string {
		if k == "HRIS_ADDR" {
			return ":7777"
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	c, err := parseConfig(e, true)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":7777" || c.DB.MaxConns != 7 || !strings.Contains(c.DB.URL, "file@") {
		t.Errorf("got addr %s max %d url %s; want env's :7777 and .env's 7 and URL", c.Addr, c.DB.MaxConns, c.DB.URL)
	}
}
