package db_test

import (
	"context"
	"testing"

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
			     SELECT w, e.last_name, e.first_name, e.hire_date, e.id FROM employees e,
			            unnest(employee_search_words(e.first_name, e.last_name, e.email)) w
			     EXCEPT SELECT word, last_name, first_name, hire_date, employee_id FROM employee_words) x),
			  (SELECT count(*) FROM (
			     SELECT word, last_name, first_name, hire_date, employee_id FROM employee_words
			     EXCEPT SELECT w, e.last_name, e.first_name, e.hire_date, e.id FROM employees e,
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
