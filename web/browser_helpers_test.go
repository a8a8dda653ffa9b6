package web_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-rod/rod"
	"github.com/go-rod/rod/lib/input"
	"github.com/go-rod/rod/lib/launcher"
	"github.com/go-rod/rod/lib/proto"

	"hris/db"
)

// The browser suite drives Debian's Chromium, headless, against the real
// app on a real PostgreSQL. Every page fails its test on a JavaScript
// exception or a console error (a CSP violation shows up as one).

var (
	browserOnce     sync.Once
	browserInst     *rod.Browser
	browserLauncher *launcher.Launcher
	browserErr      error
)

// closeBrowser stops the shared Chromium and its helper processes (they run
// in their own process group) when the test binary is done, so no browser
// outlives the tests.
func closeBrowser() {
	if browserInst != nil {
		_ = browserInst.Close()
	}
	if browserLauncher != nil {
		browserLauncher.Kill()
		browserLauncher.Cleanup()
	}
}

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
		start := time.Now()
		defer func() {
			if d := time.Since(start); d > 3*time.Second {
				t.Logf("launching Chromium took %s", d.Round(time.Millisecond))
			}
		}()
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
		browserLauncher = l
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
	// requests is every request the page sent, in order.
	requests []sentRequest
	// onPhone is set while the viewport is a phone's.
	onPhone bool
}

// sentRequest is one request as the browser sent it.
type sentRequest struct {
	Method string
	URL    string
	HTMX   bool // sent by htmx (HX-Request header)
}

// stepTimeout bounds each step of a browser test (a navigation, finding
// an element, a wait), so a page that never comes fails within it instead
// of at the end of the test binary's timeout.
const stepTimeout = 30 * time.Second

// p is the tab's page with a fresh stepTimeout: use it for anything that
// waits. (rod's Timeout is a deadline for everything done through the
// page it returns, so it is taken anew for each step.)
func (tb *tab) p() *rod.Page { return tb.page.Timeout(stepTimeout) }

// newTab opens an incognito context, so each tab is a separate user.
func (e *env) newTab(t *testing.T) *tab {
	t.Helper()
	b := sharedBrowser(t)
	start := time.Now()
	ctx, err := b.Incognito()
	if err != nil {
		t.Fatal(err)
	}
	page, err := ctx.Page(proto.TargetCreateTarget{URL: "about:blank"})
	if err != nil {
		t.Fatal(err)
	}
	_ = page.SetViewport(&proto.EmulationSetDeviceMetricsOverride{Width: 1280, Height: 900, DeviceScaleFactor: 1})
	tb := &tab{t: t, e: e, page: page}
	defer tb.slow("new tab", start)
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
				if msg := strings.Join(parts, " "); !expectedConsoleError(msg) {
					tb.fail("console.error: " + msg)
				}
			}
		},
		func(ev *proto.LogEntryAdded) {
			if ev.Entry.Level == proto.LogLogEntryLevelError && !expectedLogError(ev.Entry) {
				tb.fail("log error: " + ev.Entry.Text + " " + ev.Entry.URL)
			}
		},
		func(ev *proto.NetworkRequestWillBeSent) {
			_, hx := ev.Request.Headers["HX-Request"]
			tb.mu.Lock()
			tb.requests = append(tb.requests, sentRequest{Method: ev.Request.Method, URL: ev.Request.URL, HTMX: hx})
			tb.mu.Unlock()
		},
	)()
	_ = proto.LogEnable{}.Call(page)
	_ = proto.RuntimeEnable{}.Call(page)
	_ = proto.NetworkEnable{}.Call(page)
	t.Cleanup(func() {
		tb.mu.Lock()
		errs := tb.errors
		tb.mu.Unlock()
		for _, e := range errs {
			t.Errorf("browser: %s", e)
		}
		defer tb.slow("close tab", time.Now())
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

// slow logs a step that took long: the place to look when the suite
// gets slower or a wait only ends by its timeout.
func (tb *tab) slow(step string, start time.Time) {
	if d := time.Since(start); d > 3*time.Second {
		tb.t.Logf("slow browser step (%s): %s", d.Round(time.Millisecond), step)
	}
}

// expectedConsoleError filters what htmx logs when the browser aborts a
// request in flight because the page is being left (a poll on /ops when
// someone clicks away): "htmx:sendAbort", with the "htmx:afterRequest"
// that goes with it. A failed request still fails the test through its
// own message (htmx:sendError, htmx:responseError, htmx:timeout).
func expectedConsoleError(msg string) bool {
	return strings.HasPrefix(msg, "htmx:sendAbort") || strings.HasPrefix(msg, "htmx:afterRequest")
}

func (tb *tab) fail(msg string) {
	tb.mu.Lock()
	tb.errors = append(tb.errors, msg)
	tb.mu.Unlock()
}

// open navigates to path and waits for the page to load.
func (tb *tab) open(path string) *tab {
	tb.t.Helper()
	defer tb.slow("open "+path, time.Now())
	p := tb.p()
	if err := p.Navigate(tb.e.Srv.URL + path); err != nil {
		tb.t.Fatalf("open %s: %v", path, err)
	}
	if err := p.WaitLoad(); err != nil {
		tb.t.Fatalf("open %s: wait for load: %v", path, err)
	}
	return tb
}

// el finds one element by CSS selector.
func (tb *tab) el(selector string) *rod.Element {
	tb.t.Helper()
	el, err := tb.p().Element(selector)
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
	defer tb.slow("fill "+selector, time.Now())
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
	defer tb.slow("click "+selector, time.Now())
	el := tb.el(selector)
	p := tb.p()
	var wait func()
	if navigates {
		wait = p.WaitNavigation(proto.PageLifecycleEventNameLoad)
	}
	if err := el.Click(proto.InputMouseButtonLeft, 1); err != nil {
		tb.t.Fatalf("click %s: %v", selector, err)
	}
	if wait != nil {
		wait() // returns on the load event or at the step's deadline
		if p.GetContext().Err() != nil {
			tb.t.Fatalf("clicked %s: no page loaded within %s", selector, stepTimeout)
		}
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
	el, err := tb.p().Element("body")
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

// screenshot saves the page under screenshots/ (gitignored) for people
// to look at: NAME.png in the light theme and NAME-dark.png with
// prefers-color-scheme: dark. At desktop width it is the whole page; on a
// phone, the first screen, as someone holding it sees it.
func (tb *tab) screenshot(name string) {
	tb.t.Helper()
	defer tb.slow("screenshot "+name, time.Now())
	dir := filepath.Join("..", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.t.Fatal(err)
	}
	defer tb.colorScheme("light")
	for _, scheme := range []string{"light", "dark"} {
		tb.colorScheme(scheme)
		// Every page worth a screenshot is checked for accessibility as
		// it is shot, in each theme (and at phone width when shot there).
		if found := tb.accessibility(); len(found) > 0 {
			tb.t.Errorf("%s (%s theme): axe finds:\n  %s", name, scheme, strings.Join(found, "\n  "))
		}
		b, err := tb.p().Screenshot(!tb.onPhone, &proto.PageCaptureScreenshot{Format: proto.PageCaptureScreenshotFormatPng})
		if err != nil {
			tb.t.Fatalf("screenshot %s: %v", name, err)
		}
		file := name + ".png"
		if scheme == "dark" {
			file = name + "-dark.png"
		}
		if err := os.WriteFile(filepath.Join(dir, file), b, 0o644); err != nil {
			tb.t.Fatal(err)
		}
	}
}

// colorScheme emulates prefers-color-scheme: light or dark.
func (tb *tab) colorScheme(scheme string) {
	tb.t.Helper()
	err := proto.EmulationSetEmulatedMedia{Features: []*proto.EmulationMediaFeature{{Name: "prefers-color-scheme", Value: scheme}}}.Call(tb.page)
	if err != nil {
		tb.t.Fatalf("emulate %s color scheme: %v", scheme, err)
	}
}

// phone makes the viewport a phone's (390×844, touch); desktop undoes it.
func (tb *tab) phone() {
	tb.t.Helper()
	if err := tb.page.SetViewport(&proto.EmulationSetDeviceMetricsOverride{Width: 390, Height: 844, DeviceScaleFactor: 2, Mobile: true}); err != nil {
		tb.t.Fatal(err)
	}
	tb.onPhone = true
}

func (tb *tab) desktop() {
	tb.t.Helper()
	if err := tb.page.SetViewport(&proto.EmulationSetDeviceMetricsOverride{Width: 1280, Height: 900, DeviceScaleFactor: 1}); err != nil {
		tb.t.Fatal(err)
	}
	tb.onPhone = false
}

// overflow lists what sticks out sideways: the page wider than the
// viewport, an element past the viewport's right edge, or past the edge
// of the card or panel it is in. Inside a .table-wrap (which scrolls on
// its own) anything goes.
func (tb *tab) overflow() []string {
	tb.t.Helper()
	res, err := tb.p().Eval(`() => {
		const w = document.documentElement.clientWidth, out = [];
		const name = el => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
			(typeof el.className === "string" && el.className.trim() ? "." + el.className.trim().split(/\s+/).join(".") : "");
		if (document.documentElement.scrollWidth > w) {
			out.push("the page is " + document.documentElement.scrollWidth + "px wide in a " + w + "px viewport");
		}
		for (const el of document.body.querySelectorAll("*")) {
			if (el.closest(".table-wrap, .visually-hidden, .skip-link")) continue;
			const r = el.getBoundingClientRect();
			if (r.width === 0) continue;
			if (r.right > w + 0.5) {
				out.push(name(el) + " ends at " + Math.round(r.right) + "px");
				continue;
			}
			const box = el.parentElement && el.parentElement.closest(".card, .panel");
			if (box && r.right > box.getBoundingClientRect().right + 0.5) {
				out.push(name(el) + " sticks out of its " + name(box) + " by " + Math.round(r.right - box.getBoundingClientRect().right) + "px");
			}
		}
		return out.slice(0, 10);
	}`)
	if err != nil {
		tb.t.Fatalf("measure overflow: %v", err)
	}
	var out []string
	for _, v := range res.Value.Arr() {
		out = append(out, v.Str())
	}
	return out
}

// status is the HTTP status of the page now shown (the response to the
// navigation, after redirects).
func (tb *tab) status() int {
	tb.t.Helper()
	res, err := tb.p().Eval(`() => performance.getEntriesByType("navigation")[0].responseStatus`)
	if err != nil {
		tb.t.Fatalf("status: %v", err)
	}
	return res.Value.Int()
}

// sent counts the requests the page sent with method to URLs starting
// with prefix (a path on the test server), and how many of them htmx sent.
func (tb *tab) sent(method, prefix string) (all, htmx int) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	for _, r := range tb.requests {
		if r.Method == method && strings.HasPrefix(r.URL, tb.e.Srv.URL+prefix) {
			all++
			if r.HTMX {
				htmx++
			}
		}
	}
	return all, htmx
}

// typeKeys focuses selector and types text key by key, as a person does:
// every character is its own keydown, input and keyup.
func (tb *tab) typeKeys(selector, text string) {
	tb.t.Helper()
	if err := tb.el(selector).Focus(); err != nil {
		tb.t.Fatal(err)
	}
	for _, r := range text {
		if err := tb.p().Keyboard.Type(input.Key(r)); err != nil {
			tb.t.Fatalf("type %q into %s: %v", r, selector, err)
		}
	}
}

// typeSearch types text into the live search box selector (an htmx input
// with hx-trigger "input changed delay:…") key by key, and waits until
// the search for the whole text has been answered and swapped in, with no
// request left in flight. Typing a key at a time, a slow machine can pause
// longer than the delay between two keys, so the debounce fires on a
// prefix ("quil"); that prefix's answer may already look right, and may
// even arrive after a choice was clicked, so it must not be taken for the
// last one. It returns how many pauses between keystrokes were long
// enough (more than delay less 50 ms) for such a prefix search to fire.
func (tb *tab) typeSearch(selector, text string, delay time.Duration) (pauses int) {
	tb.t.Helper()
	// Each keystroke's time and each answered htmx request's URL, taken
	// in the page itself.
	tb.el(selector).MustEval(`function () {
		window.hrisSearch = {keys: [], answered: []};
		if (!this.hrisTimed) {
			this.hrisTimed = true;
			this.addEventListener("input", () => window.hrisSearch.keys.push(performance.now()));
		}
		if (!window.hrisSearchHooked) {
			window.hrisSearchHooked = true;
			document.addEventListener("htmx:afterSettle", ev => {
				if (window.hrisSearch && ev.detail.xhr) window.hrisSearch.answered.push(ev.detail.xhr.responseURL);
			});
		}
	}`)
	tb.typeKeys(selector, text)
	if err := tb.p().Wait(rod.Eval(`(selector, text) => {
		const box = document.querySelector(selector), a = window.hrisSearch.answered;
		return box.value === text && !box.classList.contains("htmx-request") &&
			a.length > 0 && new URL(a[a.length - 1]).searchParams.get(box.name) === text;
	}`, selector, text)); err != nil {
		tb.t.Fatalf("waiting for the search for %q in %s to be answered: %v\n%s", text, selector, err, tb.text())
	}
	gaps := tb.p().MustEval(`() => {
		const k = window.hrisSearch.keys, gaps = [];
		for (let i = 1; i < k.length; i++) gaps.push(k[i] - k[i - 1]);
		return gaps;
	}`).Arr()
	for _, g := range gaps {
		if g.Num() > float64((delay - 50*time.Millisecond).Milliseconds()) {
			pauses++
		}
	}
	return pauses
}

// choose picks the option labelled label in the select selector.
func (tb *tab) choose(selector, label string) {
	tb.t.Helper()
	if err := tb.el(selector).Select([]string{label}, true, rod.SelectorTypeText); err != nil {
		tb.t.Fatalf("choose %q in %s: %v", label, selector, err)
	}
}

// date sets a date input through its own input events (typing into a
// date field depends on the browser's locale).
func (tb *tab) date(selector string, d time.Time) {
	tb.t.Helper()
	if err := tb.el(selector).InputTime(d); err != nil {
		tb.t.Fatalf("set date %s: %v", selector, err)
	}
}

// value is the current value of a form control.
func (tb *tab) value(selector string) string {
	tb.t.Helper()
	v, err := tb.el(selector).Property("value")
	if err != nil {
		tb.t.Fatal(err)
	}
	return v.Str()
}

// waitJS waits until the JavaScript expression js (a function body's
// return value) is truthy; rod polls it on animation frames.
func (tb *tab) waitJS(what, js string) {
	tb.t.Helper()
	if err := tb.p().Wait(rod.Eval(`() => ` + js)); err != nil {
		tb.t.Fatalf("waiting for %s: %v\n%s", what, err, tb.text())
	}
}

// checkShell checks what every page has: its title, the favicon and,
// when someone is logged in, who they are and their role.
func (tb *tab) checkShell(title, name, role string) {
	tb.t.Helper()
	if got, want := tb.title(), title+" · hris"; got != want {
		tb.t.Errorf("%s: title %q, want %q", tb.path(), got, want)
	}
	if !tb.has(`link[rel=icon][href^="/static/favicon.svg"]`) {
		tb.t.Errorf("%s: no favicon link", tb.path())
	}
	if name == "" {
		return
	}
	who := tb.el(".who").MustText()
	if !strings.Contains(who, name) || !strings.Contains(strings.ToLower(who), role) {
		tb.t.Errorf("%s: navigation shows %q, want %s and the role %s", tb.path(), who, name, role)
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

// seedDemo fills the database the way `hris seed` does: ten departments
// and n employees with varied names, titles, departments, hire dates and
// statuses, so the pages look like they do in use.
func (e *env) seedDemo(n int) {
	e.t.Helper()
	depts := []string{"Engineering", "Finance", "Human Resources", "Marketing", "Operations",
		"Sales", "Customer Support", "Legal", "Product", "Research"}
	descs := []string{"Builds and runs the product", "Accounts, payroll and budgets", "People, hiring and policies",
		"Brand, campaigns and events", "Facilities, logistics and IT", "New business and key accounts",
		"Helps customers every day", "Contracts and compliance", "Decides what gets built next", "Looks further ahead"}
	first := strings.Fields("Ada Alan Amara Ben Bianca Carlos Chen Dara Diego Elena Erik Fatima Grace Hana Hugo Ines Jade Jonas Kenji Lara Maya Nadia Omar Priya Rosa Theo")
	last := strings.Fields("Abbott Alvarez Bauer Castro Dubois Eriksson Fischer Garcia Hansen Ito Kowalski Lambert Meyer Nakamura Novak Okafor Patel Rossi Schmidt Silva Tanaka Walsh Yilmaz Zhang")
	titles := []string{"Analyst", "Senior Engineer", "Coordinator", "Account Manager", "Specialist", "Director", "Consultant", "Assistant", "Team Lead", "Recruiter"}
	statuses := []string{"active", "active", "active", "active", "active", "active", "active", "on_leave", "active", "terminated"}
	ctx := context.Background()
	err := e.DB.InTx(ctx, func(ctx context.Context, q *db.Queries) error {
		if _, err := q.SeedDepartments(ctx, db.SeedDepartmentsParams{Names: depts, Descriptions: descs}); err != nil {
			return err
		}
		ids, err := q.DepartmentIDs(ctx)
		if err != nil {
			return err
		}
		var p db.SeedEmployeesParams
		base := time.Date(2012, 3, 1, 0, 0, 0, 0, time.UTC)
		for i := range n {
			f, l := first[(i*7)%len(first)], last[(i*5+i/len(last))%len(last)]
			p.FirstNames = append(p.FirstNames, f)
			p.LastNames = append(p.LastNames, l)
			p.Emails = append(p.Emails, fmt.Sprintf("%s.%s.%d@example.com", strings.ToLower(f), strings.ToLower(l), i))
			p.JobTitles = append(p.JobTitles, titles[(i*3)%len(titles)])
			p.DepartmentIds = append(p.DepartmentIds, ids[(i*11)%len(ids)])
			p.HireDates = append(p.HireDates, base.AddDate(0, 0, (i*97)%4300))
			p.Statuses = append(p.Statuses, statuses[(i*13)%len(statuses)])
		}
		_, err = q.SeedEmployees(ctx, p)
		return err
	})
	if err != nil {
		e.t.Fatalf("seed: %v", err)
	}
}

// int64 reads one integer value.
func (e *env) int64(sql string, args ...any) int64 {
	e.t.Helper()
	var n int64
	if err := e.DB.Pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		e.t.Fatalf("%s: %v", sql, err)
	}
	return n
}
