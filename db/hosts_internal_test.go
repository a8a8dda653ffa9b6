package db

import (
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// The order in which a new connection tries the hosts, as their states
// change: no host is ever left out (target_session_attrs keeps its
// meaning), the primary comes first, hung hosts last.
func TestHostOrder(t *testing.T) {
	s := newHostSet([]string{"a:5432", "b:5432", "c:5432"}, "read-write")
	now := time.Now()
	check := func(when string, want ...string) {
		t.Helper()
		if got := s.order(time.Now()); !slices.Equal(got, want) {
			t.Errorf("%s: order %v, want %v", when, got, want)
		}
	}
	check("nothing known: URL order", "a:5432", "b:5432", "c:5432")
	s.markOK("b:5432")
	check("b is the primary", "b:5432", "a:5432", "c:5432")
	s.markMismatch("a:5432")
	check("a is a standby: after the unknown c", "b:5432", "c:5432", "a:5432")
	s.markDown("b:5432", reasonNoAnswer)
	check("b hangs: last, after the standby", "c:5432", "a:5432", "b:5432")
	s.markDown("c:5432", reasonRefused)
	check("c refuses too: the longest-silent down host first", "a:5432", "b:5432", "c:5432")
	s.markOK("a:5432")
	check("a was promoted", "a:5432", "b:5432", "c:5432")
	p := s.Primary()
	if p.Host != "a:5432" || p.Previous != "b:5432" || p.ChangedAt.Before(now) {
		t.Errorf("primary %+v, want a:5432 moved from b:5432", p)
	}
	// Marks expire after hostRecheck: the host is tried as unknown again.
	s.mu.Lock()
	s.entries["b:5432"].at = now.Add(-hostRecheck - time.Second)
	s.mu.Unlock()
	check("b's mark expired", "a:5432", "b:5432", "c:5432")
	if st := s.Status(); st[1].State != HostUnknown || !st[0].Primary {
		t.Errorf("status %+v", st)
	}
}

// Every change a watcher should see bumps the epoch and closes Changed;
// repeating a known state does not.
func TestHostEpochAndChanged(t *testing.T) {
	s := newHostSet([]string{"a:1", "b:1"}, "read-write")
	ch := s.Changed()
	s.markOK("a:1")
	select {
	case <-ch:
	default:
		t.Fatal("first primary: Changed not closed")
	}
	e := s.Epoch()
	s.markOK("a:1")
	s.markMismatch("b:1")
	s.markMismatch("b:1")
	if s.Epoch() != e+1 {
		t.Errorf("epoch %d after a known primary and one new standby, want %d", s.Epoch(), e+1)
	}
	// A connection made before its host turned bad is stale.
	gen := s.gen("a:1")
	s.markDown("a:1", reasonNoAnswer)
	if s.gen("a:1") == gen {
		t.Error("a host marked down keeps its generation")
	}
	if ev := s.markOK("b:1"); !ev.Primary || ev.Previous != "a:1" {
		t.Errorf("promotion of b: %+v", ev)
	}
}

// Per-host budgets: the whole connect timeout for one host; for several,
// a short one that still fits them all within it.
func TestAttemptBudget(t *testing.T) {
	for _, c := range []struct {
		hosts   int
		timeout time.Duration
		want    time.Duration
	}{
		{1, 10 * time.Second, 10 * time.Second},
		{2, 10 * time.Second, 2 * time.Second},
		{3, 3 * time.Second, time.Second},
		{2, 0, 2 * time.Second},
	} {
		s := newHostSet(make([]string, c.hosts), "any")
		if got := s.attemptBudget(c.timeout); got != c.want {
			t.Errorf("%d hosts, connect timeout %s: %s per host, want %s", c.hosts, c.timeout, got, c.want)
		}
	}
}

// The hosts and target come from the parsed URL; sslmode=prefer lists a
// host twice (TLS, then plain), which is one host here.
func TestHostSetFromURL(t *testing.T) {
	cc, err := pgconn.ParseConfig("postgres://u@db1:5432,db2:5433/hris?target_session_attrs=read-write")
	if err != nil {
		t.Fatal(err)
	}
	s := hostSetFor(cc)
	if !slices.Equal(s.Hosts(), []string{"db1:5432", "db2:5433"}) || s.Target() != "read-write" || !s.Multi() {
		t.Errorf("hosts %v target %q", s.Hosts(), s.Target())
	}
	if s2 := hostSetFor(cc); s2 != s {
		t.Error("the same URL got a second HostSet: what one pool learns, the other would not know")
	}
	cc, _ = pgconn.ParseConfig("postgres://u@db1/hris?sslmode=disable")
	if s := hostSetFor(cc); s.Target() != "any" || s.Multi() {
		t.Errorf("single host: target %q multi %v", s.Target(), s.Multi())
	}
	// The connection attempt's config is reordered, with the short budget.
	cc, _ = pgconn.ParseConfig("postgres://u@db1:5432,db2:5433/hris?target_session_attrs=read-write&connect_timeout=10")
	s = hostSetFor(cc)
	s.markOK("db2:5433")
	c := cc.Copy()
	s.prepareConnect(c, func(hostEvent) {})
	var order []string
	order = append(order, hostKey(c.Host, c.Port))
	for _, fb := range c.Fallbacks {
		if k := hostKey(fb.Host, fb.Port); order[len(order)-1] != k {
			order = append(order, k)
		}
	}
	if !slices.Equal(order, []string{"db2:5433", "db1:5432"}) || c.ConnectTimeout != 2*time.Second {
		t.Errorf("prepared config tries %v with %s each, want the primary first and 2s", order, c.ConnectTimeout)
	}
}
