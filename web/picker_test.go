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

var radioRE = regexp.MustCompile(`<input type="radio" name="([a-z_]+)" value="(\d*)"( checked)?`)

// choices are the radio buttons of a picker: the ids offered, and the
// checked one (0 for none or the empty choice).
func choices(body, field string) (ids []int64, checked int64) {
	for _, m := range radioRE.FindAllStringSubmatch(body, -1) {
		if m[1] != field || m[2] == "" {
			continue
		}
		id, _ := strconv.ParseInt(m[2], 10, 64)
		ids = append(ids, id)
		if m[3] != "" {
			checked = id
		}
	}
	return ids, checked
}

func TestEmployeePickerSearch(t *testing.T) {
	e := newEnv(t)
	fin := e.department("Finance")
	ada := e.employee("Ada", "Lovelace", "ada@example.com", &fin, nil)
	byron := e.employee("Ada", "Byron", "byron@example.com", nil, nil)
	grace := e.employee("Grace", "Adams", "grace@example.com", nil, nil)
	babbage := e.employee("Charles", "Babbage", "charles@example.com", nil, nil)
	e.exec("UPDATE employees SET status = 'terminated', termination_date = '2024-01-01' WHERE id = $1", grace)
	c := e.loggedIn("hr")

	get := func(q string) string {
		t.Helper()
		return c.get("/employees/picker?"+q, "HX-Request", "true").expect(t, http.StatusOK).Body
	}
	// Managers are people still here, by name; Grace Adams left.
	body := get("field=manager_id&manager_id_q=ada")
	if ids, _ := choices(body, "manager_id"); !slices.Equal(ids, []int64{byron, ada}) {
		t.Errorf("managers matching 'ada': %v, want Byron then Lovelace (%d, %d)", ids, byron, ada)
	}
	if !strings.Contains(body, "Ada Lovelace") || !strings.Contains(body, "Finance") || strings.Contains(body, "<html") {
		t.Error("the choices are not a fragment showing names and departments")
	}
	// Leave can be recorded for someone who has left.
	if ids, _ := choices(get("field=employee_id&employee_id_q=ada"), "employee_id"); !slices.Contains(ids, grace) {
		t.Error("the leave form's picker does not offer a terminated employee")
	}
	// The current choice stays, checked, above the matches; the employee
	// being edited is not offered as their own manager.
	ids, checked := choices(get("field=manager_id&manager_id_q=ada&manager_id="+strconv.FormatInt(babbage, 10)+"&exclude="+strconv.FormatInt(ada, 10)), "manager_id")
	if !slices.Equal(ids, []int64{babbage, byron}) || checked != babbage {
		t.Errorf("choices %v (checked %d), want Babbage checked then Byron, Lovelace left out", ids, checked)
	}
	// An employee number finds that employee; one letter is too few.
	if ids, _ := choices(get("field=manager_id&manager_id_q=%23"+strconv.FormatInt(babbage, 10)), "manager_id"); !slices.Equal(ids, []int64{babbage}) {
		t.Errorf("#%d found %v", babbage, ids)
	}
	if body := get("field=manager_id&manager_id_q=a"); !strings.Contains(body, "at least 2 letters") {
		t.Error("a one-letter search does not ask for more")
	}
	if ids, _ := choices(get("field=manager_id&manager_id_q=ba"), "manager_id"); !slices.Equal(ids, []int64{babbage}) {
		t.Errorf("two letters found %v, want Babbage", ids)
	}
	if body := get("field=manager_id&manager_id_q=zebedee"); !strings.Contains(body, "Nobody else matches") {
		t.Error("a search matching nobody does not say so")
	}
	c.get("/employees/picker?field=password&password_q=ada").expect(t, http.StatusNotFound)
}

func TestEmployeeFormManagerByName(t *testing.T) {
	e := newEnv(t)
	ada := e.employee("Ada", "Lovelace", "ada@example.com", nil, nil)
	e.employee("Ada", "Lovelace-Byron", "byron@example.com", nil, nil)
	alan := e.employee("Alan", "Turing", "alan@example.com", nil, &ada)
	c := e.loggedIn("hr")

	create := func(email, typed string, status int) response {
		t.Helper()
		f := employeeForm(email)
		f.Set("manager_id_q", typed)
		f.Set("first_name", "New")
		f.Set("last_name", "Hire")
		return c.post("/employees", f).expect(t, status)
	}
	// One match is taken; a whole name picks its owner among longer ones;
	// a number is an employee number.
	for _, tc := range []struct {
		typed string
		want  int64
	}{{"turing", alan}, {"Ada  Lovelace", ada}, {"#" + strconv.FormatInt(alan, 10), alan}} {
		email := "new." + strconv.Itoa(len(tc.typed)) + "@example.com"
		id := createdID(t, create(email, tc.typed, http.StatusSeeOther), "/employees/")
		if n := e.count("SELECT count(*) FROM employees WHERE id = $1 AND manager_id = $2", id, tc.want); n != 1 {
			t.Errorf("typed %q: manager is not %d", tc.typed, tc.want)
		}
	}
	// Several: 422 with them to choose from, the search box emptied so
	// that sending the form again takes the choice.
	r := create("several@example.com", "lovelace", http.StatusUnprocessableEntity)
	if got := fieldError(r.Body, "manager_id"); !strings.Contains(got, "Several people match") {
		t.Errorf("several matches: %q", got)
	}
	if ids, _ := choices(r.Body, "manager_id"); len(ids) != 2 {
		t.Errorf("several matches offer %v, want both", ids)
	}
	if !strings.Contains(r.Body, `name="manager_id_q" type="search" value=""`) {
		t.Error("the search box was not emptied")
	}
	r = create("nobody@example.com", "Zebedee", http.StatusUnprocessableEntity)
	if got := fieldError(r.Body, "manager_id"); !strings.Contains(got, "Nobody matches") || !strings.Contains(r.Body, `value="Zebedee"`) {
		t.Errorf("no match: %q, or the typed name is gone", got)
	}
	// The manager-cycle check holds for names too: Ada cannot report to
	// Alan, who reports to her.
	f := url.Values{"first_name": {"Ada"}, "last_name": {"Lovelace"}, "email": {"ada@example.com"}, "hire_date": {"2020-01-01"},
		"status": {"active"}, "version": {"1"}, "manager_id_q": {"Alan Turing"}}
	r = c.post("/employees/"+strconv.FormatInt(ada, 10), f).expect(t, http.StatusUnprocessableEntity)
	if got := fieldError(r.Body, "manager_id"); !strings.Contains(got, "reports to the employee") {
		t.Errorf("cycle by name: %q", got)
	}
	if n := e.count("SELECT count(*) FROM employees WHERE id = $1 AND manager_id IS NULL AND version = 1", ada); n != 1 {
		t.Error("the cycle was saved")
	}
	// The edit form shows the current manager, checked, with "No manager".
	body := c.get("/employees/"+strconv.FormatInt(alan, 10)+"/edit").expect(t, http.StatusOK).Body
	if ids, checked := choices(body, "manager_id"); !slices.Equal(ids, []int64{ada}) || checked != ada || !strings.Contains(body, "No manager") {
		t.Errorf("edit form: choices %v checked %d, want Ada checked and a No manager choice", ids, checked)
	}
}
