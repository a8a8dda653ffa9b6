package db

import (
	"context"
	"errors"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// The per-connection side of failover (the tracker is in hosts.go). Each
// new connection gets its own copy of the pgx config with three hooks:
// the host order and per-host budget of its HostSet, a dialer that keeps
// every socket it opens (to close them when their host is given up), and a
// wrapper of the target_session_attrs check that reports what each host
// turned out to be.

// holderKey finds a connection's holder in pgconn's CustomData.
const holderKey = "hris.host"

// connHolder is one pooled connection's link to its HostSet.
type connHolder struct {
	set *HostSet
	// names maps dial addresses to the URL's host:port for this attempt.
	names map[string]string

	mu      sync.Mutex
	host    string // where the connection was established ("" before)
	gen     uint64 // the host's generation then
	current *trackedConn
	socks   []*trackedConn
	closed  bool // severed: no new socket (a cancel request) may open

	lastUsed atomic.Int64 // unix nanoseconds of the last release
}

// holderOf returns c's holder, or nil for a connection made without one.
func holderOf(c *pgx.Conn) *connHolder {
	if c == nil {
		return nil
	}
	h, _ := c.PgConn().CustomData()[holderKey].(*connHolder)
	return h
}

// Host is where the connection was established, as host:port of the URL.
func (h *connHolder) Host() string {
	if h == nil {
		return ""
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.host
}

// stale reports a connection whose host turned bad (or lost the primary)
// after the connection was made.
func (h *connHolder) stale() bool {
	host := h.Host()
	if host == "" {
		return false
	}
	h.mu.Lock()
	gen := h.gen
	h.mu.Unlock()
	return h.set.gen(host) != gen
}

func (h *connHolder) markClosed() {
	h.mu.Lock()
	h.closed = true
	h.mu.Unlock()
}

// sever closes every socket of this connection, the cancel request's too:
// a connection broken by a timeout on a hung server otherwise waits 15 s
// for the server to acknowledge a cancel and a goodbye (pgconn's
// asyncClose), holding its pool slot all that time.
func (h *connHolder) sever() {
	h.mu.Lock()
	h.closed = true
	socks := slices.Clone(h.socks)
	h.mu.Unlock()
	for _, c := range socks {
		_ = c.Close()
	}
}

// established reports whether one of this connection's sockets passed the
// target_session_attrs check and is still open: a dial after that is a
// cancel request, not a connection attempt.
func (h *connHolder) established() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.host != "" && h.current != nil && !h.current.isClosed()
}

// add keeps c, unless the connection was severed meanwhile. A socket of a
// connection attempt (not a cancel request) becomes the current one.
func (h *connHolder) add(c *trackedConn, attempt bool) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	h.socks = append(h.socks, c)
	if attempt {
		h.current, h.host = c, ""
	}
	return true
}

func (h *connHolder) remove(c *trackedConn) {
	h.mu.Lock()
	h.socks = slices.DeleteFunc(h.socks, func(x *trackedConn) bool { return x == c })
	h.mu.Unlock()
}

// trackedConn is a socket to a database host that its HostSet can close.
type trackedConn struct {
	net.Conn
	host     string
	holder   *connHolder
	closedAt atomic.Int64 // unix nanoseconds; 0 while open
}

func (c *trackedConn) Close() error {
	if !c.closedAt.CompareAndSwap(0, time.Now().UnixNano()) {
		return nil
	}
	c.holder.set.removeSocket(c)
	c.holder.remove(c)
	return c.Conn.Close()
}

func (c *trackedConn) isClosed() bool { return c.closedAt.Load() != 0 }

// closedBefore reports whether the socket was closed before t.
func (c *trackedConn) closedBefore(t time.Time) bool {
	at := c.closedAt.Load()
	return at != 0 && at < t.UnixNano()
}

var errSevered = errors.New("db: host given up; socket not opened")

// prepareConnect adapts cc (a copy made for one connection) to the
// HostSet: host order, per-host budget, and the three hooks. It returns
// the new connection's holder. note receives what the hooks learn.
func (s *HostSet) prepareConnect(cc *pgconn.Config, note func(hostEvent)) *connHolder {
	return s.prepare(cc, note, "")
}

// prepare is prepareConnect; with only set, the attempt goes to that host
// alone (the promotion probe).
func (s *HostSet) prepare(cc *pgconn.Config, note func(hostEvent), only string) *connHolder {
	h := &connHolder{set: s, names: map[string]string{}}
	h.lastUsed.Store(time.Now().UnixNano())

	// Reorder: pgx tries cc.Host first, then cc.Fallbacks in order. One
	// host may appear twice (sslmode=prefer: TLS, then plain); its entries
	// stay together, in their own order.
	all := append([]*pgconn.FallbackConfig{{Host: cc.Host, Port: cc.Port, TLSConfig: cc.TLSConfig}}, cc.Fallbacks...)
	if len(s.hosts) > 1 {
		order := s.order(time.Now())
		if only != "" {
			order = []string{only}
		}
		var ordered []*pgconn.FallbackConfig
		for _, host := range order {
			for _, fb := range all {
				if hostKey(fb.Host, fb.Port) == host {
					ordered = append(ordered, fb)
				}
			}
		}
		if len(ordered) > 0 && (only != "" || len(ordered) == len(all)) {
			all = ordered
			cc.Host, cc.Port, cc.TLSConfig = all[0].Host, all[0].Port, all[0].TLSConfig
			cc.Fallbacks = all[1:]
		}
		// pgx gives ConnectTimeout to each host in turn.
		cc.ConnectTimeout = s.attemptBudget(cc.ConnectTimeout)
	}
	for _, fb := range all {
		network, addr := pgconn.NetworkAddress(fb.Host, fb.Port)
		h.names[network+" "+addr] = hostKey(fb.Host, fb.Port)
	}

	lookup := cc.LookupFunc
	var namesMu sync.Mutex
	cc.LookupFunc = func(ctx context.Context, host string) ([]string, error) {
		addrs, err := lookup(ctx, host)
		namesMu.Lock()
		for _, fb := range all {
			if fb.Host != host {
				continue
			}
			for _, a := range addrs {
				if _, _, err := net.SplitHostPort(a); err == nil {
					h.names["tcp "+a] = hostKey(fb.Host, fb.Port)
					continue
				}
				network, addr := pgconn.NetworkAddress(a, fb.Port)
				h.names[network+" "+addr] = hostKey(fb.Host, fb.Port)
			}
		}
		namesMu.Unlock()
		return addrs, err
	}
	nameOf := func(network, addr string) string {
		namesMu.Lock()
		defer namesMu.Unlock()
		if n, ok := h.names[network+" "+addr]; ok {
			return n
		}
		return addr
	}

	dial := cc.DialFunc
	cc.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		host := nameOf(network, addr)
		cancelRequest := h.established()
		if cancelRequest && h.isClosedFlag() {
			// The connection was given up with its host: a cancel request
			// to a server that does not answer would only wait.
			return nil, errSevered
		}
		raw, err := dial(ctx, network, addr)
		if err != nil {
			if !cancelRequest {
				switch {
				case errors.Is(ctx.Err(), context.DeadlineExceeded), isTimeout(err):
					note(s.markDown(host, reasonConnectTimeout))
				case errors.Is(err, syscall.ECONNREFUSED):
					note(s.markDown(host, reasonRefused))
				}
			}
			return nil, err
		}
		c := &trackedConn{Conn: raw, host: host, holder: h}
		if !h.add(c, !cancelRequest) {
			_ = raw.Close()
			return nil, errSevered
		}
		s.addSocket(c)
		if !cancelRequest {
			// The attempt's budget ran out before the server said anything
			// that let the connection through: no answer.
			if dl, ok := ctx.Deadline(); ok {
				context.AfterFunc(ctx, func() {
					if errors.Is(ctx.Err(), context.DeadlineExceeded) && !h.validatedOn(c) && !c.closedBefore(dl) {
						note(s.markDown(host, reasonConnectTimeout))
					}
				})
			}
		}
		return c, nil
	}

	validate := cc.ValidateConnect
	cc.ValidateConnect = func(ctx context.Context, pc *pgconn.PgConn) error {
		h.mu.Lock()
		c := h.current
		h.mu.Unlock()
		host := ""
		if c != nil {
			host = c.host
		}
		if validate != nil {
			if err := validate(ctx, pc); err != nil {
				var np *pgconn.NotPreferredError
				switch {
				case errors.As(err, &np):
					// Used only if no preferred host answers; pgx decides.
					h.validated(host)
					pc.CustomData()[holderKey] = h
				case isRoleMismatch(err):
					note(s.markMismatch(host))
				}
				return err
			}
		}
		h.validated(host)
		pc.CustomData()[holderKey] = h
		note(s.markOK(host))
		return nil
	}
	return h
}

func (h *connHolder) isClosedFlag() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.closed
}

// validated records that the current socket passed the check on host.
func (h *connHolder) validated(host string) {
	gen := h.set.gen(host)
	h.mu.Lock()
	h.host, h.gen = host, gen
	h.mu.Unlock()
}

// validatedOn reports whether c is the socket the connection was made on.
func (h *connHolder) validatedOn(c *trackedConn) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.host != "" && h.current == c
}

func isRoleMismatch(err error) bool {
	return errors.Is(err, pgconn.ErrReadOnlyConnection) || errors.Is(err, pgconn.ErrReadWriteConnection) ||
		errors.Is(err, pgconn.ErrPrimaryConnection) || errors.Is(err, pgconn.ErrStandbyConnection)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// ServerHost is the host:port, as DATABASE_URL names it, of the connection
// q runs on ("" when not known): which of several hosts answered.
func (q *Queries) ServerHost() string {
	if c, ok := q.db.(interface{ Conn() *pgx.Conn }); ok {
		return holderOf(c.Conn()).Host()
	}
	return ""
}
