package main

import (
	"strings"
	"testing"
	"time"
)

func TestConfigAlerts(t *testing.T) {
	base := map[string]string{"DATABASE_URL": "postgres://u@localhost/hris"}
	c, err := parseConfig(envOf(base), true)
	if err != nil {
		t.Fatal(err)
	}
	want := alertConfig{Interval: 10 * time.Second, LongQuery: time.Minute, IdleInTx: time.Minute, Blocked: 30 * time.Second, ConnectionsPct: 80}
	if c.Alerts != want {
		t.Errorf("alert defaults %+v, want %+v", c.Alerts, want)
	}

	set := func(kv ...string) (config, error) {
		m := map[string]string{"DATABASE_URL": base["DATABASE_URL"]}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return parseConfig(envOf(m), true)
	}
	c, err = set("HRIS_ALERT_WEBHOOK_URL", "https://hooks.slack.com/services/T0/B0/s3cret", "HRIS_ALERT_INTERVAL", "30s",
		"HRIS_ALERT_LONG_QUERY", "2m", "HRIS_ALERT_IDLE_IN_TX", "45s", "HRIS_ALERT_BLOCKED", "10s", "HRIS_ALERT_CONNECTIONS_PCT", "90")
	if err != nil {
		t.Fatal(err)
	}
	want = alertConfig{WebhookURL: "https://hooks.slack.com/services/T0/B0/s3cret", Interval: 30 * time.Second,
		LongQuery: 2 * time.Minute, IdleInTx: 45 * time.Second, Blocked: 10 * time.Second, ConnectionsPct: 90}
	if c.Alerts != want {
		t.Errorf("alerts %+v, want %+v", c.Alerts, want)
	}

	for _, bad := range [][2]string{
		{"HRIS_ALERT_WEBHOOK_URL", "hooks.slack.com/services/T0/B0/s3cret"},
		{"HRIS_ALERT_WEBHOOK_URL", "ftp://example.com/s3cret"},
		{"HRIS_ALERT_INTERVAL", "500ms"},
		{"HRIS_ALERT_INTERVAL", "often"},
		{"HRIS_ALERT_LONG_QUERY", "0s"},
		{"HRIS_ALERT_IDLE_IN_TX", "-1s"},
		{"HRIS_ALERT_BLOCKED", "30"},
		{"HRIS_ALERT_CONNECTIONS_PCT", "120"},
		{"HRIS_ALERT_CONNECTIONS_PCT", "0"},
	} {
		_, err := set(bad[0], bad[1])
		if err == nil || !strings.Contains(err.Error(), bad[0]) {
			t.Errorf("%s=%s: error %v, want one naming the variable", bad[0], bad[1], err)
		} else if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%s: the error shows the URL's secret: %v", bad[0], err)
		}
	}
}
