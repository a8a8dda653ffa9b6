package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"hris/db/dbtest"
)

// hrisBin is the hris binary built once for the process-level tests.
var hrisBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "hris-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	hrisBin = filepath.Join(dir, "hris")
	build := exec.Command("go", "build", "-o", hrisBin, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build hris:", err)
		os.Exit(1)
	}
	defer os.RemoveAll(dir)
	dbtest.Main(m)
}

// proc is a running hris process.
type proc struct {
	t      *testing.T
	cmd    *exec.Cmd
	mu     sync.Mutex
	out    bytes.Buffer // stdout and stderr together
	done   chan struct{}
	err    error
	lineCh chan string
}

// start runs `hris args...` with the given environment (on top of a
// minimal one) and captures its output.
func start(t *testing.T, env map[string]string, stdin string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(hrisBin, args...)
	cmd.Dir = t.TempDir()
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + cmd.Dir, "HRIS_LOG_LEVEL=info"}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	p := &proc{t: t, cmd: cmd, done: make(chan struct{}), lineCh: make(chan string, 1000)}
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64*1024), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.out.WriteString(line + "\n")
			p.mu.Unlock()
			select {
			case p.lineCh <- line:
			default:
			}
		}
	}()
	go func() {
		p.err = cmd.Wait()
		pw.Close()
		<-scanned // every line is in p.out before anyone sees the exit
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-p.done:
			case <-time.After(30 * time.Second):
				_ = cmd.Process.Kill()
				<-p.done
			}
		}
		if t.Failed() {
			t.Logf("hris %s output:\n%s", strings.Join(args, " "), p.output())
		}
	})
	return p
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// waitFor returns the first submatch of re in the output, waiting up to d.
func (p *proc) waitFor(re *regexp.Regexp, d time.Duration) string {
	p.t.Helper()
	deadline := time.After(d)
	for {
		if m := re.FindStringSubmatch(p.output()); m != nil {
			if len(m) > 1 {
				return m[1]
			}
			return m[0]
		}
		select {
		case <-p.lineCh:
		case <-p.done:
			if m := re.FindStringSubmatch(p.output()); m != nil {
				if len(m) > 1 {
					return m[1]
				}
				return m[0]
			}
			p.t.Fatalf("hris exited (%v) before printing %q:\n%s", p.err, re, p.output())
		case <-deadline:
			p.t.Fatalf("no %q within %s:\n%s", re, d, p.output())
		}
	}
}

// wait waits for the process to exit and returns its exit code.
func (p *proc) wait(d time.Duration) int {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(d):
		p.t.Fatalf("hris still running after %s:\n%s", d, p.output())
	}
	if p.err == nil {
		return 0
	}
	if ee, ok := p.err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	p.t.Fatalf("wait: %v", p.err)
	return -1
}

var listeningRE = regexp.MustCompile(`msg=listening addr=(\S+)`)

// serveEnv is the environment for `hris serve` on databaseURL.
func serveEnv(databaseURL string, extra ...string) map[string]string {
	env := map[string]string{
		"DATABASE_URL":            databaseURL,
		"HRIS_ADDR":               "127.0.0.1:0",
		"HRIS_COOKIE_SECURE":      "false",
		"HRIS_DB_STARTUP_TIMEOUT": "5s",
		"HRIS_POOL_LOG_INTERVAL":  "0s",
	}
	for i := 0; i+1 < len(extra); i += 2 {
		env[extra[i]] = extra[i+1]
	}
	return env
}

// serveApp starts `hris serve` and returns the process and its base URL.
func serveApp(t *testing.T, env map[string]string, args ...string) (*proc, string) {
	t.Helper()
	p := start(t, env, "", append([]string{"serve"}, args...)...)
	addr := p.waitFor(listeningRE, 30*time.Second)
	return p, "http://" + addr
}

// cliCreateUser runs `hris user create` and returns the password it set.
func cliCreateUser(t *testing.T, databaseURL, email, role string) string {
	t.Helper()
	pw := "a long test password"
	p := start(t, map[string]string{"DATABASE_URL": databaseURL}, pw+"\n", "user", "create", "--email", email, "--name", "Test "+role, "--role", role)
	if code := p.wait(30 * time.Second); code != 0 {
		t.Fatalf("user create exited %d:\n%s", code, p.output())
	}
	return pw
}

// browser is an HTTP client with a cookie jar that does not follow
// redirects, sending the headers a browser sends on same-origin posts.
type browser struct {
	t    *testing.T
	base string
	hc   *http.Client
}

func newBrowser(t *testing.T, base string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: base, hc: &http.Client{
		Jar:           jar,
		Timeout:       60 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

func (b *browser) get(path string) (int, string, error) {
	resp, err := b.hc.Get(b.base + path)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), nil
}

func (b *browser) post(path string, form url.Values) (*http.Response, string, error) {
	req, _ := http.NewRequest(http.MethodPost, b.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", b.base)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := b.hc.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body), nil
}

func (b *browser) login(email, pw string) {
	b.t.Helper()
	resp, body, err := b.post("/login", url.Values{"email": {email}, "password": {pw}})
	if err != nil || resp.StatusCode != http.StatusSeeOther {
		b.t.Fatalf("login: %v %v\n%s", err, resp, body)
	}
}

// appConnections counts the app's connections as the server sees them.
func appConnections(t *testing.T, adminURL string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'hris'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// appConnectionsAfterExit is appConnections once the app has exited: a
// backend leaves pg_stat_activity a moment after its client closed the
// connection, so it polls, for up to 5 s, until none is left, and
// returns how many were still there.
func appConnectionsAfterExit(t *testing.T, adminURL string) int {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := appConnections(t, adminURL)
		if n == 0 || time.Now().After(deadline) {
			return n
		}
		time.Sleep(100 * time.Millisecond)
	}
}
