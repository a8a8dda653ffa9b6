package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

var leaveRowRE = regexp.MustCompile(`<td class="nowrap"><a href="/leave/(\d+)">`)

// leaveIDs are the request ids of a list page (or fragment), in order.
func leaveIDs(body string) []int64 {
	var ids []int64
	for _, m := range leaveRowRE.FindAllStringSubmatch(body, -1) {
		id, _ := strconv.ParseInt(m[1], 10, 64)
		ids = append(ids, id)
	}
	return ids
}

// walkLeave follows the Next links from path and returns every id seen.
func (c *client) walkLeave(t *testing.T, path string) (ids []int64, pages int) {
	t.Helper()
	for path != "" {
		body := c.get(path).expect(t, http.StatusOK).Body
		ids = append(ids, leaveIDs(body)...)
		pages++
		path = ""
		if m := nextRE.FindStringSubmatch(body); m != nil {
			path = strings.ReplaceAll(m[1], "&amp;", "&")
		}
		if pages > 100 {
			t.Fatal("more than 100 pages: the pager loops")
		}
	}
	return ids, pages
}

// sqlIDs runs a query returning request ids.
func (e *env) sqlIDs(sql string, args ...any) []int64 {
	e.t.Helper()
	rows, err := e.DB.Pool.Query(e.t.Context(), sql, args...)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			e.t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		e.t.Fatal(err)
	}
	return ids
}

func TestLeaveListFiltersAndPages(t *testing.T) {
	e := newEnv(t)
	fin, eng := e.department("Finance"), e.department("Engineering")
	ada := e.employee("Ada", "Lovelace", "ada@example.com", &fin, nil)
	alan := e.employee("Alan", "Turing", "alan@example.com", &eng, nil)
	c := e.loggedIn("hr")
	if body := c.get("/leave").expect(t, http.StatusOK).Body; !strings.Contains(body, "No leave requested yet") {
		t.Error("the empty list lacks its empty state")
	}
	// 70 one-day requests each, on the weekdays from leaveYear's first
	// Monday: Ada's approved, Alan's pending; a few of Alan's sick.
	e.exec(`INSERT INTO leave_requests (employee_id, department_id, kind, start_date, end_date, days, status, decided_at)
		SELECT e.id, e.department_id, CASE WHEN e.id = $2 AND i % 10 = 0 THEN 'sick' ELSE 'annual' END,
		       d, d, 1, CASE WHEN e.id = $1 THEN 'approved' ELSE 'pending' END, CASE WHEN e.id = $1 THEN now() END
		FROM employees e, generate_series(0, 69) AS i,
		     LATERAL (SELECT $3::date + (i / 5) * 7 + i % 5 AS d) AS x
		WHERE e.id IN ($1, $2)`, ada, alan, monday(1))

	all := e.sqlIDs("SELECT id FROM leave_requests ORDER BY start_date DESC, id DESC")
	for _, tc := range []struct {
		name, query string
		want        []int64
	}{
		{"everything", "", all},
		{"approved", "status=approved", e.sqlIDs("SELECT id FROM leave_requests WHERE status = 'approved' ORDER BY start_date DESC, id DESC")},
		{"sick", "kind=sick", e.sqlIDs("SELECT id FROM leave_requests WHERE kind = 'sick' ORDER BY start_date DESC, id DESC")},
		{"Alan", "employee_id=" + strconv.FormatInt(alan, 10), e.sqlIDs("SELECT id FROM leave_requests WHERE employee_id = $1 ORDER BY start_date DESC, id DESC", alan)},
		{"Engineering, pending", "department=" + strconv.FormatInt(eng, 10) + "&status=pending",
			e.sqlIDs("SELECT id FROM leave_requests WHERE department_id = $1 AND status = 'pending' ORDER BY start_date DESC, id DESC", eng)},
		// Weeks 3 and 4: periods overlapping the dates, across pages.
		{"dates", "from=" + day(monday(3)) + "&to=" + day(monday(4).AddDate(0, 0, 6)),
			e.sqlIDs("SELECT id FROM leave_requests WHERE end_date >= $1 AND start_date <= $2 ORDER BY start_date DESC, id DESC", monday(3), monday(4).AddDate(0, 0, 6))},
		{"one day", "from=" + day(monday(2)) + "&to=" + day(monday(2)),
			e.sqlIDs("SELECT id FROM leave_requests WHERE start_date = $1 ORDER BY id DESC", monday(2))},
		{"nothing", "status=rejected", nil},
	} {
		path := "/leave"
		if tc.query != "" {
			path += "?" + tc.query
		}
		got, pages := c.walkLeave(t, path)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: %d rows in %d pages, want %d in order, each once\n got %v\nwant %v", tc.name, len(got), pages, len(tc.want), got, tc.want)
		}
		if wantPages := max(1, (len(tc.want)+49)/50); pages != wantPages {
			t.Errorf("%s: %d pages for %d rows, want %d", tc.name, pages, len(tc.want), wantPages)
		}
	}
	if body := c.get("/leave?status=rejected").Body; !strings.Contains(body, "No leave matches") {
		t.Error("a filter matching nothing lacks its empty state")
	}

	// An employee moved to another department takes their leave along.
	e.exec("UPDATE employees SET department_id = $1 WHERE id = $2", eng, ada)
	if got, _ := c.walkLeave(t, "/leave?department="+strconv.FormatInt(fin, 10)); len(got) != 0 {
		t.Errorf("Finance still lists %d requests after Ada moved to Engineering", len(got))
	}
	if got, _ := c.walkLeave(t, "/leave?department="+strconv.FormatInt(eng, 10)); len(got) != 140 {
		t.Errorf("Engineering lists %d requests after Ada joined, want 140", len(got))
	}

	// A name typed into the employee filter (no JavaScript) picks them.
	body := c.get("/leave?employee_id_q=Lovelace").expect(t, http.StatusOK).Body
	if ids := leaveIDs(body); len(ids) != 50 || e.count("SELECT count(*) FROM leave_requests WHERE id = $1 AND employee_id = $2", ids[0], ada) != 1 {
		t.Error("filtering by a typed name does not list that employee's leave")
	}
	if !strings.Contains(body, `value="`+strconv.FormatInt(ada, 10)+`" checked`) {
		t.Error("the employee filter does not show Ada chosen")
	}

	// Dates that are not dates: 422 with a message, the list unfiltered.
	r := c.get("/leave?from=someday&to="+day(monday(2))).expect(t, http.StatusUnprocessableEntity)
	if got := fieldError(r.Body, "from"); got != "Use YYYY-MM-DD." {
		t.Errorf("bad from date: %q", got)
	}
	r = c.get("/leave?from="+day(monday(3))+"&to="+day(monday(2))).expect(t, http.StatusUnprocessableEntity)
	if got := fieldError(r.Body, "to"); got != "The end is before the start." {
		t.Errorf("reversed dates: %q", got)
	}

	// htmx asks for the results only, and the address follows.
	r = c.get("/leave?status=pending&kind=&department=", "HX-Request", "true").expect(t, http.StatusOK)
	if strings.Contains(r.Body, "<html") || len(leaveIDs(r.Body)) != 50 {
		t.Error("the htmx answer is not the results fragment")
	}
	if got := r.Header.Get("HX-Push-Url"); got != "/leave?status=pending" {
		t.Errorf("HX-Push-Url %q, want the filter without empty fields", got)
	}
	// Garbage cursors start at the beginning instead of failing.
	for _, after := range []string{"x", url.QueryEscape(`{"s":"nope"}`)} {
		if ids := leaveIDs(c.get("/leave?after="+after).expect(t, http.StatusOK).Body); len(ids) == 0 || ids[0] != all[0] {
			t.Errorf("cursor %q does not start at the first page", after)
		}
	}
}

func TestLeaveRoutesNeedLoginAndSameOrigin(t *testing.T) {
	e := newEnv(t)
	emp := e.employee("Ada", "Lovelace", "ada@example.com", nil, nil)
	anon := e.client()
	for _, path := range []string{"/leave", "/leave/new", "/leave/1", "/employees/picker?field=manager_id"} {
		if r := anon.get(path); r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/login") {
			t.Errorf("anonymous GET %s: %d to %q, want 303 to /login", path, r.StatusCode, r.Header.Get("Location"))
		}
	}
	anon.post("/leave", leaveForm(emp, "annual", monday(3), monday(3))).expect(t, http.StatusSeeOther)
	c := e.loggedIn("hr")
	r := c.post("/leave", leaveForm(emp, "annual", monday(3), monday(3)), "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site")
	r.expect(t, http.StatusForbidden)
	if n := e.count("SELECT count(*) FROM leave_requests"); n != 0 {
		t.Errorf("%d requests made by anonymous or cross-site posts", n)
	}
	id := c.request(t, emp, "annual", monday(3), monday(3))
	c.post(leavePath(id)+"/approve", nil, "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site").expect(t, http.StatusForbidden)
	if n := e.count("SELECT count(*) FROM leave_requests WHERE status = 'pending'"); n != 1 {
		t.Error("a cross-site approval went through")
	}
}
