package web_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"hris/web"
)

func TestOpsFleetShowsEveryInstance(t *testing.T) {
	a := newEnv(t) // instance "test", heartbeating
	admin := a.loggedIn("admin")

	// A second instance on the same database, which will stop cleanly.
	b := web.New(web.Config{SessionIdleTimeout: time.Hour, SessionLifetime: time.Hour, InstanceID: "second", Version: "v2"}, a.DB, a.DB, nil)
	ctx, stopB := context.WithCancel(context.Background())
	doneB := make(chan struct{})
	go func() { b.Run(ctx); close(doneB) }()
	srvB := httptest.NewServer(b.Handler())
	defer srvB.Close()
	// A third that vanished without a word a minute ago (a crash).
	if _, err := a.DB.Pool.Exec(context.Background(), `INSERT INTO app_instances
		(instance_id, host, version, exec_mode, started_at, last_seen, max_conns, ops_max_conns, total_conns,
		 acquired_conns, idle_conns, acquire_count, empty_acquire_count, canceled_acquire_count, empty_acquire_wait_ms, retries)
		VALUES ('crashed', 'db9', 'v1', 'exec', now() - interval '1 hour', now() - interval '1 minute', 20, 2, 5, 1, 4, 100, 0, 0, 0, 0)`); err != nil {
		t.Fatal(err)
	}

	waitFor(t, "both live instances on the fleet panel", 10*time.Second, func() bool {
		body := admin.get("/ops/fleet").Body
		return strings.Count(body, `badge ok">live`) == 2
	})
	body := admin.get("/ops/fleet").Body
	for _, want := range []string{"second", "test", "this instance", "crashed", `badge warn"`, "stale", "2 live instances"} {
		if !strings.Contains(body, want) {
			t.Errorf("fleet panel lacks %q:\n%s", want, body)
		}
	}

	stopB()
	<-doneB
	waitFor(t, "the stopped instance marked as stopped", 5*time.Second, func() bool {
		body := admin.get("/ops/fleet").Body
		i := strings.Index(body, "second")
		return i >= 0 && strings.Contains(body[i:], "stopped") && strings.Count(body, `badge ok">live`) == 1
	})
}
