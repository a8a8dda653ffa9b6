package web_test

// Concurrent approvals: two HR users approve ten 3-day requests of one
// employee against a 25-day allowance, every request by both at the same
// moment. Exactly eight fit; the balance never goes below zero and no
// request is approved (or audited) twice. Then the same while the app's
// database backends are killed in the middle of the approvals.
//
// The figures the closing note asks for (retries, the time of an
// approval under contention) are logged: go test -v -run TestLeaveConcurrent ./web

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"hris/db"
	"hris/db/dbtest"
	"hris/web"
)

// approval is one POST /leave/{id}/approve as the browser saw it.
type approval struct {
	request  int64
	status   int
	attempts int // POSTs sent: a 503 is sent again, as a person would
	took     time.Duration
}

// approveOnce posts an approval without failing the test from a goroutine.
func (c *client) approveOnce(id int64) (int, error) {
	req, _ := http.NewRequest(http.MethodPost, c.e.Srv.URL+leavePath(id)+"/approve", strings.NewReader(""))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", c.e.Srv.URL)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// approveUntilAnswered approves id, sending it again after a 503 (the
// database was unavailable; nothing was acknowledged).
func (c *client) approveUntilAnswered(id int64) approval {
	a := approval{request: id}
	start := time.Now()
	for a.attempts < 30 {
		a.attempts++
		status, err := c.approveOnce(id)
		if err == nil && status != http.StatusServiceUnavailable {
			a.status = status
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	a.took = time.Since(start)
	return a
}

// contendedLeave sets up an employee with ten pending 3-day annual
// requests (Monday to Wednesday of ten weeks) and two HR users.
func contendedLeave(t *testing.T, e *env) (employee int64, requests []int64, hr []*client) {
	t.Helper()
	employee = e.employee("Ada", "Lovelace", fmt.Sprintf("ada.%d@example.com", time.Now().UnixNano()), nil, nil)
	hr = []*client{e.loggedIn("hr"), e.loggedIn("hr")}
	for w := range 10 {
		requests = append(requests, hr[0].request(t, employee, "annual", monday(2+3*w), monday(2+3*w).AddDate(0, 0, 2)))
	}
	return employee, requests, hr
}

// approveAllTwice sends the 20 approvals at once: each request by both
// users. before, if set, runs when all are on their way.
func approveAllTwice(requests []int64, hr []*client) []approval {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		out   []approval
		start = make(chan struct{})
	)
	for _, id := range requests {
		for _, c := range hr {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				a := c.approveUntilAnswered(id)
				mu.Lock()
				out = append(out, a)
				mu.Unlock()
			}()
		}
	}
	close(start)
	wg.Wait()
	return out
}

// checkExactlyEight checks the outcome of approveAllTwice: 8 requests
// approved (24 of 25 days), 1 day left, 2 still pending, every approval
// audited once, each approved request answered 303 twice (approved, then
// already approved) and each of the two that did not fit refused twice
// with 409.
func checkExactlyEight(t *testing.T, e *env, admin *pgx.Conn, employee int64, requests []int64, got []approval) {
	t.Helper()
	ctx := context.Background()
	q := func(sql string, args ...any) int {
		t.Helper()
		var n int
		if err := admin.QueryRow(ctx, sql, args...).Scan(&n); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		return n
	}
	approved := q("SELECT count(*) FROM leave_requests WHERE employee_id = $1 AND status = 'approved'", employee)
	pending := q("SELECT count(*) FROM leave_requests WHERE employee_id = $1 AND status = 'pending'", employee)
	taken := q("SELECT coalesce(sum(days), 0) FROM leave_requests WHERE employee_id = $1 AND status = 'approved' AND kind = 'annual'", employee)
	audits := q("SELECT count(*) FROM audit_log WHERE action = 'leave.approve' AND entity_id = ANY($1)", requests)
	audited := q("SELECT count(DISTINCT entity_id) FROM audit_log WHERE action = 'leave.approve' AND entity_id = ANY($1)", requests)
	auditedApproved := q(`SELECT count(*) FROM leave_requests l WHERE l.employee_id = $1 AND l.status = 'approved'
		AND (SELECT count(*) FROM audit_log a WHERE a.action = 'leave.approve' AND a.entity_id = l.id) = 1`, employee)
	if approved != 8 || pending != 2 || taken != 24 {
		t.Errorf("%d approved (%d days), %d pending; want exactly 8 approved (24 days) and 2 pending", approved, taken, pending)
	}
	if left := web.DefaultLeaveAnnualDays - taken; left != 1 {
		t.Errorf("%d days left, want 1", left)
	}
	if audits != 8 || audited != 8 || auditedApproved != 8 {
		t.Errorf("%d leave.approve audit rows for %d requests (%d approved requests audited exactly once); want 8, 8, 8", audits, audited, auditedApproved)
	}
	byRequest := map[int64][]int{}
	for _, a := range got {
		byRequest[a.request] = append(byRequest[a.request], a.status)
	}
	var ok, refused int
	for id, statuses := range byRequest {
		slices.Sort(statuses)
		switch {
		case slices.Equal(statuses, []int{303, 303}):
			ok++
		case slices.Equal(statuses, []int{409, 409}):
			refused++
		default:
			t.Errorf("request %d answered %v, want 303 twice or 409 twice", id, statuses)
		}
	}
	if ok != 8 || refused != 2 {
		t.Errorf("%d requests answered 303 twice and %d 409 twice, want 8 and 2", ok, refused)
	}
	// What the users see: the balance on the employee's page.
	page := e.client()
	email, pw := e.user("hr")
	page.login(email, pw)
	if left := balanceLeft(t, page.get(leavePath(requests[0])).Body); left != 1 {
		t.Errorf("the request page shows %d days left, want 1", left)
	}
}

// retryCounts is the retry counters as op/reason → count.
func retryCounts(d *db.DB) map[string]int64 {
	m := map[string]int64{}
	d.Retries.Each(func(op, reason string, n int64) { m[op+"/"+reason] = n })
	return m
}

func retryDelta(before, after map[string]int64) (total int64, by string) {
	var parts []string
	for k, n := range after {
		if d := n - before[k]; d > 0 {
			total += d
			parts = append(parts, fmt.Sprintf("%s=%d", k, d))
		}
	}
	slices.Sort(parts)
	return total, strings.Join(parts, " ")
}

// latencies summarises how long the approvals took, from the first POST
// to the answer (503s sent again included).
func latencies(got []approval) string {
	d := make([]time.Duration, 0, len(got))
	attempts := 0
	for _, a := range got {
		d = append(d, a.took)
		attempts += a.attempts
	}
	slices.Sort(d)
	p := func(q float64) time.Duration {
		return d[min(len(d)-1, int(q*float64(len(d))))].Round(100 * time.Microsecond)
	}
	return fmt.Sprintf("min %s, median %s, p90 %s, max %s over %d approvals (%d POSTs)", p(0), p(0.5), p(0.9), d[len(d)-1].Round(100*time.Microsecond), len(d), attempts)
}

func adminConn(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func TestLeaveConcurrentApprovals(t *testing.T) {
	cfg := dbtest.Config(t)
	e := newEnvConfig(t, cfg, web.Config{})
	admin := adminConn(t, cfg.URL)
	// For comparison: approvals one at a time, nobody waiting.
	_, alone, hr := contendedLeave(t, e)
	var single []approval
	for _, id := range alone[:5] {
		single = append(single, hr[0].approveUntilAnswered(id))
	}
	t.Logf("uncontended: %s", latencies(single))
	for round := range 3 {
		employee, requests, hr := contendedLeave(t, e)
		before := retryCounts(e.DB)
		got := approveAllTwice(requests, hr)
		retries, by := retryDelta(before, retryCounts(e.DB))
		checkExactlyEight(t, e, admin, employee, requests, got)
		t.Logf("round %d: 20 approvals at once: %s; %d retries %s", round+1, latencies(got), retries, by)
	}
}

// TestLeaveConcurrentApprovalsWithKilledBackends kills the app's backends
// during the approvals: twice on purpose while all twenty wait inside
// their transactions for the employee's lock (held by the test), then
// all of them every 150 ms, eight times, while the approvals go through
// (mid-transaction, mid-commit, between requests). Approvals whose
// retries ran out answer 503 and are sent again, as a person would.
func TestLeaveConcurrentApprovalsWithKilledBackends(t *testing.T) {
	cfg := dbtest.Config(t)
	e := newEnvConfig(t, cfg, web.Config{})
	ctx := context.Background()
	admin, blocker, killer := adminConn(t, cfg.URL), adminConn(t, cfg.URL), adminConn(t, cfg.URL)
	spare := []uint32{admin.PgConn().PID(), blocker.PgConn().PID(), killer.PgConn().PID()}
	// kill terminates every backend of the test database but the test's
	// own, with a filter on what they are doing (SQL).
	kill := func(filter string) (int, error) {
		var n int
		err := killer.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
			WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> ALL($1) AND `+filter, spare).Scan(&n)
		return n, err
	}
	waitingForLock := func() int {
		var n int
		if err := admin.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
			AND wait_event_type = 'Lock' AND query LIKE '%LockEmployeeForLeave%'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for round := range 2 {
		employee, requests, hr := contendedLeave(t, e)
		before := retryCounts(e.DB)

		// Hold the employee's row lock: every approval stops at its first
		// locking statement, inside its transaction.
		tx, err := blocker.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, "SELECT 1 FROM employees WHERE id = $1 FOR NO KEY UPDATE", employee); err != nil {
			t.Fatal(err)
		}
		done := make(chan []approval)
		go func() { done <- approveAllTwice(requests, hr) }()
		var inTx int64
		for range 2 {
			waitFor(t, "20 approvals waiting for the employee's lock", 20*time.Second, func() bool { return waitingForLock() == 20 })
			n, err := kill("wait_event_type = 'Lock'")
			if err != nil {
				t.Fatal(err)
			}
			inTx += int64(n)
		}
		waitFor(t, "the approvals back at the lock after their retries", 20*time.Second, func() bool { return waitingForLock() > 0 })

		// Let them through while a killer terminates every app backend a
		// few times more, at random points of their work.
		var random atomic.Int64
		var killerDone sync.WaitGroup
		killerDone.Add(1)
		go func() {
			defer killerDone.Done()
			for range 8 {
				time.Sleep(150 * time.Millisecond)
				n, err := kill("true")
				if err != nil {
					t.Errorf("killer: %v", err)
					return
				}
				random.Add(int64(n))
			}
		}()
		if err := tx.Rollback(ctx); err != nil {
			t.Fatal(err)
		}
		var got []approval
		select {
		case got = <-done:
		case <-time.After(2 * time.Minute):
			t.Fatal("approvals did not finish within 2 minutes")
		}
		killerDone.Wait()

		retries, by := retryDelta(before, retryCounts(e.DB))
		checkExactlyEight(t, e, admin, employee, requests, got)
		if inTx < 40 {
			t.Errorf("%d backends killed while waiting inside their approval transactions, want 40 (20 twice)", inTx)
		}
		if retries < inTx {
			t.Errorf("%d retries for %d backends killed inside transactions", retries, inTx)
		}
		t.Logf("round %d: %d backends killed inside approval transactions, %d more at random; %s; %d retries %s",
			round+1, inTx, random.Load(), latencies(got), retries, by)
	}
}
