package seed_test

import (
	"context"
	"fmt"
	"testing"

	"hris/db"
	"hris/db/dbtest"
	"hris/db/seed"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// noTimeout opens a database as the seed command does: without the
// statement timeout (a bulk load builds whole indexes).
func noTimeout(t *testing.T) *db.DB {
	cfg := dbtest.Config(t)
	cfg.StatementTimeout = 0
	return dbtest.OpenConfig(t, cfg)
}

// snapshot is everything a seed decides, comparable across databases.
func snapshot(t *testing.T, d *db.DB) string {
	t.Helper()
	var out string
	for _, q := range []string{
		// Rows by email, with their manager's email.
		`SELECT md5(string_agg(concat_ws('|', e.first_name, e.last_name, lower(e.email), e.job_title, dp.name, e.hire_date,
		        e.status, e.termination_date, lower(m.email)), ',' ORDER BY lower(e.email)))
		 FROM employees e JOIN departments dp ON dp.id = e.department_id LEFT JOIN employees m ON m.id = e.manager_id`,
		`SELECT count(*) FROM employees`,
		`SELECT count(manager_id) FROM employees`,
		// The kept counts and words agree with the rows.
		`SELECT count(*) FROM (SELECT coalesce(department_id, 0), status, count(*) FROM employees GROUP BY 1, 2
		  EXCEPT SELECT department_id, status, n FROM employee_counts WHERE n <> 0) x`,
		`SELECT count(*) FROM employee_words`,
		`SELECT count(*) FROM (SELECT w, e.id FROM employees e, unnest(employee_search_words(e.first_name, e.last_name, e.email)) w
		  EXCEPT SELECT word, employee_id FROM employee_words) x`,
	} {
		var v any
		if err := d.Pool.QueryRow(context.Background(), q).Scan(&v); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		out += fmt.Sprint(v) + " "
	}
	return out
}

// A bulk load into an empty table and row-by-row batches give the same
// employees, managers, counts and search words; seeding again adds nothing.
func TestEmployeesBulkAndBatchesAgree(t *testing.T) {
	ctx := context.Background()
	const n = 21_000 // above the bulk threshold

	bulk := noTimeout(t)
	added, err := seed.Employees(ctx, bulk, n)
	if err != nil || added != n {
		t.Fatalf("bulk seed: %d added, %v", added, err)
	}

	// The seed's vacuum leaves the tables all-visible, on the tests'
	// server too (synchronous_commit off): the list pages' index-only scans
	// then never read the table.
	for _, table := range []string{"employees", "employee_words"} {
		var pages, visible int
		if err := bulk.Pool.QueryRow(ctx, `SELECT relpages, relallvisible FROM pg_class WHERE oid = $1::regclass`, table).Scan(&pages, &visible); err != nil {
			t.Fatal(err)
		}
		if pages == 0 || visible != pages {
			t.Errorf("%s after the seed: %d of %d pages all-visible", table, visible, pages)
		}
	}

	rows := noTimeout(t)
	if added, err := seed.Employees(ctx, rows, 100); err != nil || added != 100 {
		t.Fatalf("small seed: %d added, %v", added, err)
	}
	// Not empty any more: the rest comes in batches.
	if added, err := seed.Employees(ctx, rows, n); err != nil || added != n-100 {
		t.Fatalf("batch seed: %d added, %v", added, err)
	}
	a, b := snapshot(t, bulk), snapshot(t, rows)
	if a != b {
		t.Errorf("bulk and batch seeds differ:\n bulk  %s\n batch %s", a, b)
	}
	var managers, orphans int
	_ = bulk.Pool.QueryRow(ctx, `SELECT count(manager_id), count(*) FILTER (WHERE manager_id IS NULL) FROM employees`).Scan(&managers, &orphans)
	if managers != n-1 || orphans != 1 {
		t.Errorf("%d employees with a manager and %d without, want %d and 1", managers, orphans, n-1)
	}

	// Idempotent: again, nothing added, nothing changed.
	if added, err := seed.Employees(ctx, bulk, n); err != nil || added != 0 {
		t.Fatalf("second seed: %d added, %v", added, err)
	}
	if c := snapshot(t, bulk); c != a {
		t.Errorf("a second seed changed the data:\n before %s\n after  %s", a, c)
	}
}

func TestAuditIdempotent(t *testing.T) {
	ctx := context.Background()
	d := noTimeout(t)
	if _, err := seed.Employees(ctx, d, 500); err != nil {
		t.Fatal(err)
	}
	if added, err := seed.Audit(ctx, d, 25_000, 500); err != nil || added != 25_000 {
		t.Fatalf("audit seed: %d added, %v", added, err)
	}
	if added, err := seed.Audit(ctx, d, 25_000, 500); err != nil || added != 0 {
		t.Fatalf("second audit seed: %d added, %v", added, err)
	}
	if added, err := seed.Audit(ctx, d, 26_000, 500); err != nil || added != 1_000 {
		t.Fatalf("growing audit seed: %d added, %v", added, err)
	}
	var actions, actors, newest int
	err := d.Pool.QueryRow(ctx, `SELECT count(DISTINCT action), count(DISTINCT actor_email),
		count(*) FILTER (WHERE at > now() - interval '2 days') FROM audit_log`).Scan(&actions, &actors, &newest)
	if err != nil {
		t.Fatal(err)
	}
	if actions < 8 || actors < 100 || newest == 0 {
		t.Errorf("%d actions, %d actors, %d entries of the last two days: not a log that looks used", actions, actors, newest)
	}
	// The bulk path rebuilt every index.
	var indexes int
	_ = d.Pool.QueryRow(ctx, `SELECT count(*) FROM pg_indexes WHERE tablename = 'audit_log'`).Scan(&indexes)
	if indexes < 6 {
		t.Errorf("audit_log has %d indexes after the seed", indexes)
	}
}

// TestRareSurnames: about one employee in seed.RareEvery has a surname of
// their own, different for every employee number below 2^20, and the same
// employee gets the same one every time (the bench searches for it at
// every size).
func TestRareSurnames(t *testing.T) {
	seen := make(map[string]int, 1<<20)
	for i := range 1 << 20 {
		s := seed.RareSurname(i)
		if j, ok := seen[s]; ok {
			t.Fatalf("employees %d and %d both get the surname %s", j, i, s)
		}
		seen[s] = i
	}
	const n = 100_000
	rare := 0
	for i := range n {
		if e := seed.EmployeeNumber(i, 10); e.LastName == seed.RareSurname(i) {
			rare++
		}
	}
	if want := n / seed.RareEvery; rare < want*9/10 || rare > want*11/10 {
		t.Errorf("%d of %d employees have a rare surname, want about %d", rare, n, want)
	}
	if e := seed.EmployeeNumber(97, 10); e.FirstName+" "+e.LastName+" "+e.Email != "Anika Verirmoberg anika.verirmoberg.97@example.com" {
		t.Errorf("employee 97 is now %s %s %s: demo employees must not change", e.FirstName, e.LastName, e.Email)
	}
}
