package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// benchPage is one HR page of the cost curve: every page whose cost could
// grow with the number of employees or audit entries.
type benchPage struct {
	Key  string // for -only and the tables
	Name string // what it shows
	Path string
}

// sample holds the records the pages show, found in the seeded database.
type sample struct {
	department int64  // a department (the largest)
	employee   int64  // a manager: reports and history on the record page
	deepCursor string // the cursor of the 500th list page (or the last one)
	deepPage   int
	// rare is an employee whose surname nobody else has, the first one
	// seeded: the same person at every size (see seed.RareSurname).
	rare struct{ name, email string }
}

// deepPageNumber is the list page the deep page opens.
const deepPageNumber = 500

// findSample reads the sample from the database.
func findSample(ctx context.Context, conn *pgx.Conn) (sample, error) {
	var s sample
	if err := conn.QueryRow(ctx, `SELECT department_id FROM employee_counts WHERE department_id <> 0
		GROUP BY 1 ORDER BY sum(n) DESC, 1 LIMIT 1`).Scan(&s.department); err != nil {
		return s, fmt.Errorf("sample department: %w", err)
	}
	if err := conn.QueryRow(ctx, `SELECT manager_id FROM employees WHERE manager_id IS NOT NULL
		GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1`).Scan(&s.employee); err != nil {
		return s, fmt.Errorf("sample employee: %w", err)
	}
	var first, last, email string
	if err := conn.QueryRow(ctx, `SELECT first_name, last_name, email FROM employees e
		WHERE NOT EXISTS (SELECT FROM employees x WHERE x.last_name = e.last_name AND x.id <> e.id)
		ORDER BY id LIMIT 1`).Scan(&first, &last, &email); err != nil {
		return s, fmt.Errorf("sample rare name: %w", err)
	}
	s.rare.name = strings.ToLower(first + " " + last)
	s.rare.email, _, _ = strings.Cut(email, "@")
	var total int64
	if err := conn.QueryRow(ctx, `SELECT coalesce(sum(n), 0) FROM employee_counts`).Scan(&total); err != nil {
		return s, err
	}
	// The cursor after the last row of page 499 opens page 500, as the
	// app's own "Next" links would (web/employees_list.go's cursor).
	const pageSize = 50
	s.deepPage = min(deepPageNumber, int((total-1)/pageSize)+1)
	var c struct {
		Sort      string `json:"s"`
		LastName  string `json:"l,omitempty"`
		FirstName string `json:"f,omitempty"`
		ID        int64  `json:"i"`
	}
	c.Sort = "name"
	if err := conn.QueryRow(ctx, `SELECT last_name, first_name, id FROM employees
		ORDER BY last_name, first_name, id OFFSET $1 LIMIT 1`, (s.deepPage-1)*pageSize-1).Scan(&c.LastName, &c.FirstName, &c.ID); err != nil {
		return s, fmt.Errorf("deep cursor: %w", err)
	}
	b, _ := json.Marshal(c)
	s.deepCursor = base64.RawURLEncoding.EncodeToString(b)
	return s, nil
}

// benchPages are the pages, for the sample.
func benchPages(s sample) []benchPage {
	dept := strconv.FormatInt(s.department, 10)
	return []benchPage{
		{"list", "employees by name", "/employees"},
		{"hired", "employees by hire date", "/employees?sort=hire_date"},
		{"deep", fmt.Sprintf("employees, page %d", s.deepPage), "/employees?after=" + url.QueryEscape(s.deepCursor)},
		{"surname", "search a common surname", "/employees?q=garcia"},
		{"name", "search a rare name", "/employees?q=" + url.QueryEscape(s.rare.name)},
		{"email", "search the start of an address", "/employees?q=" + url.QueryEscape(s.rare.email)},
		// Two searches that show more at a million than at ten thousand:
		// about 230 people are called Zoe Wong there (1 among ten
		// thousand), and "sato.7" also finds the numbers 70000 to 79999.
		{"commonname", "search a common first and last name", "/employees?q=zoe+wong"},
		{"emailnumber", "search a surname and a number's start", "/employees?q=sato.7"},
		{"letters", "search two letters", "/employees?q=ch"},
		{"status", "status filter", "/employees?status=terminated"},
		{"dept", "department filter", "/employees?department=" + dept},
		{"both", "department and status", "/employees?department=" + dept + "&status=on_leave"},
		{"depts", "department list", "/departments"},
		{"deptpage", "department page", "/departments/" + dept},
		{"record", "employee page (reports, changes)", "/employees/" + strconv.FormatInt(s.employee, 10)},
		{"audit", "audit log", "/audit"},
		{"auditentity", "audit log, one kind of record", "/audit?entity=department"},
		{"auditaction", "audit log, an action", "/audit?action=login.failure"},
		{"auditactor", "audit log, an actor", "/audit?actor=hr07"},
	}
}
