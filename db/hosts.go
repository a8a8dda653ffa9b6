package db

import (
	"net"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// Failover: what hris knows about the hosts of a multi-host DATABASE_URL
// (postgres://u@h1,h2/db?target_session_attrs=read-write), modelled on
// pgJDBC's host status tracker. pgx on its own tries the hosts in URL order
// on every new connection and gives each one the whole connect timeout, so
// a frozen old primary (it accepts TCP and never answers) costs every
// connection 10 s before the new primary is even asked. Here:
//
//   - the host that last passed target_session_attrs is tried first;
//   - a host that gave no answer in time is "down" for hostRecheck and tried
//     last (never skipped: if no other host will do, it is the last hope);
//   - with several hosts, each attempt gets its own short budget
//     (hostAttemptBudget, within HRIS_DB_CONNECT_TIMEOUT);
//   - once a host is down, or the primary has moved away from it, every
//     socket to it is closed: requests hung on it fail at once and are
//     retried where that is safe, instead of waiting out their deadlines.
//
// pgx still does the connecting and the target_session_attrs check itself;
// the tracker only reorders the hosts and listens (db/hostconn.go).

const (
	// hostRecheck is how long a host's bad mark counts (pgJDBC's
	// hostRecheckSeconds defaults to 10 s).
	hostRecheck = 10 * time.Second
	// hostAttemptBudget bounds one host's connection attempt when the URL
	// names several. A PostgreSQL that is up answers the startup handshake
	// in milliseconds, a busy one well within a second; a hung one never
	// does, and the next host should get its turn.
	hostAttemptBudget = 2 * time.Second
)

// HostState is what hris believes about one host.
type HostState string

const (
	HostUnknown  HostState = "unknown"  // not tried yet, or its mark expired
	HostOK       HostState = "ok"       // passed target_session_attrs
	HostMismatch HostState = "mismatch" // answered, but has the wrong role (a standby when a primary is wanted)
	HostDown     HostState = "down"     // refused, or gave no answer in time
)

type hostEntry struct {
	state  HostState
	at     time.Time // when state was set
	reason string    // for a down host: "no answer", "refused"
	// gen grows every time the host turns bad while others could serve
	// instead; a connection made under an older gen is stale and is not
	// handed out again. With one host there is nowhere else to go: its
	// connections are checked by ping instead, not thrown away.
	gen uint64
}

// PrimaryInfo is the host hris writes to and its history in this process.
type PrimaryInfo struct {
	Host      string    // the host that last passed target_session_attrs; "" before the first connection
	Since     time.Time // when Host became the primary in this process's eyes
	Previous  string    // the primary before Host; "" if it never changed
	ChangedAt time.Time // when it moved from Previous to Host; zero if it never changed
}

// HostStatus is one host's line on the replication panel.
type HostStatus struct {
	Host    string
	State   HostState
	Reason  string
	Since   time.Time
	Primary bool // the host hris writes to now
}

// HostSet is the tracker for one list of hosts and one target_session_attrs.
type HostSet struct {
	hosts  []string // host:port in URL order
	target string   // target_session_attrs ("any" when unset)

	mu      sync.Mutex
	entries map[string]*hostEntry
	primary PrimaryInfo
	sockets map[string]map[*trackedConn]struct{} // open sockets by host
	epoch   uint64
	changed chan struct{}
	// The promotion probe (hostprobe.go).
	probeCfg   *pgconn.Config
	probeNote  func(hostEvent)
	probeUntil time.Time
	probing    bool
}

// hostSets holds one HostSet per host list in the process: knowledge
// about a server is the same whichever pool learnt it (the main pool, the
// ops pool, a health check), as in pgJDBC's GlobalHostStatusTracker.
var hostSets sync.Map // key → *HostSet

// hostSetFor returns the process's HostSet for cc's hosts.
func hostSetFor(cc *pgconn.Config) *HostSet {
	hosts := configHosts(cc)
	target := targetOf(cc)
	key := target + "|" + strings.Join(hosts, ",")
	if s, ok := hostSets.Load(key); ok {
		return s.(*HostSet)
	}
	s, _ := hostSets.LoadOrStore(key, newHostSet(hosts, target))
	return s.(*HostSet)
}

func newHostSet(hosts []string, target string) *HostSet {
	return &HostSet{
		hosts: hosts, target: target,
		entries: map[string]*hostEntry{},
		sockets: map[string]map[*trackedConn]struct{}{},
		changed: make(chan struct{}),
	}
}

// configHosts lists cc's hosts as host:port, in order, once each (pgx
// lists a host twice for sslmode=prefer: with TLS and without).
func configHosts(cc *pgconn.Config) []string {
	var hosts []string
	add := func(h string, p uint16) {
		k := hostKey(h, p)
		if !slices.Contains(hosts, k) {
			hosts = append(hosts, k)
		}
	}
	add(cc.Host, cc.Port)
	for _, fb := range cc.Fallbacks {
		add(fb.Host, fb.Port)
	}
	return hosts
}

func hostKey(host string, port uint16) string {
	return net.JoinHostPort(host, strconv.Itoa(int(port)))
}

// targetOf recovers target_session_attrs from the check pgx chose for it
// (pgconn keeps the function, not the setting).
func targetOf(cc *pgconn.Config) string {
	if cc.ValidateConnect == nil {
		return "any"
	}
	v := reflect.ValueOf(cc.ValidateConnect).Pointer()
	for name, f := range map[string]pgconn.ValidateConnectFunc{
		"read-write":     pgconn.ValidateConnectTargetSessionAttrsReadWrite,
		"primary":        pgconn.ValidateConnectTargetSessionAttrsPrimary,
		"read-only":      pgconn.ValidateConnectTargetSessionAttrsReadOnly,
		"standby":        pgconn.ValidateConnectTargetSessionAttrsStandby,
		"prefer-standby": pgconn.ValidateConnectTargetSessionAttrsPreferStandby,
	} {
		if reflect.ValueOf(f).Pointer() == v {
			return name
		}
	}
	return "custom"
}

// Hosts returns the hosts in URL order.
func (s *HostSet) Hosts() []string { return slices.Clone(s.hosts) }

// Target is target_session_attrs ("any" when the URL does not set it).
func (s *HostSet) Target() string { return s.target }

// Multi reports whether there is more than one host to choose from.
func (s *HostSet) Multi() bool { return len(s.hosts) > 1 }

// wantsPrimary is true when only a writable server will do, so a move of
// the primary means the old one must not be used any more.
func (s *HostSet) wantsPrimary() bool { return s.target == "read-write" || s.target == "primary" }

// Primary returns the host hris writes to and when that last changed.
func (s *HostSet) Primary() PrimaryInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.primary
}

// Epoch grows with every change of primary or of a host's health; caches
// of readings taken through these hosts compare it to know they are stale.
func (s *HostSet) Epoch() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.epoch
}

// Changed is closed at the next change (a new channel follows).
func (s *HostSet) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

// Status lists every host with what is known of it, in URL order.
func (s *HostSet) Status() []HostStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]HostStatus, 0, len(s.hosts))
	now := time.Now()
	for _, h := range s.hosts {
		st := HostStatus{Host: h, State: HostUnknown, Primary: h == s.primary.Host}
		if e := s.entries[h]; e != nil {
			st.State, st.Since = s.effective(e, now), e.at
			if st.State == HostDown {
				st.Reason = e.reason
			}
		}
		if st.Primary && st.State != HostOK {
			st.Primary = false
		}
		out = append(out, st)
	}
	return out
}

// effective is e's state with bad marks expired after hostRecheck.
func (s *HostSet) effective(e *hostEntry, now time.Time) HostState {
	if (e.state == HostDown || e.state == HostMismatch) && now.Sub(e.at) > hostRecheck {
		return HostUnknown
	}
	return e.state
}

// order is the sequence in which a new connection tries the hosts: the
// current primary, then hosts not known to be bad (URL order), then those
// with the wrong role (they answer fast: a promotion shows up at once),
// then those that did not answer: the last primary first (a busy primary
// that was slow once is likelier back than a dead one), then the
// longest-silent. No host is left out, so target_session_attrs keeps its
// meaning.
func (s *HostSet) order(now time.Time) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	type ranked struct {
		host string
		rank int
		at   time.Time
	}
	rs := make([]ranked, len(s.hosts))
	for i, h := range s.hosts {
		r := ranked{host: h, rank: 1}
		if e := s.entries[h]; e != nil {
			switch s.effective(e, now) {
			case HostOK:
				if h == s.primary.Host {
					r.rank = 0
				}
			case HostMismatch:
				r.rank = 2
			case HostDown:
				r.rank, r.at = 4, e.at
				if h == s.primary.Host {
					r.rank = 3
				}
			}
		}
		rs[i] = r
	}
	slices.SortStableFunc(rs, func(a, b ranked) int {
		if a.rank != b.rank {
			return a.rank - b.rank
		}
		return a.at.Compare(b.at)
	})
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.host
	}
	return out
}

// attemptBudget is the time one host gets within the connect timeout.
func (s *HostSet) attemptBudget(connectTimeout time.Duration) time.Duration {
	if len(s.hosts) < 2 {
		return connectTimeout
	}
	if connectTimeout <= 0 {
		return hostAttemptBudget
	}
	return min(hostAttemptBudget, connectTimeout/time.Duration(len(s.hosts)))
}

func (s *HostSet) entry(h string) *hostEntry {
	e := s.entries[h]
	if e == nil {
		e = &hostEntry{state: HostUnknown}
		s.entries[h] = e
	}
	return e
}

// gen is h's current generation (see hostEntry.gen).
func (s *HostSet) gen(h string) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.entry(h).gen
}

// isDown reports a host marked down within hostRecheck.
func (s *HostSet) isDown(h string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.entries[h]
	return e != nil && s.effective(e, time.Now()) == HostDown
}

// notifyLocked bumps the epoch and wakes watchers; s.mu is held.
func (s *HostSet) notifyLocked() {
	s.epoch++
	close(s.changed)
	s.changed = make(chan struct{})
}

// hostEvent says what a mark changed, for the caller to log.
type hostEvent struct {
	Host      string
	Previous  string // for a primary change
	NewState  HostState
	OldState  HostState
	Primary   bool // the primary moved to Host
	Severed   int  // sockets closed
	Probing   bool // the primary is not answering: the other hosts are asked
	Reason    string
	Important bool // worth a log line at warn level
}

// markOK records that h passed target_session_attrs. When the target is a
// primary and h is not the one before, the primary has moved: every
// socket to the old one is closed.
func (s *HostSet) markOK(h string) hostEvent {
	now := time.Now()
	s.mu.Lock()
	e := s.entry(h)
	ev := hostEvent{Host: h, OldState: s.effective(e, now), NewState: HostOK}
	e.state, e.at, e.reason = HostOK, now, ""
	// Back, or promoted: readings taken through these hosts are stale.
	changed := ev.OldState == HostDown || ev.OldState == HostMismatch
	var sever string
	switch old := s.primary.Host; {
	case old == h:
	case old == "":
		s.primary = PrimaryInfo{Host: h, Since: now}
		changed = true
	default:
		s.primary = PrimaryInfo{Host: h, Since: now, Previous: old, ChangedAt: now}
		s.entry(old).gen++
		ev.Previous, changed = old, true
		if s.wantsPrimary() {
			ev.Primary, ev.Important, sever = true, true, old
		}
	}
	if changed {
		s.notifyLocked()
	}
	s.mu.Unlock()
	if sever != "" {
		ev.Severed = s.sever(sever)
	}
	return ev
}

// markMismatch records that h answered with the wrong role (a read-only
// server when a primary is wanted: a standby, or a demoted primary).
func (s *HostSet) markMismatch(h string) hostEvent {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.entry(h)
	ev := hostEvent{Host: h, OldState: s.effective(e, now), NewState: HostMismatch}
	if ev.OldState != HostMismatch {
		if len(s.hosts) > 1 {
			e.gen++
		}
		ev.Important = ev.OldState == HostOK && h == s.primary.Host
		s.notifyLocked()
	}
	e.state, e.at, e.reason = HostMismatch, now, ""
	return ev
}

// markDown records that h refused or did not answer in time. A host that
// did not answer is hung or cut off: with other hosts to go to, every
// socket to it is closed (see the file comment).
func (s *HostSet) markDown(h, reason string) hostEvent {
	now := time.Now()
	s.mu.Lock()
	e := s.entry(h)
	ev := hostEvent{Host: h, OldState: s.effective(e, now), NewState: HostDown, Reason: reason}
	if ev.OldState != HostDown {
		if len(s.hosts) > 1 {
			e.gen++
		}
		ev.Important = true
		s.notifyLocked()
	}
	e.state, e.at, e.reason = HostDown, now, reason
	severIt := reason == reasonNoAnswer && len(s.hosts) > 1
	probe := h == s.primary.Host && s.startProbeLocked(now)
	s.mu.Unlock()
	if probe {
		go s.probeLoop()
	}
	if severIt {
		ev.Severed = s.sever(h)
	}
	return ev
}

const (
	// reasonNoAnswer: an open connection's round trip (a ping, a
	// statement) got no answer in time. The server is hung or cut off:
	// with other hosts to go to, its sockets are closed.
	reasonNoAnswer = "no answer"
	// reasonConnectTimeout: a connection attempt did not complete within
	// its budget. A busy server can be slow to start a backend, so its
	// open connections are left alone; it is only tried last.
	reasonConnectTimeout = "connect timed out"
	reasonRefused        = "refused"
)

// sever closes every open socket to h: connections in use fail at once,
// connection attempts move on, and cancel requests stop waiting.
func (s *HostSet) sever(h string) int {
	s.mu.Lock()
	socks := make([]*trackedConn, 0, len(s.sockets[h]))
	for c := range s.sockets[h] {
		socks = append(socks, c)
	}
	s.mu.Unlock()
	for _, c := range socks {
		c.holder.markClosed()
		_ = c.Close()
	}
	return len(socks)
}

func (s *HostSet) addSocket(c *trackedConn) {
	s.mu.Lock()
	m := s.sockets[c.host]
	if m == nil {
		m = map[*trackedConn]struct{}{}
		s.sockets[c.host] = m
	}
	m[c] = struct{}{}
	s.mu.Unlock()
}

func (s *HostSet) removeSocket(c *trackedConn) {
	s.mu.Lock()
	delete(s.sockets[c.host], c)
	s.mu.Unlock()
}

// openSockets counts the open sockets to h (tests).
func (s *HostSet) openSockets(h string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sockets[h])
}
