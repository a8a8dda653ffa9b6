package pglocal

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// Streaming replication for failover tests: a standby cloned from a
// running server with pg_basebackup, promoted with pg_promote().

// StartStandby clones s into opts.Dir with pg_basebackup (which writes
// standby.signal and a primary_conninfo naming the standby name, the
// application_name s sees in pg_stat_replication and matches against
// synchronous_standby_names) and starts it as a streaming standby. opts
// is as for Start; Dir must be empty or missing, and User and Password
// are taken from s.
func (s *Server) StartStandby(ctx context.Context, name string, opts Options) (*Server, error) {
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, err
	}
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return nil, fmt.Errorf("pglocal: standby directory %s is not empty", dir)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("pglocal: create %s: %w", dir, err)
	}
	opts.Dir, opts.User, opts.Password = dir, s.opts.User, s.opts.Password
	st := &Server{opts: opts, binDir: s.binDir}
	if err := st.chown(); err != nil {
		return nil, err
	}
	conninfo := fmt.Sprintf("host=127.0.0.1 port=%d user=%s application_name=%s", s.port, s.opts.User, name)
	args := []string{"-D", dir, "-d", conninfo, "--wal-method=stream", "--write-recovery-conf", "--checkpoint=fast", "--no-password"}
	if opts.Throwaway {
		args = append(args, "--no-sync")
	}
	cmd := exec.CommandContext(ctx, filepath.Join(s.binDir, "pg_basebackup"), args...)
	st.asServerUser(cmd)
	if s.opts.Password != "" {
		if cmd.Env == nil {
			cmd.Env = os.Environ()
		}
		cmd.Env = append(cmd.Env, "PGPASSWORD="+s.opts.Password)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("pglocal: pg_basebackup of port %d into %s: %w\n%s", s.port, dir, err, out)
	}
	for attempt := 0; ; attempt++ {
		port := opts.Port
		if port == 0 {
			if port, err = freePort(); err != nil {
				return nil, err
			}
		}
		err = st.start(ctx, port)
		if err == nil {
			return st, nil
		}
		if opts.Port != 0 || attempt >= 3 || ctx.Err() != nil {
			return nil, err
		}
	}
}

// WaitStandby waits until the standby name streams from s and returns its
// sync_state ("sync", "async", "potential", "quorum").
func (s *Server) WaitStandby(ctx context.Context, name string) (string, error) {
	conn, err := pgx.Connect(ctx, s.URL("postgres"))
	if err != nil {
		return "", err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	for {
		var state string
		err := conn.QueryRow(ctx, `SELECT sync_state FROM pg_stat_replication
			WHERE application_name = $1 AND state = 'streaming'`, name).Scan(&state)
		if err == nil {
			return state, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return "", err
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("pglocal: standby %q not streaming from port %d: %w", name, s.port, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Promote turns a standby into a primary (pg_promote, waiting for the end
// of recovery) and returns once it accepts writes.
func (s *Server) Promote(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, s.URL("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var ok bool
	if err := conn.QueryRow(ctx, "SELECT pg_promote(true, 60)").Scan(&ok); err != nil {
		return fmt.Errorf("pglocal: promote port %d: %w", s.port, err)
	}
	if !ok {
		return fmt.Errorf("pglocal: port %d was not promoted within 60s", s.port)
	}
	return nil
}

// Kill ends every process of the server at once (SIGKILL): a crash, or a
// machine gone. It returns when the postmaster has exited.
func (s *Server) Kill() error {
	if err := s.Signal(syscall.SIGKILL); err != nil {
		return err
	}
	select {
	case <-s.Done():
		return nil
	case <-time.After(10 * time.Second):
		return errors.New("pglocal: server still running 10s after SIGKILL")
	}
}
