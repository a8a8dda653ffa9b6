package web

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"hris/views/components"
)

// The fuzz tests check the parsing of what arrives from browsers: whatever
// the input, nothing panics, and everything a parser accepts is text
// PostgreSQL can store, within its limits. `go test` runs their seeds (in
// make test); `go test -fuzz FuzzEmployeeForm ./web` explores further.

// seedTexts are the inputs every fuzz test starts from: ordinary, empty,
// long, and the text PostgreSQL refuses.
var seedTexts = []string{"", "Ada", "  Ada Lovelace  ", "ada@example.com", "O'Brien-Müller", "名字", "%_\\",
	"\x00", "a\x00b", "\xff", "Ada\xc3\x28", "\xed\xa0\x80", strings.Repeat("x", 300), "2024-02-30", "#42", "-1"}

func storable(s string) bool { return utf8.ValidString(s) && !strings.Contains(s, "\x00") }

func formRequest(v url.Values) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(v.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

func FuzzEmployeeForm(f *testing.F) {
	for _, s := range seedTexts {
		f.Add(s, "Lovelace", "ada@example.com", s, "2024-03-01", "active", "")
		f.Add("Ada", s, s, "", s, "terminated", s)
	}
	f.Fuzz(func(t *testing.T, first, last, email, title, hired, status, ended string) {
		form, v := parseEmployeeForm(formRequest(url.Values{"first_name": {first}, "last_name": {last}, "email": {email},
			"job_title": {title}, "hire_date": {hired}, "status": {status}, "termination_date": {ended}}))
		for _, s := range []string{form.FirstName, form.LastName, form.Email, form.JobTitle} {
			if !utf8.ValidString(s) {
				t.Fatalf("the form shows invalid UTF-8 again: %q", s)
			}
		}
		if form.Errors.Any() {
			return
		}
		for _, s := range []string{v.FirstName, v.LastName, v.Email, v.JobTitle} {
			if !storable(s) {
				t.Fatalf("accepted text PostgreSQL cannot store: %q", s)
			}
		}
		if n := utf8.RuneCountInString(v.FirstName); n == 0 || n > 100 {
			t.Fatalf("accepted a first name of %d characters", n)
		}
		if !components.IsEmployeeStatus(v.Status) {
			t.Fatalf("accepted status %q", v.Status)
		}
		if (v.Status == "terminated") != (v.TerminationDate != nil) {
			t.Fatalf("status %s with termination date %v", v.Status, v.TerminationDate)
		}
		if v.HireDate.Year() < 1900 || v.HireDate.After(time.Now().AddDate(1, 0, 1)) {
			t.Fatalf("accepted hire date %s", v.HireDate)
		}
	})
}

func FuzzDepartmentForm(f *testing.F) {
	for _, s := range seedTexts {
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, name, description string) {
		form := parseDepartmentForm(formRequest(url.Values{"name": {name}, "description": {description}}))
		if !utf8.ValidString(form.Name) || !utf8.ValidString(form.Description) {
			t.Fatalf("the form shows invalid UTF-8 again: %q %q", form.Name, form.Description)
		}
		if !form.Errors.Any() && (!storable(form.Name) || !storable(form.Description) || form.Name == "") {
			t.Fatalf("accepted %q, %q", form.Name, form.Description)
		}
	})
}

func FuzzEmployeeListQuery(f *testing.F) {
	for _, s := range seedTexts {
		f.Add(s, "3", "on_leave", "hire_date")
		f.Add(s, s, s, s)
	}
	f.Fuzz(func(t *testing.T, q, dept, status, sort string) {
		flt := employeeFilterFrom(url.Values{"q": {q}, "department": {dept}, "status": {status}, "sort": {sort}})
		if utf8.RuneCountInString(flt.Q) > maxSearchLength {
			t.Fatalf("a search of %d characters", utf8.RuneCountInString(flt.Q))
		}
		if flt.Status != "" && !components.IsEmployeeStatus(flt.Status) {
			t.Fatalf("status %q", flt.Status)
		}
		if flt.Sort != "name" && flt.Sort != "hire_date" {
			t.Fatalf("sort %q", flt.Sort)
		}
		if flt.Department != nil && *flt.Department <= 0 {
			t.Fatalf("department %d", *flt.Department)
		}
		// The list's own links lead back to the same list.
		u, err := url.Parse(flt.url("/employees", ""))
		if err != nil {
			t.Fatal(err)
		}
		if again := employeeFilterFrom(u.Query()); again.Q != flt.Q || again.Status != flt.Status || again.Sort != flt.Sort {
			t.Fatalf("link %s reads back as %+v, not %+v", u, again, flt)
		}
		s, ok := newEmployeeSearch(flt.Q)
		if !ok {
			return
		}
		if len(s.Words) == 0 || len(s.Words) > searchMaxTerms {
			t.Fatalf("%d words", len(s.Words))
		}
		for _, w := range s.Words {
			if w.Word == "" || strings.Trim(w.Word, "0123456789") == "" || strings.ContainsAny(w.Word, " .@-_%") {
				t.Fatalf("word %q of %q", w.Word, flt.Q)
			}
			if !strings.Contains(flt.Q, w.Word) {
				t.Fatalf("word %q is not in %q", w.Word, flt.Q)
			}
		}
		if strings.NewReplacer(`\\`, `\`, `\%`, `%`, `\_`, `_`).Replace(s.Phrase) != flt.Q {
			t.Fatalf("phrase %q does not unescape to %q", s.Phrase, flt.Q)
		}
	})
}

func FuzzUnstorableQuery(f *testing.F) {
	for _, s := range seedTexts {
		f.Add("q=" + url.QueryEscape(s))
	}
	f.Add("q=%00&x=1")
	f.Add("%ff=1")
	f.Add("q=%zz")
	f.Fuzz(func(t *testing.T, raw string) {
		v, _ := url.ParseQuery(raw)
		want := false
		for k, vals := range v {
			want = want || !storable(k)
			for _, s := range vals {
				want = want || !storable(s)
			}
		}
		if got := unstorableQuery(raw); got != want {
			t.Fatalf("unstorableQuery(%q) = %v, want %v", raw, got, want)
		}
	})
}
