// The hris processes the bench runs: the CLI for seeding, `hris serve`
// for the load, and a logged-in HTTP client.

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// hrisEnv is the environment of every hris command: the caller's, minus
// anything that would configure hris differently.
func (sr *sizeRun) hrisEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "HRIS_") || strings.HasPrefix(kv, "DATABASE_URL=") {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "DATABASE_URL="+sr.dbURL, "HRIS_COOKIE_SECURE=false",
		"HRIS_DB_MAX_CONNS="+strconv.Itoa(sr.b.o.pool), "HRIS_POOL_LOG_INTERVAL=0s")
	return append(env, extra...)
}

func (sr *sizeRun) hrisCmd(ctx context.Context, stdin string, args ...string) error {
	cmd := exec.CommandContext(ctx, sr.b.hrisBin, args...)
	cmd.Dir = sr.b.dir // no stray .env
	cmd.Env = sr.hrisEnv()
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("hris %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

type hrisProc struct {
	cmd  *exec.Cmd
	base string
	done chan struct{}
}

func (p *hrisProc) pid() int { return p.cmd.Process.Pid }

// stop sends SIGTERM and waits for the drain.
func (p *hrisProc) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// startHris starts `hris serve` on a free port and waits until it answers.
func (sr *sizeRun) startHris(ctx context.Context) (*hrisProc, error) {
	b := sr.b
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.Command(b.hrisBin, "serve")
	cmd.Dir = b.dir
	cmd.Env = sr.hrisEnv("HRIS_ADDR=" + addr)
	cmd.Stdout, cmd.Stderr = b.logFile, b.logFile
	killOnExit(cmd)
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &hrisProc{cmd: cmd, base: "http://" + addr, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(p.base + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, nil
			}
		}
		select {
		case <-p.done:
			return nil, fmt.Errorf("hris serve exited during startup; see %s", b.logFile.Name())
		case <-ctx.Done():
			p.stop()
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, errors.New("hris serve did not answer /health within 20s")
		}
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// login posts the login form and keeps the session cookie. The session
// lives in the database, so every hris process of this size accepts it.
func (sr *sizeRun) login(base string) error {
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequest(http.MethodPost, base+"/login",
		strings.NewReader(url.Values{"email": {adminEmail}, "password": {adminPassword}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		return fmt.Errorf("login: status %d", resp.StatusCode)
	}
	for _, c := range resp.Cookies() {
		if c.Name == "hris_session" {
			sr.cookie = c.Name + "=" + c.Value
		}
	}
	if sr.cookie == "" {
		return errors.New("login: no session cookie")
	}
	return nil
}

func (sr *sizeRun) get(client *http.Client, base, path string) (int, string, error) {
	req, _ := http.NewRequest(http.MethodGet, base+path, nil)
	req.Header.Set("Cookie", sr.cookie)
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

var plainClient = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
