package web_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"hris/db/dbtest"
	"hris/web"
)

// TestLeaveApprovalBehindAStuckLock: something else holds the employee's
// row (a transaction left open, a bulk update). An approval waits for it
// at most 5 s, then answers 503 with Retry-After, and nothing changes;
// once the row is free, the same click goes through.
func TestLeaveApprovalBehindAStuckLock(t *testing.T) {
	cfg := dbtest.Config(t)
	e := newEnvConfig(t, cfg, web.Config{})
	emp := e.employee("Ada", "Lovelace", "ada@example.com", nil, nil)
	c := e.loggedIn("hr")
	id := c.request(t, emp, "annual", monday(6), monday(6).AddDate(0, 0, 2))

	ctx := context.Background()
	tx, err := adminConn(t, cfg.URL).Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "UPDATE employees SET job_title = 'Busy' WHERE id = $1", emp); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	r := c.post(leavePath(id)+"/approve", nil).expect(t, http.StatusServiceUnavailable)
	took := time.Since(start)
	if took < 4*time.Second || took > 10*time.Second {
		t.Errorf("the approval gave up after %s, want about 5 s (the lock timeout)", took)
	}
	if r.Header.Get("Retry-After") == "" {
		t.Error("the 503 has no Retry-After")
	}
	if n := e.count("SELECT count(*) FROM leave_requests WHERE id = $1 AND status = 'pending' AND version = 1", id); n != 1 {
		t.Error("the request changed")
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	c.post(leavePath(id)+"/approve", nil).expect(t, http.StatusSeeOther)
	if n := e.count("SELECT count(*) FROM audit_log WHERE action = 'leave.approve' AND entity_id = $1", id); n != 1 {
		t.Errorf("%d approval audit rows, want 1", n)
	}
	t.Logf("approval behind a stuck lock answered 503 after %s", took.Round(time.Millisecond))
}
