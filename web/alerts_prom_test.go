package web_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"hris/web"
)

// TestAlertRulesPromtool: deploy/prometheus/alerts.yml passes promtool's
// checks and its unit tests (alerts_test.yml, which fire and resolve each
// rule), holds exactly hris's own rules, each tested, and uses only series
// that hris's /metrics exports.
func TestAlertRulesPromtool(t *testing.T) {
	bin := promtool(t)
	dir := filepath.Join("..", "deploy", "prometheus")
	for _, args := range [][]string{{"check", "rules", "alerts.yml"}, {"test", "rules", "alerts_test.yml"}} {
		cmd := exec.Command(bin, args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		t.Logf("promtool %s: %s", strings.Join(args, " "), strings.Join(strings.Fields(string(out)), " "))
	}
	rules, err := os.ReadFile(filepath.Join(dir, "alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	tests, err := os.ReadFile(filepath.Join(dir, "alerts_test.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range regexp.MustCompile(`(?m)^\s*- alert: (\S+)`).FindAllStringSubmatch(string(rules), -1) {
		if !slices.Contains(names, m[1]) {
			names = append(names, m[1])
		}
	}
	want := web.AlertRuleNames()
	sort.Strings(names)
	sort.Strings(want)
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Errorf("alerts.yml has the alerts %v, want hris's rules %v", names, want)
	}
	for _, n := range want {
		if !strings.Contains(string(tests), "alertname: "+n+"\n") {
			t.Errorf("alerts_test.yml does not test %s", n)
		}
	}

	// The series: from an app whose evaluator has read the database once.
	rcv := newReceiver(t)
	e := alertEnv(t, rcv, nil)
	var body string
	waitFor(t, "the fleet rules' first reading on /metrics", 10*time.Second, func() bool {
		body = e.client().get("/metrics").Body
		return strings.Contains(body, "hris_pg_xid_age{") && strings.Contains(body, "hris_db_up{")
	})
	var series []string
	for _, expr := range regexp.MustCompile(`(?m)^\s*expr: (.*)$`).FindAllStringSubmatch(string(rules), -1) {
		for _, m := range regexp.MustCompile(`\bhris_[a-z_]+\b`).FindAllString(expr[1], -1) {
			if !slices.Contains(series, m) {
				series = append(series, m)
			}
		}
	}
	for _, s := range series {
		if strings.HasPrefix(s, "hris_pg_replication_lag_") {
			continue // only with a standby: TestAlertReplicationLag
		}
		if !strings.Contains(body, "\n"+s+"{") {
			t.Errorf("alerts.yml uses %s, which /metrics does not export", s)
		}
	}
	if len(series) < 12 {
		t.Errorf("found only %d series in alerts.yml: %v", len(series), series)
	}
}
