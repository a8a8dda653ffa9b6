// Package pglocal runs a private PostgreSQL server from the installed server
// binaries: `hris dev` keeps one under ./.data, and the tests start throwaway
// ones. When the process runs as root, the data directory is owned by the
// postgres user and the server runs as that user, because PostgreSQL refuses
// to run as root.
package pglocal

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// Options describe a private server.
type Options struct {
	// Dir is the data directory; it is created with initdb when it holds no cluster.
	Dir string
	// Port to listen on (127.0.0.1 only); 0 picks a free one.
	Port int
	// Superuser name created by initdb ("postgres" when empty).
	User string
	// Password of the superuser. When set, the cluster is created with
	// scram-sha-256 authentication; when empty, with trust (tests).
	Password string
	// Throwaway turns off durability (fsync, full page writes) for tests.
	Throwaway bool
	// Settings are extra server settings passed as -c name=value.
	Settings map[string]string
	// Log receives the server's own output; nil discards it.
	Log *os.File
}

// Server is a running private PostgreSQL.
type Server struct {
	opts    Options
	binDir  string
	port    int
	cmd     *exec.Cmd
	done    chan struct{}
	waitErr error
	mu      sync.Mutex
}

// ErrNoBinaries says the PostgreSQL server programs could not be found.
var ErrNoBinaries = errors.New("PostgreSQL server binaries (initdb, postgres) not found: install them (Debian: apt-get install postgresql) or put their directory on PATH")

// FindBinDir returns the directory holding initdb and postgres: PATH first,
// then the usual Debian and Homebrew places, newest version first.
func FindBinDir() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		dir := filepath.Dir(resolve(p))
		if isExec(filepath.Join(dir, "postgres")) {
			return dir, nil
		}
	}
	var candidates []string
	for _, pattern := range []string{
		"/usr/lib/postgresql/*/bin",
		"/usr/local/pgsql/bin",
		"/opt/homebrew/opt/postgresql@*/bin",
		"/usr/local/opt/postgresql@*/bin",
		"/opt/homebrew/bin",
		"/usr/pgsql-*/bin",
	} {
		m, _ := filepath.Glob(pattern)
		sort.Sort(sort.Reverse(byVersion(m)))
		candidates = append(candidates, m...)
	}
	for _, dir := range candidates {
		if isExec(filepath.Join(dir, "initdb")) && isExec(filepath.Join(dir, "postgres")) {
			return dir, nil
		}
	}
	return "", ErrNoBinaries
}

// Start initialises the cluster if needed and starts the server, returning
// once it accepts connections.
func Start(ctx context.Context, opts Options) (*Server, error) {
	bin, err := FindBinDir()
	if err != nil {
		return nil, err
	}
	if opts.User == "" {
		opts.User = "postgres"
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, err
	}
	opts.Dir = dir
	s := &Server{opts: opts, binDir: bin}
	if err := s.initdb(ctx); err != nil {
		return nil, err
	}
	if err := s.refuseIfRunning(); err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		port := opts.Port
		if port == 0 {
			if port, err = freePort(); err != nil {
				return nil, err
			}
		}
		err = s.start(ctx, port)
		if err == nil {
			return s, nil
		}
		// Another process may have taken the free port between our probe and
		// the server's bind; try another one.
		if opts.Port != 0 || attempt >= 3 || ctx.Err() != nil {
			return nil, err
		}
	}
}

// Port is the TCP port on 127.0.0.1.
func (s *Server) Port() int { return s.port }

// Dir is the data directory.
func (s *Server) Dir() string { return s.opts.Dir }

// BinDir is the directory of the server binaries (pgbench lives there too).
func (s *Server) BinDir() string { return s.binDir }

// URL returns a connection URL for the given database.
func (s *Server) URL(database string) string {
	userinfo := url.User(s.opts.User)
	if s.opts.Password != "" {
		userinfo = url.UserPassword(s.opts.User, s.opts.Password)
	}
	u := url.URL{
		Scheme:   "postgres",
		User:     userinfo,
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)),
		Path:     "/" + database,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// PID is the postmaster's process id.
func (s *Server) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil || s.cmd.Process == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// Done is closed when the server process has exited.
func (s *Server) Done() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.done
}

// Stop shuts the server down (fast shutdown: clients are disconnected) and
// waits for it to exit; after the timeout it is killed.
func (s *Server) Stop(timeout time.Duration) error {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.mu.Unlock()
	if cmd == nil {
		return nil
	}
	select {
	case <-done:
		return nil
	default:
	}
	_ = cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-done:
		return nil
	case <-time.After(timeout):
	}
	_ = cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
	return fmt.Errorf("pglocal: server did not stop within %s and was killed", timeout)
}

// Restart stops the server and starts it again on the same port.
func (s *Server) Restart(ctx context.Context) error {
	if err := s.Stop(10 * time.Second); err != nil {
		return err
	}
	return s.start(ctx, s.port)
}

// Signal sends sig to the postmaster and every backend process of the
// server (SIGSTOP/SIGCONT freeze and thaw the whole server in fault tests).
func (s *Server) Signal(sig syscall.Signal) error {
	pids, err := s.processes()
	if err != nil {
		return err
	}
	for _, pid := range pids {
		_ = syscall.Kill(pid, sig)
	}
	return nil
}

// processes lists the postmaster and its children from /proc.
func (s *Server) processes() ([]int, error) {
	root := s.PID()
	if root == 0 {
		return nil, errors.New("pglocal: server not running")
	}
	pids := []int{root}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// Fields after the ")" that closes the command name: state ppid ...
		rest := string(stat[strings.LastIndexByte(string(stat), ')')+1:])
		fields := strings.Fields(rest)
		if len(fields) > 1 && fields[1] == strconv.Itoa(root) {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

func (s *Server) initdb(ctx context.Context) error {
	if _, err := os.Stat(filepath.Join(s.opts.Dir, "PG_VERSION")); err == nil {
		return s.chown()
	}
	if err := os.MkdirAll(s.opts.Dir, 0o700); err != nil {
		return fmt.Errorf("pglocal: create %s: %w", s.opts.Dir, err)
	}
	if err := s.chown(); err != nil {
		return err
	}
	args := []string{"-D", s.opts.Dir, "-U", s.opts.User, "--encoding=UTF8", "--locale=C"}
	if s.opts.Password != "" {
		// initdb wants an empty data directory, so the password file goes
		// next to it, readable by the server user only.
		pwfile := s.opts.Dir + ".pwfile"
		if err := os.WriteFile(pwfile, []byte(s.opts.Password+"\n"), 0o600); err != nil {
			return err
		}
		defer os.Remove(pwfile)
		if uid, gid, ok := serverUser(); ok {
			if err := os.Lchown(pwfile, int(uid), int(gid)); err != nil {
				return err
			}
		}
		args = append(args, "--auth=scram-sha-256", "--pwfile="+pwfile)
	} else {
		// Only loopback can connect (see start): enough for a throwaway server.
		args = append(args, "--auth=trust")
	}
	if s.opts.Throwaway {
		args = append(args, "--no-sync")
	}
	cmd := exec.CommandContext(ctx, filepath.Join(s.binDir, "initdb"), args...)
	s.asServerUser(cmd)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("pglocal: initdb %s: %w\n%s", s.opts.Dir, err, out)
	}
	return nil
}

// refuseIfRunning stops us from starting a second postmaster on a data
// directory whose server is still alive (another `hris dev`, say).
func (s *Server) refuseIfRunning() error {
	b, err := os.ReadFile(filepath.Join(s.opts.Dir, "postmaster.pid"))
	if err != nil {
		return nil
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || pid <= 0 {
		return nil
	}
	if syscall.Kill(pid, 0) == nil {
		return fmt.Errorf("pglocal: a PostgreSQL server (pid %d) is already running on %s; stop it first (kill -INT %d)", pid, s.opts.Dir, pid)
	}
	return nil
}

func (s *Server) start(ctx context.Context, port int) error {
	args := []string{
		"-D", s.opts.Dir,
		"-p", strconv.Itoa(port),
		"-c", "listen_addresses=127.0.0.1",
		// No Unix socket: nothing but TCP on loopback reaches a private server.
		"-c", "unix_socket_directories=",
		"-c", "logging_collector=off",
	}
	if s.opts.Throwaway {
		args = append(args, "-c", "fsync=off", "-c", "full_page_writes=off", "-c", "synchronous_commit=off")
	}
	keys := make([]string, 0, len(s.opts.Settings))
	for k := range s.opts.Settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		args = append(args, "-c", k+"="+s.opts.Settings[k])
	}
	cmd := exec.Command(filepath.Join(s.binDir, "postgres"), args...)
	s.asServerUser(cmd)
	// Its own process group keeps a terminal's Ctrl-C away from the server:
	// we stop it ourselves after the HTTP server has drained. Pdeathsig makes
	// the kernel stop it (fast shutdown) if we die without doing so.
	cmd.SysProcAttr.Setpgid = true
	cmd.SysProcAttr.Pdeathsig = syscall.SIGINT
	if s.opts.Log != nil {
		cmd.Stdout, cmd.Stderr = s.opts.Log, s.opts.Log
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("pglocal: start postgres: %w", err)
	}
	done := make(chan struct{})
	s.mu.Lock()
	s.cmd, s.done, s.port = cmd, done, port
	s.mu.Unlock()
	go func() {
		err := cmd.Wait()
		s.mu.Lock()
		s.waitErr = err
		s.mu.Unlock()
		close(done)
	}()
	return s.waitReady(ctx, done)
}

func (s *Server) waitReady(ctx context.Context, done <-chan struct{}) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		conn, err := pgx.Connect(cctx, s.URL("postgres"))
		cancel()
		if err == nil {
			conn.Close(ctx)
			return nil
		}
		select {
		case <-done:
			s.mu.Lock()
			werr := s.waitErr
			s.mu.Unlock()
			return fmt.Errorf("pglocal: postgres exited during startup (%v); run it by hand to see why: %s -D %s", werr, filepath.Join(s.binDir, "postgres"), s.opts.Dir)
		case <-ctx.Done():
			_ = s.Stop(5 * time.Second)
			return ctx.Err()
		case <-time.After(25 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = s.Stop(5 * time.Second)
			return fmt.Errorf("pglocal: postgres did not accept connections within 60s: %w", err)
		}
	}
}

// asServerUser makes cmd run as the postgres user when we are root.
func (s *Server) asServerUser(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	uid, gid, ok := serverUser()
	if !ok {
		return
	}
	cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uid, Gid: gid}
	cmd.Env = append(os.Environ(), "HOME="+s.opts.Dir)
	cmd.Dir = s.opts.Dir
}

// chown gives the data directory to the postgres user when we are root.
func (s *Server) chown() error {
	uid, gid, ok := serverUser()
	if !ok {
		return nil
	}
	// The server user must be able to reach the data directory through its
	// parents (a checkout under /root is not world-traversable).
	for dir := filepath.Dir(s.opts.Dir); dir != "/"; dir = filepath.Dir(dir) {
		fi, err := os.Stat(dir)
		if err != nil {
			break
		}
		if fi.Mode().Perm()&0o001 == 0 {
			_ = os.Chmod(dir, fi.Mode().Perm()|0o001)
		}
	}
	return filepath.WalkDir(s.opts.Dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, int(uid), int(gid))
	})
}

func serverUser() (uid, gid uint32, ok bool) {
	if os.Geteuid() != 0 {
		return 0, 0, false
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return 0, 0, false
	}
	id, _ := strconv.Atoi(u.Uid)
	g, _ := strconv.Atoi(u.Gid)
	return uint32(id), uint32(g), true
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func isExec(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

func resolve(p string) string {
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	return p
}

// byVersion sorts paths such as /usr/lib/postgresql/9/bin before .../15/bin.
type byVersion []string

func (b byVersion) Len() int      { return len(b) }
func (b byVersion) Swap(i, j int) { b[i], b[j] = b[j], b[i] }
func (b byVersion) Less(i, j int) bool {
	return versionOf(b[i]) < versionOf(b[j])
}

func versionOf(p string) int {
	for _, part := range strings.Split(p, string(filepath.Separator)) {
		digits := strings.TrimLeft(part, "postgresql@-")
		if n, err := strconv.Atoi(digits); err == nil {
			return n
		}
	}
	return 0
}
