package db

import "github.com/jackc/pgx/v5"

// QueueSetting queues a read of the server setting name into dst, so a
// test can see what the batch's statements run with.
func (lb *ListBatch) QueueSetting(name string, dst *string) {
	lb.b.Queue("SELECT current_setting($1)", name).QueryRow(func(r pgx.Row) error { return r.Scan(dst) })
}

// OpenSockets counts the sockets open to host (host:port).
func (s *HostSet) OpenSockets(host string) int { return s.openSockets(host) }
