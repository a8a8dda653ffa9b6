package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/uuid"
)

func departmentForm(name string) url.Values {
	return url.Values{"name": {name}, "description": {"Builds things"}, "idempotency_key": {uuid.NewString()}}
}

func TestDepartmentCreate(t *testing.T) {
	e := newEnv(t)
	c := e.loggedIn("hr")
	form := c.get("/departments/new").expect(t, http.StatusOK)
	if !regexp.MustCompile(`name="idempotency_key" value="[0-9a-f-]{36}"`).MatchString(form.Body) {
		t.Error("new-department form has no idempotency key")
	}
	f := departmentForm("Engineering")
	id := createdID(t, c.post("/departments", f), "/departments/")
	show := c.get("/departments/"+strconv.FormatInt(id, 10)).expect(t, http.StatusOK)
	for _, want := range []string{"Department Engineering created.", "Builds things", "0 employees", "department.create"} {
		if !strings.Contains(show.Body, want) {
			t.Errorf("department page lacks %q", want)
		}
	}
	// The same form again is the same department.
	if again := createdID(t, c.post("/departments", f), "/departments/"); again != id {
		t.Errorf("resubmitted form went to %d, want %d", again, id)
	}
	if n := e.count("SELECT count(*) FROM departments"); n != 1 {
		t.Errorf("%d departments, want 1", n)
	}
	if n := e.count("SELECT count(*) FROM audit_log WHERE action = 'department.create' AND entity_id = $1 AND after->>'name' = 'Engineering'", id); n != 1 {
		t.Errorf("%d department.create audit rows, want 1", n)
	}

	for _, tc := range []struct {
		name, field, value, want string
	}{
		{"name missing", "name", " ", "Enter the department's name."},
		{"name too long", "name", strings.Repeat("n", 101), "at most 100"},
		{"description too long", "description", strings.Repeat("d", 501), "at most 500"},
		{"name taken, other case", "name", "ENGINEERING", "already exists"},
	} {
		f := departmentForm("Finance")
		f.Set(tc.field, tc.value)
		r := c.post("/departments", f).expect(t, http.StatusUnprocessableEntity)
		if got := fieldError(r.Body, tc.field); !strings.Contains(got, tc.want) {
			t.Errorf("%s: error %q, want %q", tc.name, got, tc.want)
		}
	}
	if n := e.count("SELECT count(*) FROM departments"); n != 1 {
		t.Errorf("invalid forms made departments: %d", n)
	}
}

func TestDepartmentListCountsEmployees(t *testing.T) {
	e := newEnv(t)
	c := e.loggedIn("hr")
	if r := c.get("/departments").expect(t, http.StatusOK); !strings.Contains(r.Body, "No departments yet") {
		t.Error("no empty state")
	}
	eng := e.department("Engineering")
	e.department("Finance")
	for i := range 3 {
		e.employee("Eng", "Person"+strconv.Itoa(i), "eng"+strconv.Itoa(i)+"@example.com", &eng, nil)
	}
	r := c.get("/departments").expect(t, http.StatusOK)
	engLink := `href="/employees?department=` + strconv.FormatInt(eng, 10) + `">3<`
	if !strings.Contains(r.Body, engLink) || !strings.Contains(r.Body, "<table>") {
		t.Errorf("list lacks Engineering's count of 3 linked to its employees:\n%s", r.Body)
	}
	if strings.Index(r.Body, "Engineering") > strings.Index(r.Body, "Finance") {
		t.Error("departments not in name order")
	}
}

func TestDepartmentStaleEditIsRefused(t *testing.T) {
	e := newEnv(t)
	c := e.loggedIn("hr")
	id := e.department("Engineering")
	path := "/departments/" + strconv.FormatInt(id, 10)
	if r := c.get(path+"/edit").expect(t, http.StatusOK); !strings.Contains(r.Body, `name="version" value="1"`) {
		t.Fatal("edit form lacks the version")
	}
	c.post(path, url.Values{"name": {"Platform"}, "description": {"Runs things"}, "version": {"1"}}).expect(t, http.StatusSeeOther)
	r := c.post(path, url.Values{"name": {"Product"}, "description": {""}, "version": {"1"}}).expect(t, http.StatusConflict)
	for _, want := range []string{"Platform", "Product", "version 2", "differs"} {
		if !strings.Contains(r.Body, want) {
			t.Errorf("conflict page lacks %q", want)
		}
	}
	if got := e.str("SELECT name || '/' || version FROM departments WHERE id = $1", id); got != "Platform/2" {
		t.Errorf("stale edit changed the row: %s", got)
	}
	if n := e.count("SELECT count(*) FROM audit_log WHERE action = 'department.update' AND before->>'name' = 'Engineering' AND after->>'name' = 'Platform'"); n != 1 {
		t.Error("no department.update audit row with before and after")
	}
	// A rename onto another department's name is refused at the field.
	e.department("Finance")
	r = c.post(path, url.Values{"name": {"finance"}, "version": {"2"}}).expect(t, http.StatusUnprocessableEntity)
	if got := fieldError(r.Body, "name"); !strings.Contains(got, "already exists") {
		t.Errorf("duplicate rename: %q", got)
	}
	c.get("/departments/999999/edit").expect(t, http.StatusNotFound)
}

func TestDepartmentDeleteOnlyWhenEmpty(t *testing.T) {
	e := newEnv(t)
	c := e.loggedIn("hr")
	id := e.department("Engineering")
	path := "/departments/" + strconv.FormatInt(id, 10)
	e1 := e.employee("Ada", "Lovelace", "ada@example.com", &id, nil)
	e2 := e.employee("Grace", "Hopper", "grace@example.com", &id, nil)

	r := c.get(path+"/delete").expect(t, http.StatusOK)
	if !strings.Contains(r.Body, "Move or remove its 2 employees first") || strings.Contains(r.Body, `action="`+path+`/delete"`) {
		t.Error("delete page of a department with employees offers to delete it")
	}
	r = c.post(path+"/delete", nil).expect(t, http.StatusSeeOther)
	if loc := r.Header.Get("Location"); loc != path {
		t.Errorf("refused delete went to %q", loc)
	}
	if !strings.Contains(c.get(path).Body, "Move or remove its 2 employees first") {
		t.Error("no flash explaining the refusal")
	}
	if n := e.count("SELECT count(*) FROM departments WHERE id = $1", id); n != 1 {
		t.Fatal("a department with employees was deleted")
	}
	// Terminated employees still belong to it.
	e.exec("UPDATE employees SET status = 'terminated', termination_date = '2024-01-01' WHERE id = $1", e1)
	e.exec("UPDATE employees SET department_id = NULL WHERE id = $1", e2)
	c.post(path+"/delete", nil).expect(t, http.StatusSeeOther)
	if !strings.Contains(c.get(path).Body, "Move or remove its 1 employee first") {
		t.Error("a terminated employee did not keep the department")
	}
	e.exec("UPDATE employees SET department_id = NULL WHERE id = $1", e1)

	r = c.get(path+"/delete").expect(t, http.StatusOK)
	if !strings.Contains(r.Body, "Delete Engineering?") {
		t.Error("empty department: no confirmation")
	}
	r = c.post(path+"/delete", nil).expect(t, http.StatusSeeOther)
	if loc := r.Header.Get("Location"); loc != "/departments" {
		t.Errorf("delete went to %q", loc)
	}
	if !strings.Contains(c.get("/departments").Body, "Department Engineering deleted.") {
		t.Error("no flash after delete")
	}
	if n := e.count("SELECT count(*) FROM departments"); n != 0 {
		t.Error("department not deleted")
	}
	if n := e.count("SELECT count(*) FROM audit_log WHERE action = 'department.delete' AND entity_id = $1 AND before->>'name' = 'Engineering'", id); n != 1 {
		t.Error("no department.delete audit row")
	}
	c.post(path+"/delete", nil).expect(t, http.StatusNotFound)
}
