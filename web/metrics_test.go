package web_test

import (
	"bytes"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"hris/db/dbtest"
	"hris/web"
)

// promtool finds Prometheus's promtool (Debian package prometheus; make
// test installs it). A missing promtool fails the test: skipping would
// prove nothing.
func promtool(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("HRIS_PROMTOOL"), "/usr/bin/promtool"} {
		if p != "" {
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	if p, err := exec.LookPath("promtool"); err == nil {
		return p
	}
	t.Fatal("promtool not found: install it (Debian: apt-get install prometheus; `make test` checks for it) or set HRIS_PROMTOOL")
	return ""
}

func TestMetricsPassPromtool(t *testing.T) {
	e := newEnv(t)
	c := e.loggedIn("admin")
	c.get("/users").expect(t, http.StatusOK) // some request and pool traffic to report
	r := e.client().get("/metrics").expect(t, http.StatusOK)
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type %q, want Prometheus text", ct)
	}

	cmd := exec.Command(promtool(t), "check", "metrics")
	cmd.Stdin = strings.NewReader(r.Body)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out.String())
	}
	if s := strings.TrimSpace(out.String()); s != "" {
		t.Logf("promtool: %s", s)
	}

	for _, series := range []string{
		"hris_db_pool_acquired_conns", "hris_db_pool_idle_conns", "hris_db_pool_total_conns",
		"hris_db_pool_max_conns", "hris_db_pool_constructing_conns",
		"hris_db_pool_acquires_total", "hris_db_pool_empty_acquires_total", "hris_db_pool_canceled_acquires_total",
		"hris_db_pool_empty_acquire_wait_seconds_total", "hris_db_pool_new_conns_total",
	} {
		re := regexp.MustCompile(`(?m)^` + series + `\{instance="test"\} \d+(\.\d+)?(e[+-]\d+)?$`)
		if !re.MatchString(r.Body) {
			t.Errorf("no %s{instance=\"test\"} sample", series)
		}
	}
	if !regexp.MustCompile(`(?m)^hris_http_request_duration_seconds_count\{code="200",instance="test",method="GET",route="/users"\} [1-9]`).MatchString(r.Body) {
		t.Error("the request to /users is not in hris_http_request_duration_seconds")
	}
	if !strings.Contains(r.Body, "# TYPE hris_db_pool_acquires_total counter") || !strings.Contains(r.Body, "# TYPE hris_db_pool_acquired_conns gauge") {
		t.Error("pool series lack their TYPE lines")
	}
}

func TestMetricsToken(t *testing.T) {
	e := newEnvConfig(t, dbtest.Config(t), web.Config{MetricsToken: "s3cret-token"})
	c := e.client()
	for _, auth := range []string{"", "Bearer wrong", "s3cret-token", "Basic czNjcmV0LXRva2Vu", "Bearer s3cret-token2"} {
		var r response
		if auth == "" {
			r = c.get("/metrics")
		} else {
			r = c.get("/metrics", "Authorization", auth)
		}
		r.expect(t, http.StatusUnauthorized)
		if strings.Contains(r.Body, "hris_db_pool") {
			t.Errorf("Authorization %q: metrics leaked in a 401", auth)
		}
		if !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("Authorization %q: no WWW-Authenticate: Bearer challenge", auth)
		}
	}
	r := c.get("/metrics", "Authorization", "Bearer s3cret-token").expect(t, http.StatusOK)
	if !strings.Contains(r.Body, `hris_db_pool_acquired_conns{instance="test"}`) {
		t.Error("authorised scrape lacks the pool series")
	}
	// Without a token configured, /metrics is open (newEnv's default).
	newEnv(t).client().get("/metrics").expect(t, http.StatusOK)
}
