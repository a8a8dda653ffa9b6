package web_test

import (
	"context"
	"encoding/csv"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
)

// exec runs SQL against the test database, failing the test on error.
func (e *env) exec(sql string, args ...any) {
	e.t.Helper()
	if _, err := e.DB.Pool.Exec(context.Background(), sql, args...); err != nil {
		e.t.Fatalf("%s: %v", sql, err)
	}
}

// department inserts a department and returns its id.
func (e *env) department(name string) int64 {
	e.t.Helper()
	var id int64
	if err := e.DB.Pool.QueryRow(context.Background(), "INSERT INTO departments (name) VALUES ($1) RETURNING id", name).Scan(&id); err != nil {
		e.t.Fatal(err)
	}
	return id
}

// employee inserts an employee directly and returns its id.
func (e *env) employee(first, last, email string, departmentID, managerID *int64) int64 {
	e.t.Helper()
	var id int64
	err := e.DB.Pool.QueryRow(context.Background(),
		"INSERT INTO employees (first_name, last_name, email, department_id, manager_id, hire_date) VALUES ($1, $2, $3, $4, $5, '2020-01-01') RETURNING id",
		first, last, email, departmentID, managerID).Scan(&id)
	if err != nil {
		e.t.Fatal(err)
	}
	return id
}

// str reads one text value.
func (e *env) str(sql string, args ...any) string {
	e.t.Helper()
	var s string
	if err := e.DB.Pool.QueryRow(context.Background(), sql, args...).Scan(&s); err != nil {
		e.t.Fatalf("%s: %v", sql, err)
	}
	return s
}

func employeeForm(email string) url.Values {
	return url.Values{
		"first_name":      {"Ada"},
		"last_name":       {"Lovelace"},
		"email":           {email},
		"job_title":       {"Analyst"},
		"hire_date":       {"2021-03-01"},
		"status":          {"active"},
		"idempotency_key": {uuid.NewString()},
	}
}

// createdID is the employee or department id a 303 after a create points to.
func createdID(t *testing.T, r response, prefix string) int64 {
	t.Helper()
	r.expect(t, http.StatusSeeOther)
	loc := r.Header.Get("Location")
	id, err := strconv.ParseInt(strings.TrimPrefix(loc, prefix), 10, 64)
	if !strings.HasPrefix(loc, prefix) || err != nil {
		t.Fatalf("redirected to %q, want %s{id}", loc, prefix)
	}
	return id
}

// fieldError is the message shown next to a form field, or "".
func fieldError(body, field string) string {
	m := regexp.MustCompile(`id="` + regexp.QuoteMeta(field) + `-error">([^<]*)<`).FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

var (
	rowLinkRE = regexp.MustCompile(`<td><a href="/employees/(\d+)">`)
	nextRE    = regexp.MustCompile(`rel="next" href="([^"]+)"`)
	firstRE   = regexp.MustCompile(`href="([^"]+)"[^>]*>First page<`)
)

// listPage is one page of the employee list as the client sees it.
type listPage struct {
	IDs   []int64
	Next  string
	First string
	Body  string
}

func (c *client) list(t *testing.T, path string) listPage {
	t.Helper()
	r := c.get(path).expect(t, http.StatusOK)
	p := listPage{Body: r.Body}
	for _, m := range rowLinkRE.FindAllStringSubmatch(r.Body, -1) {
		id, _ := strconv.ParseInt(m[1], 10, 64)
		p.IDs = append(p.IDs, id)
	}
	if m := nextRE.FindStringSubmatch(r.Body); m != nil {
		p.Next = html.UnescapeString(m[1])
	}
	if m := firstRE.FindStringSubmatch(r.Body); m != nil {
		p.First = html.UnescapeString(m[1])
	}
	return p
}

// walk follows Next from path to the last page and returns every id seen.
func (c *client) walk(t *testing.T, path string) (ids []int64, pages int) {
	t.Helper()
	for path != "" {
		p := c.list(t, path)
		ids = append(ids, p.IDs...)
		pages++
		if pages > 1 && p.First == "" {
			t.Errorf("page %d (%s) has no link back to the first page", pages, path)
		}
		path = p.Next
		if pages > 1000 {
			t.Fatal("pagination does not end")
		}
	}
	return ids, pages
}

func TestEmployeeCreate(t *testing.T) {
	e := newEnv(t)
	c := e.loggedIn("hr")
	dept := e.department("Engineering")
	boss := e.employee("Charles", "Babbage", "charles@example.com", &dept, nil)

	form := c.get("/employees/new").expect(t, http.StatusOK)
	m := regexp.MustCompile(`name="idempotency_key" value="([0-9a-f-]{36})"`).FindStringSubmatch(form.Body)
	if m == nil {
		t.Fatal("the new-employee form has no idempotency key")
	}
	if other := c.get("/employees/new").Body; strings.Contains(other, m[1]) {
		t.Error("two new forms got the same idempotency key")
	}

	f := employeeForm("ada@example.com")
	f.Set("idempotency_key", m[1])
	f.Set("department_id", strconv.FormatInt(dept, 10))
	f.Set("manager_id", strconv.FormatInt(boss, 10))
	id := createdID(t, c.post("/employees", f), "/employees/")

	show := c.get("/employees/"+strconv.FormatInt(id, 10)).expect(t, http.StatusOK)
	for _, want := range []string{"Employee Ada Lovelace created.", "ada@example.com", "Engineering", "Charles Babbage", "employee.create"} {
		if !strings.Contains(show.Body, want) {
			t.Errorf("employee page lacks %q", want)
		}
	}
	if n := e.count("SELECT count(*) FROM employees WHERE id = $1 AND create_key = $2 AND department_id = $3 AND manager_id = $4 AND version = 1", id, m[1], dept, boss); n != 1 {
		t.Error("the row does not hold what was submitted")
	}
	if n := e.count("SELECT count(*) FROM audit_log WHERE action = 'employee.create' AND entity_id = $1 AND after->>'email' = 'ada@example.com' AND actor_email LIKE 'hr%'", id); n != 1 {
		t.Errorf("%d employee.create audit rows, want 1", n)
	}
	// The flash is shown once.
	if strings.Contains(c.get("/employees/"+strconv.FormatInt(id, 10)).Body, "created.") {
		t.Error("the flash message is shown again")
	}
}

func TestEmployeeValidation(t *testing.T) {
	e := newEnv(t)
	c := e.loggedIn("hr")
	long := strings.Repeat("x", 101)
	cases := []struct {
		name, field, value, errField, want string
	}{
		{"first name missing", "first_name", "  ", "first_name", "Enter the first name."},
		{"first name too long", "first_name", long, "first_name", "at most 100"},
		{"last name missing", "last_name", "", "last_name", "Enter the last name."},
		{"last name too long", "last_name", long, "last_name", "at most 100"},
		{"email missing", "email", "", "email", "Enter an email address."},
		{"email malformed", "email", "ada.example.com", "email", "like name@example.com"},
		{"email with a name", "email", "Ada <ada@example.com>", "email", "like name@example.com"},
		{"job title too long", "job_title", strings.Repeat("y", 201), "job_title", "at most 200"},
		{"department not a number", "department_id", "abc", "department_id", "Choose a department"},
		{"department unknown", "department_id", "999999", "department_id", "no longer exists"},
		{"manager not a number", "manager_id", "boss", "manager_id", "employee number"},
		{"manager negative", "manager_id", "-3", "manager_id", "employee number"},
		{"manager unknown", "manager_id", "999999", "manager_id", "no employee with this number"},
		{"hire date missing", "hire_date", "", "hire_date", "Enter the hire date."},
		{"hire date format", "hire_date", "01/03/2021", "hire_date", "YYYY-MM-DD"},
		{"hire date impossible", "hire_date", "2021-02-30", "hire_date", "YYYY-MM-DD"},
		{"hire date too early", "hire_date", "1850-01-01", "hire_date", "between 1900"},
		{"hire date far future", "hire_date", "2999-01-01", "hire_date", "between 1900"},
		{"status unknown", "status", "retired", "status", "Choose Active"},
		{"terminated without date", "status", "terminated", "termination_date", "Enter the termination date"},
		{"idempotency key malformed", "idempotency_key", "not-a-uuid", "", "damaged or out of date"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := employeeForm("ada@example.com")
			f.Set(tc.field, tc.value)
			r := c.post("/employees", f).expect(t, http.StatusUnprocessableEntity)
			if tc.errField == "" {
				if !strings.Contains(r.Body, tc.want) {
					t.Errorf("page lacks %q", tc.want)
				}
			} else if got := fieldError(r.Body, tc.errField); !strings.Contains(got, tc.want) {
				t.Errorf("error next to %s = %q, want it to mention %q", tc.errField, got, tc.want)
			}
			// What was typed comes back.
			if tc.value != "" && tc.field != "status" && tc.field != "department_id" && tc.field != "idempotency_key" &&
				!strings.Contains(r.Body, `value="`+html.EscapeString(strings.TrimSpace(tc.value))+`"`) {
				t.Errorf("the form does not show the typed %s %q again", tc.field, tc.value)
			}
			if !strings.Contains(r.Body, `value="Lovelace"`) && tc.field != "last_name" {
				t.Error("the other fields were not kept")
			}
		})
	}
	if n := e.count("SELECT count(*) FROM employees"); n != 0 {
		t.Errorf("invalid forms created %d employees", n)
	}
	if n := e.count("SELECT count(*) FROM audit_log WHERE entity = 'employee'"); n != 0 {
		t.Errorf("invalid forms wrote %d audit rows", n)
	}

	// Termination date before the hire date.
	f := employeeForm("ada@example.com")
	f.Set("status", "terminated")
	f.Set("termination_date", "2020-01-01")
	r := c.post("/employees", f).expect(t, http.StatusUnprocessableEntity)
	if got := fieldError(r.Body, "termination_date"); !strings.Contains(got, "before the hire date") {
		t.Errorf("termination before hire: %q", got)
	}
	// A form without any key still works (a key is made up for it).
	f = employeeForm("ada@example.com")
	f.Del("idempotency_key")
	createdID(t, c.post("/employees", f), "/employees/")
}

func TestEmployeeDuplicateEmail(t *testing.T) {
	e := newEnv(t)
	c := e.loggedIn("hr")
	createdID(t, c.post("/employees", employeeForm("ada@example.com")), "/employees/")
	r := c.post("/employees", employeeForm("ADA@Example.COM")).expect(t, http.StatusUnprocessableEntity)
	if got := fieldError(r.Body, "email"); !strings.Contains(got, "already has this email") {
		t.Errorf("duplicate email error = %q", got)
	}
	if !strings.Contains(r.Body, `value="ADA@Example.COM"`) {
		t.Error("the typed email is not shown again")
	}
	if n := e.count("SELECT count(*) FROM employees"); n != 1 {
		t.Errorf("%d employees, want 1", n)
	}
	if n := e.count("SELECT count(*) FROM audit_log WHERE action = 'employee.create'"); n != 1 {
		t.Errorf("%d create audit rows, want 1 (the failed insert must leave none)", n)
	}

	// On edit too.
	other := createdID(t, c.post("/employees", employeeForm("grace@example.com")), "/employees/")
	f := employeeForm("Ada@example.com")
	f.Set("version", "1")
	r = c.post("/employees/"+strconv.FormatInt(other, 10), f).expect(t, http.StatusUnprocessableEntity)
	if got := fieldError(r.Body, "email"); !strings.Contains(got, "already has this email") {
		t.Errorf("duplicate email on edit = %q", got)
	}
	if got := e.str("SELECT email FROM employees WHERE id = $1", other); got != "grace@example.com" {
		t.Errorf("email changed to %q", got)
	}
}

func TestEmployeeCreateIsIdempotent(t *testing.T) {
	e := newEnv(t)
	c := e.loggedIn("hr")
	f := employeeForm("ada@example.com")
	first := createdID(t, c.post("/employees", f), "/employees/")
	// The same form again — a double click, a retry, the back button.
	again := createdID(t, c.post("/employees", f), "/employees/")
	if again != first {
		t.Errorf("second post went to %d, want %d", again, first)
	}
	if n := e.count("SELECT count(*) FROM employees"); n != 1 {
		t.Errorf("%d employees, want 1", n)
	}
	if n := e.count("SELECT count(*) FROM audit_log WHERE action = 'employee.create'"); n != 1 {
		t.Errorf("%d create audit rows, want 1", n)
	}
	// Even with different values, the key wins: it is the same form.
	f.Set("email", "someone.else@example.com")
	if id := createdID(t, c.post("/employees", f), "/employees/"); id != first {
		t.Errorf("reused key created %d", id)
	}
}

// waitForLockWaiters waits until n backends of the test database wait for a lock.
func (e *env) waitForLockWaiters(n int) {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if e.count("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'") >= n {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	e.t.Fatalf("fewer than %d backends waiting for a lock", n)
}

func TestEmployeeCreateIdempotentWhileFirstInFlight(t *testing.T) {
	e := newEnv(t)
	c := e.loggedIn("hr")
	f := employeeForm("ada@example.com")

	// Hold the first request inside its transaction, after its insert and
	// before its commit: its audit insert waits for this lock.
	ctx := context.Background()
	blocker, err := e.DB.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer blocker.Rollback(ctx)
	if _, err := blocker.Exec(ctx, "LOCK TABLE audit_log IN EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}

	const n = 4
	results := make([]response, n)
	var wg sync.WaitGroup
	post := func(i int) {
		defer wg.Done()
		results[i] = c.post("/employees", f)
	}
	wg.Add(1)
	go post(0)
	e.waitForLockWaiters(1) // the first is in flight, its row inserted
	for i := 1; i < n; i++ {
		wg.Add(1)
		go post(i)
	}
	e.waitForLockWaiters(n) // the others wait on its key
	if err := blocker.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	wg.Wait()

	var ids []int64
	for _, r := range results {
		ids = append(ids, createdID(t, r, "/employees/"))
	}
	for _, id := range ids[1:] {
		if id != ids[0] {
			t.Errorf("concurrent posts of one form went to %v, want one employee", ids)
			break
		}
	}
	if got := e.count("SELECT count(*) FROM employees"); got != 1 {
		t.Errorf("%d employees, want 1", got)
	}
	if got := e.count("SELECT count(*) FROM audit_log WHERE action = 'employee.create'"); got != 1 {
		t.Errorf("%d create audit rows, want 1", got)
	}
}

func TestEmployeeStaleEditIsRefused(t *testing.T) {
	e := newEnv(t)
	alice := e.loggedIn("hr")
	bob := e.loggedIn("hr")
	id := createdID(t, alice.post("/employees", employeeForm("ada@example.com")), "/employees/")
	path := "/employees/" + strconv.FormatInt(id, 10)

	// Both open the edit form at version 1.
	for _, c := range []*client{alice, bob} {
		if r := c.get(path+"/edit").expect(t, http.StatusOK); !strings.Contains(r.Body, `name="version" value="1"`) {
			t.Fatal("edit form lacks version 1")
		}
	}
	fa := employeeForm("ada@example.com")
	fa.Set("job_title", "Chief Analyst")
	fa.Set("version", "1")
	alice.post(path, fa).expect(t, http.StatusSeeOther)

	fb := employeeForm("ada@example.com")
	fb.Set("job_title", "Mathematician")
	fb.Set("last_name", "King")
	fb.Set("version", "1")
	r := bob.post(path, fb).expect(t, http.StatusConflict)
	for _, want := range []string{"were not saved", "Chief Analyst", "Mathematician", "version 2", "differs", `name="version" value="2"`} {
		if !strings.Contains(r.Body, want) {
			t.Errorf("conflict page lacks %q", want)
		}
	}
	// Only the two fields that differ are marked, on both sides.
	if n := strings.Count(r.Body, `class="badge warn">differs`); n != 4 {
		t.Errorf("%d differs badges, want 4 (two fields, both sides)", n)
	}
	if got := e.str("SELECT job_title || '/' || last_name || '/' || version FROM employees WHERE id = $1", id); got != "Chief Analyst/Lovelace/2" {
		t.Errorf("stale edit overwrote the row: %s", got)
	}
	if n := e.count("SELECT count(*) FROM audit_log WHERE action = 'employee.update'"); n != 1 {
		t.Errorf("%d update audit rows, want 1", n)
	}

	// Re-applying on top of the current version saves bob's values.
	fb.Set("version", "2")
	bob.post(path, fb).expect(t, http.StatusSeeOther)
	if got := e.str("SELECT job_title || '/' || last_name || '/' || version FROM employees WHERE id = $1", id); got != "Mathematician/King/3" {
		t.Errorf("re-applied edit: %s", got)
	}
	// A missing version is a broken form, not a silent overwrite.
	fb.Del("version")
	bob.post(path, fb).expect(t, http.StatusUnprocessableEntity)
	// Editing a record that is gone is a 404.
	fb.Set("version", "1")
	bob.post("/employees/999999", fb).expect(t, http.StatusNotFound)
}

func TestEmployeeManagerCycleIsRejected(t *testing.T) {
	e := newEnv(t)
	c := e.loggedIn("hr")
	a := e.employee("Ann", "Top", "ann@example.com", nil, nil)
	b := e.employee("Bo", "Middle", "bo@example.com", nil, &a)
	d := e.employee("Cy", "Bottom", "cy@example.com", nil, &b)

	edit := func(id, manager int64) response {
		var first, last, email string
		var version int
		if err := e.DB.Pool.QueryRow(context.Background(), "SELECT first_name, last_name, email, version FROM employees WHERE id = $1", id).Scan(&first, &last, &email, &version); err != nil {
			t.Fatal(err)
		}
		f := url.Values{"first_name": {first}, "last_name": {last}, "email": {email}, "hire_date": {"2020-01-01"},
			"status": {"active"}, "manager_id": {strconv.FormatInt(manager, 10)}, "version": {strconv.Itoa(version)}}
		return c.post("/employees/"+strconv.FormatInt(id, 10), f)
	}
	for _, tc := range []struct {
		name        string
		id, manager int64
		want        string
	}{
		{"self", a, a, "own manager"},
		{"direct report", a, b, "reports to the employee"},
		{"indirect report", a, d, "reports to the employee"},
		{"direct report of the middle", b, d, "reports to the employee"},
	} {
		r := edit(tc.id, tc.manager).expect(t, http.StatusUnprocessableEntity)
		if got := fieldError(r.Body, "manager_id"); !strings.Contains(got, tc.want) {
			t.Errorf("%s: manager error = %q, want %q", tc.name, got, tc.want)
		}
	}
	if n := e.count("SELECT count(*) FROM employees WHERE id = $1 AND manager_id IS NULL AND version = 1", a); n != 1 {
		t.Error("a rejected manager change was saved")
	}
	// Moving the bottom under the top is fine; so is "#id" notation.
	edit(d, a).expect(t, http.StatusSeeOther)
	if n := e.count("SELECT count(*) FROM employees WHERE id = $1 AND manager_id = $2", d, a); n != 1 {
		t.Error("valid manager change not saved")
	}
}

func TestEmployeeManagerCycleUnderConcurrency(t *testing.T) {
	e := newEnv(t)
	c := e.loggedIn("hr")
	for round := range 5 {
		x := e.employee("X", "Concurrent", fmt.Sprintf("x%d@example.com", round), nil, nil)
		y := e.employee("Y", "Concurrent", fmt.Sprintf("y%d@example.com", round), nil, nil)
		var wg sync.WaitGroup
		statuses := make([]int, 2)
		for i, pair := range [][2]int64{{x, y}, {y, x}} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				email := e.str("SELECT email FROM employees WHERE id = $1", pair[0])
				f := url.Values{"first_name": {"Z"}, "last_name": {"Concurrent"}, "email": {email}, "hire_date": {"2020-01-01"},
					"status": {"active"}, "manager_id": {strconv.FormatInt(pair[1], 10)}, "version": {"1"}}
				statuses[i] = c.post("/employees/"+strconv.FormatInt(pair[0], 10), f).StatusCode
			}()
		}
		wg.Wait()
		if n := e.count("SELECT count(*) FROM employees WHERE id IN ($1, $2) AND manager_id IS NOT NULL", x, y); n != 1 {
			t.Fatalf("round %d: %d of two crosswise manager changes saved (statuses %v), want exactly 1", round, n, statuses)
		}
	}
}

func TestEmployeeFailedWriteLeavesNoAuditRow(t *testing.T) {
	e := newEnv(t)
	c := e.loggedIn("hr")
	id := createdID(t, c.post("/employees", employeeForm("ada@example.com")), "/employees/")
	// Make the audit insert of an update fail: it runs after the UPDATE, in
	// the same transaction, so the update must roll back with it.
	e.exec("ALTER TABLE audit_log ADD CONSTRAINT test_no_updates CHECK (action <> 'employee.update')")
	f := employeeForm("ada@example.com")
	f.Set("job_title", "Changed")
	f.Set("version", "1")
	c.post("/employees/"+strconv.FormatInt(id, 10), f).expect(t, http.StatusInternalServerError)
	if got := e.str("SELECT job_title || '/' || version FROM employees WHERE id = $1", id); got != "Analyst/1" {
		t.Errorf("the update survived its failed audit insert: %s", got)
	}
	if n := e.count("SELECT count(*) FROM audit_log WHERE action = 'employee.update'"); n != 0 {
		t.Errorf("%d update audit rows", n)
	}
}

func TestEmployeeTerminateAndReinstate(t *testing.T) {
	e := newEnv(t)
	c := e.loggedIn("hr")
	id := createdID(t, c.post("/employees", employeeForm("ada@example.com")), "/employees/")
	path := "/employees/" + strconv.FormatInt(id, 10)

	r := c.get(path+"/terminate").expect(t, http.StatusOK)
	if !strings.Contains(r.Body, "Terminate Ada Lovelace?") || !strings.Contains(r.Body, `name="termination_date"`) {
		t.Fatal("terminate confirmation page lacks its question or date field")
	}
	if n := e.count("SELECT count(*) FROM employees WHERE status = 'active'"); n != 1 {
		t.Fatal("GET changed the record")
	}
	r = c.post(path+"/terminate", url.Values{"termination_date": {"2020-01-01"}, "version": {"1"}}).expect(t, http.StatusUnprocessableEntity)
	if got := fieldError(r.Body, "termination_date"); !strings.Contains(got, "before the hire date") {
		t.Errorf("early termination date: %q", got)
	}
	c.post(path+"/terminate", url.Values{"termination_date": {"bad"}, "version": {"1"}}).expect(t, http.StatusUnprocessableEntity)
	c.post(path+"/terminate", url.Values{"termination_date": {"2024-06-30"}, "version": {"7"}}).expect(t, http.StatusConflict)

	c.post(path+"/terminate", url.Values{"termination_date": {"2024-06-30"}, "version": {"1"}}).expect(t, http.StatusSeeOther)
	if !strings.Contains(c.get(path).Body, "Ada Lovelace is terminated as of 2024-06-30.") {
		t.Error("no flash after terminating")
	}
	if n := e.count("SELECT count(*) FROM employees WHERE id = $1 AND status = 'terminated' AND termination_date = '2024-06-30' AND version = 2", id); n != 1 {
		t.Error("termination not saved")
	}
	if n := e.count("SELECT count(*) FROM audit_log WHERE action = 'employee.terminate' AND before->>'status' = 'active' AND after->>'status' = 'terminated'"); n != 1 {
		t.Error("no employee.terminate audit row")
	}
	if !strings.Contains(c.get(path+"/terminate").Body, "is terminated") {
		t.Error("terminate page of a terminated employee does not say so")
	}

	// Reinstate by editing the status; the termination date goes away.
	f := employeeForm("ada@example.com")
	f.Set("version", "2")
	f.Set("termination_date", "2024-06-30")
	c.post(path, f).expect(t, http.StatusSeeOther)
	if n := e.count("SELECT count(*) FROM employees WHERE id = $1 AND status = 'active' AND termination_date IS NULL AND version = 3", id); n != 1 {
		t.Error("reinstating did not clear the termination")
	}
}

func TestEmployeeHardDeleteIsAdminOnly(t *testing.T) {
	e := newEnv(t)
	hr := e.loggedIn("hr")
	admin := e.loggedIn("admin")
	boss := e.employee("Ann", "Boss", "ann@example.com", nil, nil)
	report := e.employee("Bo", "Report", "bo@example.com", nil, &boss)
	path := "/employees/" + strconv.FormatInt(boss, 10)

	if strings.Contains(hr.get(path).Body, path+"/delete") {
		t.Error("hr sees a delete button")
	}
	hr.get(path+"/delete").expect(t, http.StatusForbidden)
	hr.post(path+"/delete", nil).expect(t, http.StatusForbidden)
	if n := e.count("SELECT count(*) FROM employees WHERE id = $1", boss); n != 1 {
		t.Fatal("hr deleted an employee")
	}

	r := admin.get(path+"/delete").expect(t, http.StatusOK)
	if !strings.Contains(r.Body, "Delete Ann Boss for good?") {
		t.Error("admin confirmation page lacks its question")
	}
	admin.post(path+"/delete", nil).expect(t, http.StatusSeeOther)
	if n := e.count("SELECT count(*) FROM employees WHERE id = $1", boss); n != 0 {
		t.Error("admin delete left the row")
	}
	if n := e.count("SELECT count(*) FROM employees WHERE id = $1 AND manager_id IS NULL AND version = 2", report); n != 1 {
		t.Error("the report still points at the deleted manager, or its version did not move")
	}
	if n := e.count("SELECT count(*) FROM audit_log WHERE action = 'employee.delete' AND entity_id = $1 AND before->>'email' = 'ann@example.com' AND after IS NULL AND actor_email LIKE 'admin%'", boss); n != 1 {
		t.Error("no employee.delete audit row")
	}
	admin.get(path).expect(t, http.StatusNotFound)
	admin.post(path+"/delete", nil).expect(t, http.StatusNotFound)
}

func TestEmployeeNotFound(t *testing.T) {
	e := newEnv(t)
	c := e.loggedIn("hr")
	for _, path := range []string{"/employees/999999", "/employees/abc", "/employees/0/edit", "/employees/999999/terminate"} {
		c.get(path).expect(t, http.StatusNotFound)
	}
}

func TestEmployeePagesNeedLogin(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	for _, path := range []string{"/employees", "/employees/new", "/employees/1", "/employees.csv", "/departments", "/departments/1", "/audit"} {
		r := c.get(path).expect(t, http.StatusSeeOther)
		if !strings.HasPrefix(r.Header.Get("Location"), "/login") {
			t.Errorf("GET %s → %s, want /login", path, r.Header.Get("Location"))
		}
	}
	c.post("/employees", employeeForm("ada@example.com")).expect(t, http.StatusSeeOther)
	if n := e.count("SELECT count(*) FROM employees"); n != 0 {
		t.Error("an anonymous post created an employee")
	}
}

// seedEmployees inserts n employees with the given names, unique emails
// and hire dates a day apart from 2000-01-02.
func (e *env) seedEmployees(n int, first, last string, dept *int64, status string) {
	e.t.Helper()
	e.exec(`INSERT INTO employees (first_name, last_name, email, department_id, hire_date, status, termination_date)
		SELECT $1, $2, $3 || '.' || gen_random_uuid() || '@x.test', $4, date '2000-01-01' + i, $5,
		       CASE WHEN $5 = 'terminated' THEN date '2024-01-01' END
		FROM generate_series(1, $6) AS i`, first, last, strings.ToLower(first+last), dept, status, n)
}

func TestEmployeeListPagination(t *testing.T) {
	e := newEnv(t)
	c := e.loggedIn("hr")

	empty := c.list(t, "/employees")
	if !strings.Contains(empty.Body, "No employees yet") || len(empty.IDs) != 0 {
		t.Error("empty list lacks its empty state")
	}

	// Exactly one page: no Next.
	e.seedEmployees(50, "Sam", "Smith", nil, "active")
	p := c.list(t, "/employees")
	if len(p.IDs) != 50 || p.Next != "" || p.First != "" {
		t.Fatalf("50 employees: %d rows, next %q, first %q; want 50 rows on one page", len(p.IDs), p.Next, p.First)
	}
	if !strings.Contains(p.Body, "50 employees") || !strings.Contains(p.Body, "<table>") {
		t.Error("list lacks its count or table")
	}

	// One more: a second page with one row, and a way back.
	e.seedEmployees(1, "Sam", "Smith", nil, "active") // same name: the id breaks the tie
	p = c.list(t, "/employees")
	if len(p.IDs) != 50 || p.Next == "" {
		t.Fatalf("51 employees: first page has %d rows, next %q", len(p.IDs), p.Next)
	}
	p2 := c.list(t, p.Next)
	if len(p2.IDs) != 1 || p2.Next != "" || p2.First != "/employees" {
		t.Fatalf("51 employees: second page has %d rows, next %q, first %q", len(p2.IDs), p2.Next, p2.First)
	}

	// 120 equal names plus others around them: every row once, in order.
	e.seedEmployees(69, "Sam", "Smith", nil, "active")
	e.seedEmployees(30, "Ada", "Aaron", nil, "active")
	e.seedEmployees(30, "Zoe", "Zulu", nil, "active")
	ids, pages := c.walk(t, "/employees")
	if len(ids) != 180 || pages != 4 {
		t.Fatalf("walked %d rows on %d pages, want 180 on 4", len(ids), pages)
	}
	var want []int64
	rows, err := e.DB.Pool.Query(context.Background(), "SELECT id FROM employees ORDER BY last_name, first_name, id")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		_ = rows.Scan(&id)
		want = append(want, id)
	}
	rows.Close()
	if fmt.Sprint(ids) != fmt.Sprint(want) {
		t.Errorf("pagination order differs from (last_name, first_name, id)\n got %v\nwant %v", ids, want)
	}

	// Hire-date order: ties on the date are broken by id too.
	e.exec("UPDATE employees SET hire_date = '2010-05-05' WHERE last_name = 'Smith'")
	ids, _ = c.walk(t, "/employees?sort=hire_date")
	want = want[:0]
	rows, _ = e.DB.Pool.Query(context.Background(), "SELECT id FROM employees ORDER BY hire_date, id")
	for rows.Next() {
		var id int64
		_ = rows.Scan(&id)
		want = append(want, id)
	}
	rows.Close()
	if fmt.Sprint(ids) != fmt.Sprint(want) {
		t.Errorf("hire-date pagination order wrong\n got %v\nwant %v", ids, want)
	}

	// A cursor that is garbage, or of the other order, starts over.
	if p := c.list(t, "/employees?after=%%%garbage"); len(p.IDs) != 50 {
		t.Errorf("garbage cursor: %d rows", len(p.IDs))
	}
	first := c.list(t, "/employees")
	if p := c.list(t, strings.Replace(first.Next, "/employees?", "/employees?sort=hire_date&", 1)); len(p.IDs) != 50 || p.IDs[0] != want[0] {
		t.Error("a name cursor used with sort=hire_date did not start at the beginning")
	}
}

func TestEmployeeListSearchAndFilters(t *testing.T) {
	e := newEnv(t)
	c := e.loggedIn("hr")
	eng := e.department("Engineering")
	ops := e.department("Operations")
	ada := e.employee("Ada", "Lovelace", "ada@example.com", &eng, nil)
	grace := e.employee("Grace", "Hopper", "grace_h@example.com", &ops, nil)
	gracex := e.employee("Gracie", "Hoppers", "gracexh@example.com", &ops, nil)
	pct := e.employee("Percy", "Cent", "100%sure@example.com", nil, nil)
	e.exec("UPDATE employees SET status = 'on_leave' WHERE id = $1", gracex)

	check := func(query string, want ...int64) {
		t.Helper()
		p := c.list(t, "/employees?"+query)
		if fmt.Sprint(p.IDs) != fmt.Sprint(want) {
			t.Errorf("?%s: ids %v, want %v", query, p.IDs, want)
		}
		if !strings.Contains(p.Body, strconv.Itoa(len(want))+" employee") {
			t.Errorf("?%s: count %d not shown", query, len(want))
		}
	}
	check("q=lovelace", ada)               // last name, any case
	check("q=ADA", ada)                    // first name and email
	check("q=ada+love", ada)               // across first and last name
	check("q=hopper", grace, gracex)       // name order
	check("q=gracexh@ex", gracex)          // the start of an email
	check("q=xh@example", []int64{}...)    // inside a word: searches find words by their start
	check("q=hop", grace, gracex)          // the start of a name
	check("q=grace_h", grace)              // _ is a character, not a wildcard
	check("q=%25sure", pct)                // % too
	check("q=sure@", pct)                  //
	check("q=nobody+at+all", []int64{}...) //
	check("department="+strconv.FormatInt(ops, 10), grace, gracex)
	check("department="+strconv.FormatInt(ops, 10)+"&status=active", grace)
	check("status=on_leave", gracex)
	check("q=grac&status=on_leave", gracex)
	check("q=example&department="+strconv.FormatInt(eng, 10), ada)
	check("status=bogus&department=x", pct, grace, gracex, ada) // nonsense filters are ignored

	p := c.list(t, "/employees?q=nobody")
	if !strings.Contains(p.Body, "No employees match") {
		t.Error("no empty state for a search without matches")
	}
	// Punctuation or a number alone is nothing to search by: the page
	// says what a search finds instead of listing everyone or no one.
	for _, q := range []string{"%25", "_", "%5C", "42", "..."} {
		p := c.list(t, "/employees?q="+q)
		if len(p.IDs) != 0 || !strings.Contains(p.Body, "Search by name or email") {
			t.Errorf("?q=%s: ids %v and no hint about what a search finds", q, p.IDs)
		}
	}
	// The filter form shows the current choices.
	p = c.list(t, "/employees?q=grace&status=on_leave&sort=hire_date")
	for _, want := range []string{`value="grace"`, `<option value="on_leave" selected>`, `<option value="hire_date" selected>`} {
		if !strings.Contains(p.Body, want) {
			t.Errorf("filter form lacks %s", want)
		}
	}
}

// TestEmployeeSearchWithManyMatches covers searches matching more rows
// than are counted: the count stops, the page is still the first 50 in
// order, and rare matches far down the order are found.
func TestEmployeeSearchWithManyMatches(t *testing.T) {
	e := newEnv(t)
	c := e.loggedIn("hr")
	e.seedEmployees(1_050, "Sam", "Smith", nil, "active")
	e.seedEmployees(10, "Ada", "Smithers", nil, "active")
	e.seedEmployees(1_020, "Zoe", "Abbott", nil, "active")
	p := c.list(t, "/employees?q=smith")
	// Counting stops past 1,000 matches.
	if !strings.Contains(p.Body, "More than") || !strings.Contains(p.Body, "1,000 employees") {
		t.Error("a search matching over 1,000 does not say \"More than 1,000\"")
	}
	if len(p.IDs) != 50 || p.Next == "" {
		t.Fatalf("first page of many matches: %d rows, next %q", len(p.IDs), p.Next)
	}
	if n := e.count("SELECT count(*) FROM employees WHERE id = $1 AND last_name = 'Smith'", p.IDs[0]); n != 1 {
		t.Error("many matches not in name order (Smith before Smithers)")
	}
	// The words "smith" and "smithers" both start with "smith": merged in
	// name order, the Smithers come after every Smith.
	var all []int64
	for page, next := 0, "/employees?q=smith"; next != ""; page++ {
		p := c.list(t, next)
		all = append(all, p.IDs...)
		next = p.Next
		if page > 30 {
			t.Fatal("paging does not end")
		}
	}
	if len(all) != 1_060 {
		t.Errorf("paging through \"smith\" found %d employees, want 1060", len(all))
	}
	p = c.list(t, "/employees?q=smithers")
	if len(p.IDs) != 10 || !strings.Contains(p.Body, "10 employees") {
		t.Errorf("few matches among many rows: %d", len(p.IDs))
	}
	// Two common words that rarely go together ("sam" and "smithers" have
	// 1,050 and 10 entries; "zoe smith" none, "ada smithers" ten).
	if p := c.list(t, "/employees?q=ada+smithers"); len(p.IDs) != 10 {
		t.Errorf("ada smithers: %d rows, want 10", len(p.IDs))
	}
	if p := c.list(t, "/employees?q=zoe+smith"); len(p.IDs) != 0 {
		t.Errorf("zoe smith: %d rows, want none", len(p.IDs))
	}
	if p := c.list(t, "/employees?q=zoe+abbott"); len(p.IDs) != 50 || p.Next == "" {
		t.Errorf("zoe abbott: %d rows, want a full page and more", len(p.IDs))
	}
}

func TestEmployeeListHTMXPartial(t *testing.T) {
	e := newEnv(t)
	c := e.loggedIn("hr")
	e.employee("Ada", "Lovelace", "ada@example.com", nil, nil)

	full := c.get("/employees?q=ada").expect(t, http.StatusOK)
	for _, want := range []string{"<html", `id="employee-results"`, `hx-get="/employees"`, `hx-trigger="input changed delay:300ms, search"`,
		`hx-target="#employee-results"`, `hx-push-url="true"`, `<button type="submit"`} {
		if !strings.Contains(full.Body, want) {
			t.Errorf("full page lacks %s", want)
		}
	}
	part := c.get("/employees?q=ada", "HX-Request", "true").expect(t, http.StatusOK)
	if strings.Contains(part.Body, "<html") || strings.Contains(part.Body, "<nav aria-label=\"Main\"") {
		t.Error("htmx request got the whole page")
	}
	if !strings.Contains(part.Body, "<table>") || !strings.Contains(part.Body, "Ada Lovelace") || !strings.Contains(part.Body, "1 employee") {
		t.Errorf("fragment lacks the table:\n%s", part.Body)
	}
	if !strings.Contains(strings.Join(part.Header.Values("Vary"), ","), "HX-Request") {
		t.Error("no Vary: HX-Request")
	}
	// The back button after htmx lost its cache asks for the whole page.
	restore := c.get("/employees?q=ada", "HX-Request", "true", "HX-History-Restore-Request", "true").expect(t, http.StatusOK)
	if !strings.Contains(restore.Body, "<html") {
		t.Error("history restore got a fragment")
	}
}

func TestEmployeeExportCSV(t *testing.T) {
	e := newEnv(t)
	c := e.loggedIn("hr")
	dept := e.department("R&D, \"Labs\"")
	a := e.employee("Ada", "Lovelace", "ada@example.com", &dept, nil)
	e.employee("=HYPERLINK(\"http://evil\")", "+Plus", "evil@example.com", nil, &a)
	e.employee("-minus", "@at", "at@example.com", nil, nil)
	gone := e.employee("Old", "Timer", "old@example.com", nil, nil)
	e.exec("UPDATE employees SET status = 'terminated', termination_date = '2023-12-31', job_title = 'Line1\nLine2' WHERE id = $1", gone)

	r := c.get("/employees.csv").expect(t, http.StatusOK)
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
		t.Errorf("Content-Type %q", ct)
	}
	if cd := r.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, `attachment; filename="employees-`) {
		t.Errorf("Content-Disposition %q", cd)
	}
	records, err := csv.NewReader(strings.NewReader(r.Body)).ReadAll()
	if err != nil {
		t.Fatalf("not valid CSV: %v\n%s", err, r.Body)
	}
	if got := strings.Join(records[0], ","); got != "id,first_name,last_name,email,job_title,department,manager_id,hire_date,status,termination_date,created_at,updated_at" {
		t.Errorf("header %q", got)
	}
	if len(records) != 5 {
		t.Fatalf("%d records, want header + 4", len(records))
	}
	byEmail := map[string][]string{}
	for _, rec := range records[1:] {
		byEmail[rec[3]] = rec
	}
	if got := byEmail["ada@example.com"]; got[1] != "Ada" || got[5] != `R&D, "Labs"` || got[7] != "2020-01-01" || got[8] != "active" {
		t.Errorf("ada's row %q", got)
	}
	if got := byEmail["evil@example.com"]; got[1] != `'=HYPERLINK("http://evil")` || got[2] != "'+Plus" || got[6] != strconv.FormatInt(a, 10) {
		t.Errorf("formula cells not defused: %q", got)
	}
	if got := byEmail["at@example.com"]; got[1] != "'-minus" || got[2] != "'@at" {
		t.Errorf("formula cells not defused: %q", got)
	}
	if got := byEmail["old@example.com"]; got[4] != "Line1\nLine2" || got[9] != "2023-12-31" || got[8] != "terminated" {
		t.Errorf("terminated row %q", got)
	}

	// Filters are respected.
	r = c.get("/employees.csv?status=terminated").expect(t, http.StatusOK)
	records, _ = csv.NewReader(strings.NewReader(r.Body)).ReadAll()
	if len(records) != 2 || records[1][3] != "old@example.com" {
		t.Errorf("status filter: %q", records)
	}
	r = c.get("/employees.csv?q=lovelace&department="+strconv.FormatInt(dept, 10)).expect(t, http.StatusOK)
	records, _ = csv.NewReader(strings.NewReader(r.Body)).ReadAll()
	if len(records) != 2 || records[1][3] != "ada@example.com" {
		t.Errorf("search filter: %q", records)
	}
	r = c.get("/employees.csv?q=nobody").expect(t, http.StatusOK)
	if records, _ = csv.NewReader(strings.NewReader(r.Body)).ReadAll(); len(records) != 1 {
		t.Errorf("empty export: %d records, want the header only", len(records))
	}
	// The list links to the export of what it shows.
	if p := c.list(t, "/employees?q=lovelace&status=active"); !strings.Contains(p.Body, `href="/employees.csv?q=lovelace&amp;status=active"`) {
		t.Error("list has no export link for its filter")
	}
}
