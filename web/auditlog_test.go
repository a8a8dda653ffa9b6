package web_test

import (
	"fmt"
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

var auditActionRE = regexp.MustCompile(`<td><code>([^<]*)</code></td>`)

// auditPage returns the actions listed on an audit page, in order, and the
// link to the next page.
func (c *client) auditPage(t *testing.T, path string) (actions []string, next string, body string) {
	t.Helper()
	r := c.get(path).expect(t, http.StatusOK)
	for _, m := range auditActionRE.FindAllStringSubmatch(r.Body, -1) {
		actions = append(actions, m[1])
	}
	if m := regexp.MustCompile(`rel="next" href="([^"]+)"`).FindStringSubmatch(r.Body); m != nil {
		next = html.UnescapeString(m[1])
	}
	return actions, next, r.Body
}

func TestAuditListFiltersAndPages(t *testing.T) {
	e := newEnv(t)
	admin := e.loggedIn("admin")
	// 120 entries a minute apart on 2024-05-01 and -02, all with the same
	// second for pairs, so the id must break ties; plus a few others.
	e.exec(`INSERT INTO audit_log (at, actor_email, action, entity, entity_id)
		SELECT timestamptz '2024-05-01 00:00:00+00' + (i / 2) * interval '1 minute' + (i / 60) * interval '1 day',
		       'clerk@example.com', 'test.step' || lpad(i::text, 3, '0'), 'employee', i
		FROM generate_series(1, 120) AS i`)
	e.exec(`INSERT INTO audit_log (at, actor_email, action, entity, entity_id, before, after) VALUES
		('2024-04-01 12:00+00', 'boss@example.com', 'department.update', 'department', 7, '{"name":"Old"}', '{"name":"New"}')`)

	var all []string
	path := "/audit?actor=clerk"
	for pages := 0; path != ""; pages++ {
		actions, next, _ := admin.auditPage(t, path)
		if pages < 2 && len(actions) != 50 || pages == 2 && len(actions) != 20 {
			t.Errorf("page %d has %d entries", pages+1, len(actions))
		}
		all = append(all, actions...)
		path = next
		if pages > 5 {
			t.Fatal("pagination does not end")
		}
	}
	if len(all) != 120 {
		t.Fatalf("walked %d entries, want 120", len(all))
	}
	for i, a := range all {
		if want := fmt.Sprintf("test.step%03d", 120-i); a != want {
			t.Fatalf("entry %d is %s, want %s (newest first, ties by id)", i, a, want)
		}
	}

	check := func(query string, want int) string {
		t.Helper()
		actions, _, body := admin.auditPage(t, "/audit?"+query)
		if len(actions) != want {
			t.Errorf("?%s: %d entries, want %d", query, len(actions), want)
		}
		return body
	}
	check("entity=department", 1)
	check("action=department.", 1)
	check("action=test.step11", 10) // prefix: 110..119
	check("action=%25", 0)          // % is literal
	check("actor=BOSS", 1)
	// Entry i falls on 2024-05-01 + i/60 days.
	check("action=test.step1&from=2024-05-02", 21) // 100..120
	check("action=test.step1&to=2024-05-02", 20)   // 100..119
	check("action=test.step05&to=2024-05-01", 10)  // 050..059
	check("action=test.step05&from=2024-05-02", 0) //
	check("to=2024-05-01&entity=department", 1)    // and the admin's login is later
	body := check("from=2024-04-01&to=2024-04-01", 1)
	for _, want := range []string{`href="/departments/7"`, "boss@example.com", "Before and after", `&#34;name&#34;: &#34;Old&#34;`} {
		if !strings.Contains(body, want) {
			t.Errorf("entry lacks %s", want)
		}
	}
	r := admin.get("/audit?from=yesterday").expect(t, http.StatusUnprocessableEntity)
	if got := fieldError(r.Body, "from"); got == "" {
		t.Error("a bad date has no message")
	}
}

func TestAuditIsAdminOnly(t *testing.T) {
	e := newEnv(t)
	e.loggedIn("hr").get("/audit").expect(t, http.StatusForbidden)
	admin := e.loggedIn("admin")
	actions, _, body := admin.auditPage(t, "/audit")
	if len(actions) == 0 || actions[0] != "login.success" || !strings.Contains(body, "<table>") {
		t.Errorf("admin's audit page: %v", actions)
	}
	if !strings.Contains(body, `href="/audit" aria-current="page"`) {
		t.Error("the audit nav item is not marked current")
	}
}

func TestAuditRecordsEmployeeChangesWithActor(t *testing.T) {
	e := newEnv(t)
	hr := e.loggedIn("hr")
	id := createdID(t, hr.post("/employees", employeeForm("ada@example.com")), "/employees/")
	f := employeeForm("ada@example.com")
	f.Set("job_title", "Chief")
	f.Set("version", "1")
	hr.post(fmt.Sprintf("/employees/%d", id), f).expect(t, http.StatusSeeOther)
	if n := e.count(`SELECT count(*) FROM audit_log WHERE action = 'employee.update' AND entity = 'employee' AND entity_id = $1
		AND before->>'job_title' = 'Analyst' AND after->>'job_title' = 'Chief' AND (after->>'version')::int = 2
		AND actor_id IS NOT NULL AND actor_email LIKE 'hr%' AND client_ip <> ''`, id); n != 1 {
		t.Error("employee.update audit row lacks who, what, before or after")
	}
	// Saving without changes writes nothing.
	f.Set("version", "2")
	hr.post(fmt.Sprintf("/employees/%d", id), f).expect(t, http.StatusSeeOther)
	if n := e.count("SELECT count(*) FROM audit_log WHERE action = 'employee.update'"); n != 1 {
		t.Errorf("%d update rows after a save without changes, want 1", n)
	}
	if n := e.count("SELECT version FROM employees WHERE id = $1", id); n != 2 {
		t.Errorf("version %d after a save without changes, want 2", n)
	}
	// The record's page shows its history.
	body := hr.get(fmt.Sprintf("/employees/%d", id)).Body
	if !strings.Contains(body, "employee.update") || !strings.Contains(body, "employee.create") {
		t.Error("employee page lacks its history")
	}
}
