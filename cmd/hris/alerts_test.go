package main

// Alerts with the real binary: the database going away under an instance
// (stopped, then frozen), an instance that stops sending heartbeats, and
// the alert sender killed while a receiver keeps it waiting. A real HTTP
// receiver takes the webhook; figures are logged as LATENCY for the
// closing note (HRIS_ALERT_INTERVAL=1s here).

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"hris/db/dbtest"
	"hris/db/pglocal"
)

// hookMsg is one webhook request.
type hookMsg struct {
	Status   string         `json:"status"`
	Rule     string         `json:"rule"`
	Severity string         `json:"severity"`
	Summary  string         `json:"summary"`
	Instance string         `json:"instance"`
	Details  map[string]any `json:"details"`
	At       time.Time      `json:"-"`
	Key      string         `json:"-"`
}

// hookReceiver is a webhook receiver; hang, when set, keeps request n
// (from 1) waiting until the client goes away.
type hookReceiver struct {
	t        *testing.T
	url      string
	mu       sync.Mutex
	accepted []hookMsg
	requests []hookMsg
	hang     func(n int) bool
}

func newHookReceiver(t *testing.T) *hookReceiver {
	r := &hookReceiver{t: t}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		raw, _ := io.ReadAll(req.Body)
		var m hookMsg
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Errorf("webhook body: %v\n%s", err, raw)
		}
		m.At, m.Key = time.Now(), req.Header.Get("Idempotency-Key")
		r.mu.Lock()
		r.requests = append(r.requests, m)
		n, hang := len(r.requests), r.hang
		r.mu.Unlock()
		if hang != nil && hang(n) {
			<-req.Context().Done()
			return
		}
		r.mu.Lock()
		r.accepted = append(r.accepted, m)
		r.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	r.url = srv.URL + "/hooks/T000/SECRET"
	return r
}

func (r *hookReceiver) of(rule, status string) []hookMsg {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []hookMsg
	for _, m := range r.accepted {
		if m.Rule == rule && m.Status == status {
			out = append(out, m)
		}
	}
	return out
}

// wait returns the n-th (from 1) accepted message of rule with status.
func (r *hookReceiver) wait(rule, status string, n int, within time.Duration) hookMsg {
	r.t.Helper()
	deadline := time.Now().Add(within)
	for {
		if ms := r.of(rule, status); len(ms) >= n {
			return ms[n-1]
		}
		if time.Now().After(deadline) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.t.Fatalf("no %s %s #%d within %s; accepted: %+v", status, rule, n, within, r.accepted)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func latency(t *testing.T, what string, condition time.Time, m hookMsg) {
	t.Helper()
	t.Logf("LATENCY %-50s %7.2fs", what, m.At.Sub(condition).Seconds())
}

// TestAlertDatabaseUnreachable: PostgreSQL stops under an instance. The
// instance cannot store the transition, so it sends database_unreachable
// to the webhook itself while the database is still down; once the
// database is back it sends resolved, and the episode is stored after the
// fact, marked as sent, so nobody sends it again. The same for a frozen
// server (SIGSTOP), which accepts connections and never answers.
func TestAlertDatabaseUnreachable(t *testing.T) {
	rcv := newHookReceiver(t)
	f := newFaultApp(t, "HRIS_INSTANCE_ID", "app1", "HRIS_ALERT_WEBHOOK_URL", rcv.url, "HRIS_ALERT_INTERVAL", "1s",
		"HRIS_DB_CONNECT_TIMEOUT", "2s")
	defer func() {
		if strings.Contains(f.proc.output(), "SECRET") {
			t.Error("the webhook URL's secret part is in the log")
		}
	}()
	time.Sleep(2 * time.Second) // a few healthy rounds
	if err := f.srv.Stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	down := time.Now()
	m := rcv.wait("database_unreachable", "firing", 1, 30*time.Second)
	latency(t, "database_unreachable (PostgreSQL stopped)", down, m)
	if m.Instance != "app1" || m.Severity != "critical" || !strings.Contains(m.Summary, "cannot reach PostgreSQL") {
		t.Errorf("firing message: %+v", m)
	}
	if err := f.srv.Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
	up := time.Now()
	r := rcv.wait("database_unreachable", "resolved", 1, 30*time.Second)
	latency(t, "database_unreachable resolved (restarted)", up, r)

	// Stored after the fact: one episode, both transitions sent.
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, f.url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	transitions := func() string {
		rows, err := conn.Query(ctx, `SELECT t.status || '/' || t.delivery || '/' || coalesce(t.sent_by, '')
			FROM alert_transitions t JOIN alerts a ON a.id = t.alert_id
			WHERE a.rule = 'database_unreachable' ORDER BY t.id`)
		if err != nil {
			t.Fatal(err)
		}
		got, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(got, " ")
	}
	waitFor(t, "the outage to be stored", 15*time.Second, func() bool {
		return transitions() == "firing/sent/app1 resolved/sent/app1"
	})

	// Frozen: connections open and nothing answers.
	time.Sleep(2 * time.Second)
	if err := f.srv.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	frozen := time.Now()
	thawed := false
	defer func() {
		if !thawed {
			_ = f.srv.Signal(syscall.SIGCONT)
		}
	}()
	m2 := rcv.wait("database_unreachable", "firing", 2, 30*time.Second)
	latency(t, "database_unreachable (PostgreSQL frozen)", frozen, m2)
	_ = f.srv.Signal(syscall.SIGCONT)
	thawed = true
	thaw := time.Now()
	r2 := rcv.wait("database_unreachable", "resolved", 2, 30*time.Second)
	latency(t, "database_unreachable resolved (thawed)", thaw, r2)
	time.Sleep(2 * time.Second)
	if n, k := len(rcv.of("database_unreachable", "firing")), len(rcv.of("database_unreachable", "resolved")); n != 2 || k != 2 {
		t.Errorf("%d firing and %d resolved messages for two outages, want 2 and 2", n, k)
	}
	waitFor(t, "the second outage to be stored", 15*time.Second, func() bool {
		return transitions() == "firing/sent/app1 resolved/sent/app1 firing/sent/app1 resolved/sent/app1"
	})
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestAlertInstanceStale: two instances behind PgBouncer in transaction
// mode (the ops pool direct, as deployed); the one holding the alerts
// lease freezes (SIGSTOP) and stops sending heartbeats. The other takes
// the lease over, fires instance_stale naming it, and resolves when it
// thaws.
func TestAlertInstanceStale(t *testing.T) {
	srv, _ := dbtest.NewServer(t, pglocal.Options{})
	port, _ := startPgBouncer(t, srv, 8)
	pooled := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/hris?sslmode=disable", port)
	rcv := newHookReceiver(t)
	// As deployed (deploy/hris.env.example): pages through PgBouncer, the
	// ops pool (where the alerts run) straight to PostgreSQL.
	env := func(id string) map[string]string {
		return serveEnv(pooled, "HRIS_DB_DIRECT_URL", srv.URL("hris"), "HRIS_INSTANCE_ID", id, "HRIS_DB_EXEC_MODE", "cache_describe",
			"HRIS_ALERT_WEBHOOK_URL", rcv.url, "HRIS_ALERT_INTERVAL", "1s")
	}
	procs := map[string]*proc{}
	procs["app1"], _ = serveApp(t, env("app1"))
	procs["app2"], _ = serveApp(t, env("app2"))
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, srv.URL("hris"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	waitFor(t, "both instances to send heartbeats", 20*time.Second, func() bool {
		var n int
		_ = conn.QueryRow(ctx, "SELECT count(*) FROM app_instances WHERE last_seen > now() - interval '5 seconds'").Scan(&n)
		return n == 2
	})
	var holder string
	waitFor(t, "an alerts lease holder", 20*time.Second, func() bool {
		return conn.QueryRow(ctx, "SELECT holder FROM leases WHERE name = 'alerts' AND expires_at > now()").Scan(&holder) == nil
	})
	// The one that freezes is the one evaluating: the other must take the
	// lease over before it can notice.
	b := procs[holder]
	other := map[string]string{"app1": "app2", "app2": "app1"}[holder]
	if err := b.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	frozen := time.Now()
	thawed := false
	defer func() {
		if !thawed {
			_ = b.cmd.Process.Signal(syscall.SIGCONT)
		}
	}()
	m := rcv.wait("instance_stale", "firing", 1, 60*time.Second)
	latency(t, "instance_stale (the lease holder frozen)", frozen, m)
	if m.Instance != holder || m.Details["stale_instance"] != holder || m.Details["evaluated_by"] != other {
		t.Errorf("firing message: %+v", m)
	}
	_ = b.cmd.Process.Signal(syscall.SIGCONT)
	thawed = true
	thaw := time.Now()
	r := rcv.wait("instance_stale", "resolved", 1, 30*time.Second)
	latency(t, "instance_stale resolved (thawed)", thaw, r)
	time.Sleep(3 * time.Second)
	if n, k := len(rcv.of("instance_stale", "firing")), len(rcv.of("instance_stale", "resolved")); n != 1 || k != 1 {
		t.Errorf("%d firing and %d resolved messages, want one each", n, k)
	}
}

// TestAlertSenderKilledMidDelivery: the receiver keeps the first delivery
// waiting and the instance sending it is killed (SIGKILL) in the middle.
// The other instance takes the lease over, and once the dead sender's
// claim has expired sends the message again, with the same
// Idempotency-Key: the receiver accepts it exactly once. The resolved
// message follows from the survivor.
func TestAlertSenderKilledMidDelivery(t *testing.T) {
	_, u := dbtest.NewServer(t, pglocal.Options{})
	rcv := newHookReceiver(t)
	rcv.hang = func(n int) bool { return n == 1 }
	env := func(id string) map[string]string {
		return serveEnv(u, "HRIS_INSTANCE_ID", id, "HRIS_ALERT_WEBHOOK_URL", rcv.url, "HRIS_ALERT_INTERVAL", "1s",
			"HRIS_ALERT_IDLE_IN_TX", "1s")
	}
	procs := map[string]*proc{}
	procs["app1"], _ = serveApp(t, env("app1"))
	procs["app2"], _ = serveApp(t, env("app2"))
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var holder string
	waitFor(t, "an alerts lease holder", 20*time.Second, func() bool {
		return conn.QueryRow(ctx, "SELECT holder FROM leases WHERE name = 'alerts' AND expires_at > now()").Scan(&holder) == nil
	})
	survivor := map[string]string{"app1": "app2", "app2": "app1"}[holder]

	idle, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close(ctx)
	tx, err := idle.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "SELECT 1"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	waitFor(t, "the first delivery to reach the receiver", 20*time.Second, func() bool {
		rcv.mu.Lock()
		defer rcv.mu.Unlock()
		return len(rcv.requests) == 1
	})
	var sender string
	_ = conn.QueryRow(ctx, "SELECT coalesce(claimed_by, '') FROM alert_transitions ORDER BY id LIMIT 1").Scan(&sender)
	if sender != holder {
		t.Fatalf("the transition is being sent by %q, not the lease holder %s", sender, holder)
	}
	if err := procs[holder].cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	m := rcv.wait("idle_in_transaction", "firing", 1, 60*time.Second)
	latency(t, "idle_in_transaction with its sender killed mid-delivery", killed, m)
	t.Logf("from the session going idle: %.1fs", m.At.Sub(start).Seconds())
	var reqs []hookMsg
	rcv.mu.Lock()
	for _, r := range rcv.requests {
		if r.Rule == "idle_in_transaction" && r.Status == "firing" && r.Severity == "warning" {
			reqs = append(reqs, r)
		}
	}
	rcv.mu.Unlock()
	if len(reqs) != 2 || reqs[0].Key != reqs[1].Key || reqs[0].Key == "" {
		t.Errorf("requests %+v: want the hung one and one more with the same Idempotency-Key", reqs)
	}
	// The sender records the delivery after the receiver has answered.
	var sentBy string
	var attempts int
	waitFor(t, "the delivery to be recorded", 10*time.Second, func() bool {
		err := conn.QueryRow(ctx, "SELECT sent_by, attempts FROM alert_transitions WHERE id = (SELECT min(id) FROM alert_transitions) AND sent_by IS NOT NULL").Scan(&sentBy, &attempts)
		return err == nil
	})
	if sentBy != survivor || attempts != 2 {
		t.Errorf("sent by %s after %d attempts, want %s after 2", sentBy, attempts, survivor)
	}
	// The killed instance has stopped sending heartbeats, too.
	st := rcv.wait("instance_stale", "firing", 1, 40*time.Second)
	latency(t, "instance_stale (the sender killed)", killed, st)
	if st.Instance != holder || st.Details["evaluated_by"] != survivor {
		t.Errorf("instance_stale: %+v", st)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	committed := time.Now()
	r := rcv.wait("idle_in_transaction", "resolved", 1, 30*time.Second)
	latency(t, "idle_in_transaction resolved by the survivor", committed, r)
	time.Sleep(2 * time.Second)
	// Each transition accepted once: the warning, the critical (five
	// times the threshold passed meanwhile), the resolved.
	seen := map[string]int{}
	for _, st := range []string{"firing", "resolved"} {
		for _, m := range rcv.of("idle_in_transaction", st) {
			seen[st+"/"+m.Severity]++
		}
	}
	if seen["firing/warning"] != 1 || seen["firing/critical"] > 1 || seen["resolved/critical"]+seen["resolved/warning"] != 1 {
		t.Errorf("accepted %v, want each transition once", seen)
	}
}
