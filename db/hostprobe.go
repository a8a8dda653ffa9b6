package db

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// The promotion probe. When the primary stops answering (a ping to it
// waits past waitSuspect, or it is marked down), the other hosts are asked
// every probeEvery whether one of them is the primary now. A promotion is
// then seen within a fraction of a second, not when the old primary's
// timeouts run out, and the moment it is seen every socket to the old
// primary is closed (markOK): the requests waiting on it are retried on
// the new one. Hosts marked down are left out (a hung one would hold the
// probe for its whole budget); normal connections still try them last.

const (
	// waitSuspect: a ping (a round trip of nothing) that waits this long
	// is not a busy server, it is a warning.
	waitSuspect = 500 * time.Millisecond
	probeEvery  = 250 * time.Millisecond
	// probeFor is how long probing goes on after the last reason for it.
	probeFor = 5 * time.Second
)

// setProbe gives the HostSet the configuration to probe with (the first
// pool's; every pool of one URL has the same user and database).
func (s *HostSet) setProbe(cc *pgconn.Config, note func(hostEvent)) {
	if len(s.hosts) < 2 || !s.wantsPrimary() {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.probeCfg == nil {
		s.probeCfg, s.probeNote = cc.Copy(), note
	}
}

// watchPing starts a timer that reports a ping to host still waiting after
// waitSuspect; call the returned function when the ping is over.
func (s *HostSet) watchPing(host string) (stop func() bool) {
	if len(s.hosts) < 2 || !s.wantsPrimary() || host == "" {
		return noStop
	}
	return time.AfterFunc(waitSuspect, func() { s.suspect(host) }).Stop
}

func noStop() bool { return false }

// suspect starts (or prolongs) probing when host is the primary.
func (s *HostSet) suspect(host string) {
	s.mu.Lock()
	start := host == s.primary.Host && s.startProbeLocked(time.Now())
	s.mu.Unlock()
	if start {
		go s.probeLoop()
	}
}

// startProbeLocked prolongs probing and reports whether a probe loop must
// be started; s.mu is held.
func (s *HostSet) startProbeLocked(now time.Time) bool {
	if s.probeCfg == nil {
		return false
	}
	if until := now.Add(probeFor); until.After(s.probeUntil) {
		s.probeUntil = until
	}
	if s.probing {
		return false
	}
	s.probing = true
	return true
}

func (s *HostSet) probeLoop() {
	s.mu.Lock()
	primary, note := s.primary.Host, s.probeNote
	s.mu.Unlock()
	note(hostEvent{Host: primary, Probing: true})
	for {
		s.mu.Lock()
		if time.Now().After(s.probeUntil) || s.primary.Host != primary {
			s.probing = false
			s.mu.Unlock()
			return
		}
		var others []string
		for _, h := range s.hosts {
			if e := s.entries[h]; h != primary && (e == nil || s.effective(e, time.Now()) != HostDown) {
				others = append(others, h)
			}
		}
		cfg, note := s.probeCfg, s.probeNote
		s.mu.Unlock()
		for _, h := range others {
			s.probeHost(cfg, h, note)
			if s.Primary().Host != primary {
				break // found: the loop ends at the top
			}
		}
		time.Sleep(probeEvery)
	}
}

// probeHost makes one connection to host with cfg's target_session_attrs
// check, records what the host turned out to be, and closes it.
func (s *HostSet) probeHost(cfg *pgconn.Config, host string, note func(hostEvent)) {
	cc := cfg.Copy()
	s.prepare(cc, note, host)
	ctx, cancel := context.WithTimeout(context.Background(), cc.ConnectTimeout)
	defer cancel()
	if c, err := pgconn.ConnectConfig(ctx, cc); err == nil {
		_ = c.Close(ctx)
	}
}
