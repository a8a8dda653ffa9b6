package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"hris/db/dbtest"
	"hris/web"
)

// alertBody is the webhook's JSON, as a receiver reads it.
type alertBody struct {
	Status     string         `json:"status"`
	Rule       string         `json:"rule"`
	Severity   string         `json:"severity"`
	Summary    string         `json:"summary"`
	Details    map[string]any `json:"details"`
	StartedAt  time.Time      `json:"started_at"`
	ResolvedAt *time.Time     `json:"resolved_at"`
	Instance   string         `json:"instance"`
	Text       string         `json:"text"`
}

// received is one message a receiver accepted (answered 2xx).
type received struct {
	alertBody
	At  time.Time
	Key string // Idempotency-Key
}

func (m received) String() string {
	return fmt.Sprintf("%s %s %s on %s at %s: %s", m.Status, m.Rule, m.Severity, m.Instance, m.At.Format("15:04:05.000"), m.Summary)
}

// contractFields are the webhook body's fields (DESIGN.md), exactly.
var contractFields = []string{"details", "instance", "resolved_at", "rule", "severity", "started_at", "status", "summary", "text"}

// receiver is a real HTTP webhook receiver. behave, when set, decides the
// fate of request n (from 1): a status other than 2xx, or a hang (the
// request gets no answer until the client gives up or hang passes).
type receiver struct {
	t   *testing.T
	srv *httptest.Server

	mu       sync.Mutex
	got      []received
	attempts []received // every request, answered or not
	behave   func(n int, m alertBody) (status int, hang time.Duration)
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{t: t}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	raw, _ := io.ReadAll(req.Body)
	var fields map[string]json.RawMessage
	var m alertBody
	if err := json.Unmarshal(raw, &fields); err != nil {
		r.t.Errorf("webhook body is not JSON: %v\n%s", err, raw)
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		r.t.Errorf("webhook body: %v\n%s", err, raw)
	}
	var keys []string
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if strings.Join(keys, ",") != strings.Join(contractFields, ",") {
		r.t.Errorf("webhook body has fields %v, want %v", keys, contractFields)
	}
	if ct := req.Header.Get("Content-Type"); ct != "application/json" || req.Method != http.MethodPost {
		r.t.Errorf("webhook got %s with Content-Type %q", req.Method, ct)
	}
	msg := received{alertBody: m, At: time.Now(), Key: req.Header.Get("Idempotency-Key")}
	r.mu.Lock()
	r.attempts = append(r.attempts, msg)
	n := len(r.attempts)
	behave := r.behave
	r.mu.Unlock()
	if behave != nil {
		status, hang := behave(n, m)
		if hang > 0 {
			select {
			case <-req.Context().Done():
			case <-time.After(hang):
			}
			return
		}
		if status != 0 && (status < 200 || status > 299) {
			w.WriteHeader(status)
			return
		}
	}
	r.mu.Lock()
	r.got = append(r.got, msg)
	r.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// messages are the accepted messages so far.
func (r *receiver) messages() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

func (r *receiver) requests() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.attempts)
}

// of are the accepted messages of rule with status ("" for any).
func (r *receiver) of(rule, status string) []received {
	var out []received
	for _, m := range r.messages() {
		if m.Rule == rule && (status == "" || m.Status == status) {
			out = append(out, m)
		}
	}
	return out
}

// wait returns the first accepted message of rule with status and
// severity ("" for any), waiting up to within.
func (r *receiver) wait(rule, status, severity string, within time.Duration) received {
	r.t.Helper()
	deadline := time.Now().Add(within)
	for {
		for _, m := range r.of(rule, status) {
			if severity == "" || m.Severity == severity {
				return m
			}
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("no %s %s %s message within %s; got:\n%s", status, severity, rule, within, r.dump())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (r *receiver) dump() string {
	var b strings.Builder
	for _, m := range r.messages() {
		b.WriteString("  " + m.String() + "\n")
	}
	return b.String()
}

// exactlyOnce fails unless rule's firing (at each severity in sevs) and
// resolved messages each arrived exactly once.
func (r *receiver) exactlyOnce(t *testing.T, rule string, sevs ...string) {
	t.Helper()
	for _, sev := range sevs {
		n := 0
		for _, m := range r.of(rule, "firing") {
			if m.Severity == sev {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%s firing %s arrived %d times, want once:\n%s", rule, sev, n, r.dump())
		}
	}
	if n := len(r.of(rule, "resolved")); n != 1 {
		t.Errorf("%s resolved arrived %d times, want once:\n%s", rule, n, r.dump())
	}
}

// testAlerts are alert settings for tests: a quick interval and short
// thresholds (the defaults are a minute).
func testAlerts(url string) web.AlertConfig {
	return web.AlertConfig{
		WebhookURL: url, Interval: 250 * time.Millisecond,
		LongQuery: time.Second, IdleInTx: time.Second, Blocked: time.Second,
		PoolWindow: 3 * time.Second, RetryBase: 100 * time.Millisecond, WebhookTimeout: 2 * time.Second,
	}
}

// alertEnv is an app whose alerts go to rcv, with testAlerts changed by mod.
func alertEnv(t *testing.T, rcv *receiver, mod func(*web.Config)) *env {
	cfg := web.Config{Alerts: testAlerts(rcv.srv.URL)}
	if mod != nil {
		mod(&cfg)
	}
	return newEnvConfig(t, dbtest.Config(t), cfg)
}

// transitions lists the stored transitions of rule, oldest first, as
// "status/severity/delivery/attempts".
func (e *env) transitions(rule string) []string {
	e.t.Helper()
	rows, err := e.DB.Pool.Query(context.Background(), `
		SELECT t.status, t.severity, t.delivery, t.attempts
		FROM alert_transitions t JOIN alerts a ON a.id = t.alert_id
		WHERE a.rule = $1 ORDER BY t.id`, rule)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var status, sev, delivery string
		var attempts int
		if err := rows.Scan(&status, &sev, &delivery, &attempts); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s/%s/%s/%d", status, sev, delivery, attempts))
	}
	return out
}

// delivered waits (up to 5 s) until the first n stored transitions of rule
// have left "pending", and returns them all. The sender records a
// delivery only after the receiver has answered, so a test that has just
// seen the message must give it that moment.
func (e *env) delivered(rule string, n int) []string {
	e.t.Helper()
	var got []string
	deadline := time.Now().Add(5 * time.Second)
	for {
		got = e.transitions(rule)
		settled := len(got) >= n
		for i := 0; settled && i < n; i++ {
			settled = !strings.Contains(got[i], "/pending/")
		}
		if settled || time.Now().After(deadline) {
			return got
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// logLatency logs the time from a condition to its notification, for the
// closing note.
func logLatency(t *testing.T, what string, condition time.Time, m received) {
	t.Helper()
	t.Logf("LATENCY %-45s %7.2fs (condition %s, notified %s)", what, m.At.Sub(condition).Seconds(),
		condition.Format("15:04:05.000"), m.At.Format("15:04:05.000"))
}

// sleepFor runs pg_sleep(seconds) on a session of its own named app and
// returns its pid; the statement is cancelled, and waited for, when the
// test ends, so no query outlives the connection closing under it.
func (e *env) sleepFor(app string, seconds int) int32 {
	e.t.Helper()
	s := e.session(e.DB.Config().URL, app)
	done := s.start(fmt.Sprintf("SELECT pg_sleep(%d)", seconds))
	e.t.Cleanup(func() {
		_, _ = e.DB.Pool.Exec(context.Background(), "SELECT pg_cancel_backend($1)", s.pid)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
		}
	})
	return s.pid
}
