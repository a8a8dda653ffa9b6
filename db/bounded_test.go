package db_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"hris/db"
	"hris/db/dbtest"
)

// The counts and search words kept by triggers (migration 00006) stay
// exactly what the rows say through every kind of change: single and bulk
// inserts, edits of counted, searched and other columns, deletes, and
// TRUNCATE; and they roll back with the transaction that made them.
func TestKeptCountsAndWordsFollowTheRows(t *testing.T) {
	ctx := context.Background()
	d := dbtest.Open(t)
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := d.Pool.Exec(ctx, sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	check := func(when string) {
		t.Helper()
		var countDiff, wordDiff, extraWords int
		err := d.Pool.QueryRow(ctx, `
			SELECT
			  (SELECT count(*) FROM (
			     (SELECT coalesce(department_id, 0), status, count(*) FROM employees GROUP BY 1, 2
			      EXCEPT SELECT department_id, status, n FROM employee_counts WHERE n <> 0)
			     UNION ALL
			     (SELECT department_id, status, n FROM employee_counts WHERE n <> 0
			      EXCEPT SELECT coalesce(department_id, 0), status, count(*) FROM employees GROUP BY 1, 2)) x),
			  (SELECT count(*) FROM (
			     SELECT w, e.last_name, e.first_name, e.id, e.email FROM employees e,
			            unnest(employee_search_words(e.first_name, e.last_name, e.email)) w
			     EXCEPT SELECT word, last_name, first_name, employee_id, email FROM employee_words) x),
			  (SELECT count(*) FROM (
			     SELECT word, last_name, first_name, employee_id, email FROM employee_words
			     EXCEPT SELECT w, e.last_name, e.first_name, e.id, e.email FROM employees e,
			            unnest(employee_search_words(e.first_name, e.last_name, e.email)) w) x)`).
			Scan(&countDiff, &wordDiff, &extraWords)
		if err != nil {
			t.Fatal(err)
		}
		if countDiff != 0 || wordDiff != 0 || extraWords != 0 {
			t.Errorf("%s: %d counts wrong, %d words missing, %d words left over", when, countDiff, wordDiff, extraWords)
		}
	}
	exec(`INSERT INTO departments (name) VALUES ('Alpha'), ('Beta')`)
	exec(`INSERT INTO employees (first_name, last_name, email, hire_date, department_id)
	      VALUES ('Ada', 'Lovelace', 'ada.lovelace@example.com', '2020-01-01', 1)`)
	check("one insert")
	exec(`INSERT INTO employees (first_name, last_name, email, hire_date, department_id, status, termination_date)
	      SELECT 'Sam' || i, 'Smith-Jones', 'sam' || i || '@example.com', date '2019-01-01' + i,
	             CASE WHEN i % 3 = 0 THEN NULL ELSE 1 + i % 2 END,
	             CASE WHEN i % 5 = 0 THEN 'terminated' ELSE 'active' END,
	             CASE WHEN i % 5 = 0 THEN date '2024-01-01' END
	      FROM generate_series(1, 200) i`)
	check("bulk insert")
	exec(`UPDATE employees SET status = 'on_leave' WHERE first_name LIKE 'Sam1%' AND status = 'active'`)
	exec(`UPDATE employees SET department_id = 2 WHERE first_name LIKE 'Sam2%'`)
	check("status and department edits")
	exec(`UPDATE employees SET last_name = 'Byron', email = 'ada@byron.example' WHERE first_name = 'Ada'`)
	exec(`UPDATE employees SET hire_date = hire_date + 1 WHERE first_name = 'Sam7'`)
	exec(`UPDATE employees SET job_title = 'Mathematician' WHERE first_name = 'Ada'`)
	check("name, email, hire date and other edits")
	tx, err := d.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM employees WHERE first_name LIKE 'Sam3%'`); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `UPDATE employees SET first_name = 'Rolled', status = 'on_leave' WHERE first_name = 'Sam4'`); err != nil {
		t.Fatal(err)
	}
	_ = tx.Rollback(ctx)
	check("a rolled back delete and edit")
	exec(`DELETE FROM employees WHERE first_name LIKE 'Sam3%'`)
	check("deletes")
	var words int
	if err := d.Pool.QueryRow(ctx, `SELECT count(*) FROM employee_words WHERE word IN ('smith', 'jones', 'byron', 'sam1')`).Scan(&words); err != nil {
		t.Fatal(err)
	}
	if words == 0 {
		t.Error("no search words: the check above proved nothing")
	}
	exec(`TRUNCATE employees CASCADE`)
	check("truncate")
	if err := d.Pool.QueryRow(ctx, `SELECT count(*) FROM employee_words`).Scan(&words); err != nil || words != 0 {
		t.Errorf("%d words after TRUNCATE (%v)", words, err)
	}
}

// The Go split of words (for searches and the seed) and the database's
// (for the index) agree, on every kind of character; and so does the
// lowercasing, for text the seed writes (ASCII, lowercase beyond it).
func TestWordsAgree(t *testing.T) {
	d := dbtest.Open(t)
	ctx := context.Background()
	for _, c := range [][3]string{
		{"Ada", "Lovelace", "ada.lovelace.7@example.com"},
		{"Zoë", "müller-lüdenscheidt", "zoe_m+hr@müller.de"},
		{"Jean-Luc", "O'Brien", "JL.OBRIEN@Example.CO.UK"},
		{"Li", "Wei", "007@numbers.only"},
		{"Nuño", "d'Arcy\tTab", "x@y.z"},
		{"名", "字", "名字@例子.中国"},
	} {
		var fromDB []string
		if err := d.Pool.QueryRow(ctx, "SELECT employee_search_words($1, $2, $3)", c[0], c[1], c[2]).Scan(&fromDB); err != nil {
			t.Fatal(err)
		}
		if got := db.EmployeeWords(c[0], c[1], c[2]); fmt.Sprint(got) != fmt.Sprint(fromDB) {
			t.Errorf("%q: Go %q, database %q", c, got, fromDB)
		}
	}
	// Splitting alone, in any case: the database lowercases a search's
	// words itself (lower() of what db.SplitWords gives).
	for _, text := range []string{"ÅSA Ångström-Øre", "zoe WONG", "Élodie.Dupont@EX.fr", "İstanbul ΣΑΣ"} {
		var fromDB []string
		if err := d.Pool.QueryRow(ctx, `SELECT employee_search_words($1, '', '')`, text).Scan(&fromDB); err != nil {
			t.Fatal(err)
		}
		var lowered []string
		for _, w := range db.SplitWords(text) {
			var l string
			if err := d.Pool.QueryRow(ctx, `SELECT lower($1)`, w).Scan(&l); err != nil {
				t.Fatal(err)
			}
			lowered = append(lowered, l)
		}
		slices.Sort(lowered)
		if fmt.Sprint(slices.Compact(lowered)) != fmt.Sprint(fromDB) {
			t.Errorf("%q: split in Go and lowered by the database %q, database %q", text, lowered, fromDB)
		}
	}
}
