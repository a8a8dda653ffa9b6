package web_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-rod/rod"
	"github.com/go-rod/rod/lib/launcher"
	"github.com/go-rod/rod/lib/proto"
)

// The browser suite drives Debian's Chromium, headless, against the real
// app on a real PostgreSQL. Every page fails its test on a JavaScript
// exception or a console error (a CSP violation shows up as one).

var (
	browserOnce sync.Once
	browserInst *rod.Browser
	browserErr  error
)

// chromium finds the browser binary; make test installs Debian's.
func chromium() (string, error) {
	for _, p := range []string{os.Getenv("HRIS_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p, nil
	}
	return "", os.ErrNotExist
}

// sharedBrowser launches one Chromium for the whole test binary.
func sharedBrowser(t *testing.T) *rod.Browser {
	t.Helper()
	browserOnce.Do(func() {
		bin, err := chromium()
		if err != nil {
			browserErr = err
			return
		}
		l := launcher.New().Bin(bin).Headless(true).NoSandbox(true).Leakless(false).
			Set("disable-gpu").Set("disable-background-networking").Set("disable-component-update").
			Set("disable-sync").Set("no-first-run").Set("disable-quic").Set("disable-dev-shm-usage")
		u, err := l.Launch()
		if err != nil {
			browserErr = err
			return
		}
		b := rod.New().ControlURL(u)
		if err := b.Connect(); err != nil {
			browserErr = err
			return
		}
		browserInst = b
	})
	if browserErr != nil {
		// Not a skip: a browser suite that quietly does not run proves nothing.
		t.Fatalf("browser tests need Chromium (Debian: apt-get install chromium; make test installs it): %v", browserErr)
	}
	return browserInst
}

// tab is one browser context (its own cookies) with one page, collecting
// JavaScript errors.
type tab struct {
	t      *testing.T
	e      *env
	page   *rod.Page
	mu     sync.Mutex
	errors []string
}

// newTab opens an incognito context, so each tab is a separate user.
func (e *env) newTab(t *testing.T) *tab {
	t.Helper()
	b := sharedBrowser(t)
	ctx, err := b.Incognito()
	if err != nil {
		t.Fatal(err)
	}
	page, err := ctx.Page(proto.TargetCreateTarget{URL: "about:blank"})
	if err != nil {
		t.Fatal(err)
	}
	page = page.Timeout(30 * time.Second)
	_ = page.SetViewport(&proto.EmulationSetDeviceMetricsOverride{Width: 1280, Height: 900, DeviceScaleFactor: 1})
	tb := &tab{t: t, e: e, page: page}
	go page.EachEvent(
		func(ev *proto.RuntimeExceptionThrown) {
			tb.fail("exception: " + ev.ExceptionDetails.Text + " " + exceptionDesc(ev))
		},
		func(ev *proto.RuntimeConsoleAPICalled) {
			if ev.Type == proto.RuntimeConsoleAPICalledTypeError {
				var parts []string
				for _, a := range ev.Args {
					parts = append(parts, a.Description+a.Value.String())
				}
				tb.fail("console.error: " + strings.Join(parts, " "))
			}
		},
		func(ev *proto.LogEntryAdded) {
			if ev.Entry.Level == proto.LogLogEntryLevelError && !expectedLogError(ev.Entry) {
				tb.fail("log error: " + ev.Entry.Text + " " + ev.Entry.URL)
			}
		},
	)()
	_ = proto.LogEnable{}.Call(page)
	_ = proto.RuntimeEnable{}.Call(page)
	t.Cleanup(func() {
		tb.mu.Lock()
		errs := tb.errors
		tb.mu.Unlock()
		for _, e := range errs {
			t.Errorf("browser: %s", e)
		}
		_ = page.Close()
		_ = ctx.Close()
	})
	return tb
}

func exceptionDesc(ev *proto.RuntimeExceptionThrown) string {
	if ev.ExceptionDetails.Exception != nil {
		return ev.ExceptionDetails.Exception.Description
	}
	return ""
}

// expectedLogError filters the browser's own network log lines for
// responses a test provokes on purpose (403, 409, 422, 503 pages are
// error statuses, not page errors).
func expectedLogError(e *proto.LogLogEntry) bool {
	return e.Source == proto.LogLogEntrySourceNetwork && strings.Contains(e.Text, "the server responded with a status of")
}

func (tb *tab) fail(msg string) {
	tb.mu.Lock()
	tb.errors = append(tb.errors, msg)
	tb.mu.Unlock()
}

// open navigates to path and waits for the page to load.
func (tb *tab) open(path string) *tab {
	tb.t.Helper()
	if err := tb.page.Navigate(tb.e.Srv.URL + path); err != nil {
		tb.t.Fatalf("open %s: %v", path, err)
	}
	tb.waitLoad()
	return tb
}

func (tb *tab) waitLoad() {
	tb.t.Helper()
	if err := tb.page.WaitLoad(); err != nil {
		tb.t.Fatalf("wait load: %v", err)
	}
}

// el finds one element by CSS selector.
func (tb *tab) el(selector string) *rod.Element {
	tb.t.Helper()
	el, err := tb.page.Element(selector)
	if err != nil {
		tb.t.Fatalf("element %q on %s: %v\n%s", selector, tb.url(), err, tb.text())
	}
	return el
}

func (tb *tab) has(selector string) bool {
	ok, _, _ := tb.page.Has(selector)
	return ok
}

// fill types into the input named name, replacing what is there.
func (tb *tab) fill(selector, value string) {
	tb.t.Helper()
	el := tb.el(selector)
	if err := el.SelectAllText(); err != nil {
		tb.t.Fatal(err)
	}
	if err := el.Input(value); err != nil {
		tb.t.Fatalf("type into %s: %v", selector, err)
	}
}

// click clicks selector and, when navigates is true, waits for the next page.
func (tb *tab) click(selector string, navigates bool) {
	tb.t.Helper()
	el := tb.el(selector)
	var wait func()
	if navigates {
		wait = tb.page.WaitNavigation(proto.PageLifecycleEventNameLoad)
	}
	if err := el.Click(proto.InputMouseButtonLeft, 1); err != nil {
		tb.t.Fatalf("click %s: %v", selector, err)
	}
	if wait != nil {
		wait()
	}
}

func (tb *tab) url() string {
	info, err := tb.page.Info()
	if err != nil {
		return ""
	}
	return info.URL
}

func (tb *tab) path() string {
	u := tb.url()
	return strings.TrimPrefix(u, tb.e.Srv.URL)
}

func (tb *tab) text() string {
	el, err := tb.page.Element("body")
	if err != nil {
		return ""
	}
	s, _ := el.Text()
	return s
}

func (tb *tab) title() string {
	info, err := tb.page.Info()
	if err != nil {
		return ""
	}
	return info.Title
}

// screenshot saves the whole page under screenshots/ (gitignored) for
// people to look at.
func (tb *tab) screenshot(name string) {
	tb.t.Helper()
	dir := filepath.Join("..", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.t.Fatal(err)
	}
	b, err := tb.page.Screenshot(true, &proto.PageCaptureScreenshot{Format: proto.PageCaptureScreenshotFormatPng})
	if err != nil {
		tb.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), b, 0o644); err != nil {
		tb.t.Fatal(err)
	}
}

// loginForm logs in through the login form like a person would.
func (tb *tab) loginForm(email, password string) {
	tb.t.Helper()
	tb.open("/login")
	tb.fill("#email", email)
	tb.fill("#password", password)
	tb.click("button[type=submit]", true)
	if strings.HasPrefix(tb.path(), "/login") {
		tb.t.Fatalf("still on the login page after logging in as %s:\n%s", email, tb.text())
	}
}
