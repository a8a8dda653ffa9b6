// Package seed fills a database with demo data: departments, employees and
// audit entries. `hris seed`, `hris dev`, the bench and the plan tests use
// it. Seeding is idempotent: employee i always gets the same name and email
// and audit entry i the same content, and only what is missing is added.
//
// A large seed into an empty table is a bulk load: rows are copied in with
// the table's secondary indexes and triggers set aside, then the indexes
// are built once, sorted, and the search words and counts computed in one
// pass each. That is several times faster than maintaining every index row
// by row (a million employees in well under 30 s instead of about a
// minute), and it happens in one transaction, so a failure leaves the table
// empty and other sessions only ever see it empty or full.
package seed

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"hris/db"
)

// bulkFrom is the size from which a seed into an empty table is loaded in
// bulk; below it, row by row is as fast and simpler to watch.
const bulkFrom = 5_000

// Departments are the demo departments.
var Departments = []struct{ Name, Description string }{
	{"Engineering", "Builds and runs the product"},
	{"Finance", "Accounts, payroll and budgets"},
	{"Human Resources", "People, hiring and policies"},
	{"Marketing", "Brand, campaigns and events"},
	{"Operations", "Facilities, logistics and IT"},
	{"Sales", "New business and key accounts"},
	{"Customer Support", "Helps customers every day"},
	{"Legal", "Contracts and compliance"},
	{"Product", "Decides what gets built next"},
	{"Research", "Looks further ahead"},
}

var (
	firstNames = strings.Fields(`Ada Alan Alice Amara Ana Andre Anika Ben Bianca Carlos Chen Chloe Dara David Diego Elena
		Emma Erik Fatima Felix Grace Hana Hugo Ines Isaac Ivan Jade James Jana Jonas Julia Kai Karin Kenji Lara Leo Lena
		Liam Lucia Maya Mei Milan Mira Nadia Nia Noah Nora Omar Oscar Paula Priya Rafael Rosa Ruth Sam Sara Sofia Tariq
		Tess Theo Uma Vera Victor Wei Yara Yusuf Zoe`)
	lastNames = strings.Fields(`Abbott Adeyemi Alvarez Andersen Bauer Becker Bianchi Brown Castro Chen Costa Dubois
		Edwards Eriksson Fischer Garcia Gomez Hansen Haddad Ito Jensen Kim Kowalski Lambert Larsen Lee Lopez Martin
		Meyer Moreau Müller Nakamura Nguyen Novak O'Brien Okafor Olsen Patel Perez Petrov Quinn Rossi Sato Schmidt
		Silva Singh Smith Tanaka Torres Van Dijk Varga Wagner Walsh Weber Wilson Wong Yilmaz Zhang`)
	titles = strings.Fields(`Analyst Associate Coordinator Engineer Lead Manager Specialist Director Consultant Assistant`)
)

// Employee is the demo employee number i: always the same.
type Employee struct {
	FirstName, LastName, Email, JobTitle, Status string
	Department                                   int // index into the department ids
	HireDate                                     time.Time
	// Manager is the number of the demo employee i reports to, -1 for
	// none: everyone but the first reports to an earlier one, 30 to a
	// manager, so the record pages have reports to list.
	Manager int
}

// ReportsPerManager is how many demo employees report to each manager.
const ReportsPerManager = 30

var hireBase = time.Date(2008, 1, 1, 0, 0, 0, 0, time.UTC)

// EmployeeNumber returns demo employee i, given the number of departments.
func EmployeeNumber(i, departments int) Employee {
	r := rand.New(rand.NewPCG(uint64(i), 42)) // same row for the same i, every time
	e := Employee{FirstName: firstNames[r.IntN(len(firstNames))], LastName: lastNames[r.IntN(len(lastNames))], Status: "active"}
	switch x := r.IntN(100); {
	case x < 5:
		e.Status = "terminated"
	case x < 11:
		e.Status = "on_leave"
	}
	e.Department = r.IntN(departments)
	e.JobTitle = titles[r.IntN(len(titles))]
	e.HireDate = hireBase.AddDate(0, 0, r.IntN(17*365))
	// Drawn last, so that the draws above are what they always were.
	if r.IntN(RareEvery) == 0 {
		e.LastName = RareSurname(i)
	}
	e.Email = fmt.Sprintf("%s.%s.%d@example.com", emailPart(e.FirstName), emailPart(e.LastName), i)
	e.Manager = -1
	if i > 0 {
		e.Manager = (i - 1) / ReportsPerManager
	}
	return e
}

// Employees makes sure demo departments and employees 0..n-1 exist and
// returns how many employees it added. d should have no statement timeout:
// a bulk load's index builds take longer than a page may.
func Employees(ctx context.Context, d *db.DB, n int) (int64, error) {
	names := make([]string, len(Departments))
	descs := make([]string, len(Departments))
	for i, dep := range Departments {
		names[i], descs[i] = dep.Name, dep.Description
	}
	var (
		deptIDs  []int64
		existing int64
	)
	err := d.InTx(ctx, func(ctx context.Context, q *db.Queries) (err error) {
		if _, err = q.SeedDepartments(ctx, db.SeedDepartmentsParams{Names: names, Descriptions: descs}); err != nil {
			return err
		}
		if deptIDs, err = q.DepartmentIDs(ctx); err != nil {
			return err
		}
		existing, err = q.CountEmployees(ctx, db.CountEmployeesParams{})
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("seed departments: %w", err)
	}
	// New employees get ids above the highest one now.
	var firstNew int64
	if err := d.Read(ctx, func(ctx context.Context, q *db.Queries) (err error) {
		firstNew, err = q.LastEmployeeID(ctx)
		firstNew++
		return err
	}); err != nil {
		return 0, fmt.Errorf("seed: %w", err)
	}
	var added int64
	if existing == 0 && n >= bulkFrom {
		added, err = bulkEmployees(ctx, d.Pool, n, deptIDs)
	} else {
		added, err = employeeBatches(ctx, d, n, deptIDs)
	}
	if err != nil {
		return added, err
	}
	if added > 0 {
		// The new employees' leave, so the leave pages look lived in.
		if _, err := Leave(ctx, d, firstNew); err != nil {
			return added, err
		}
		// Fresh statistics now, not when autovacuum next comes by: the plans
		// of the list pages depend on them.
		if err := vacuumAnalyze(ctx, d.Pool, "VACUUM (ANALYZE) employees, employee_words, employee_counts, departments"); err != nil {
			return added, fmt.Errorf("seed: analyze: %w", err)
		}
	}
	return added, nil
}

// employeeBatches inserts the missing employees 5,000 at a time; existing
// emails are skipped.
func employeeBatches(ctx context.Context, d *db.DB, n int, deptIDs []int64) (int64, error) {
	const batch = 5000
	var added int64
	for lo := 0; lo < n; lo += batch {
		hi := min(lo+batch, n)
		p := db.SeedEmployeesParams{}
		managerOf := map[string]string{} // lowercase emails
		for i := lo; i < hi; i++ {
			e := EmployeeNumber(i, len(deptIDs))
			p.FirstNames = append(p.FirstNames, e.FirstName)
			p.LastNames = append(p.LastNames, e.LastName)
			p.Emails = append(p.Emails, e.Email)
			p.JobTitles = append(p.JobTitles, e.JobTitle)
			p.DepartmentIds = append(p.DepartmentIds, deptIDs[e.Department])
			if e.Manager >= 0 {
				managerOf[strings.ToLower(e.Email)] = strings.ToLower(EmployeeNumber(e.Manager, len(deptIDs)).Email)
			}
			p.HireDates = append(p.HireDates, e.HireDate)
			p.Statuses = append(p.Statuses, e.Status)
		}
		var k int64
		err := d.InTx(ctx, func(ctx context.Context, q *db.Queries) error {
			emails, err := q.SeedEmployees(ctx, p)
			if err != nil {
				return err
			}
			k = int64(len(emails))
			var m db.SeedManagersParams
			for _, e := range emails {
				if mgr := managerOf[e]; mgr != "" {
					m.Emails, m.ManagerEmails = append(m.Emails, e), append(m.ManagerEmails, mgr)
				}
			}
			_, err = q.SeedManagers(ctx, m)
			return err
		})
		if err != nil {
			return added, fmt.Errorf("seed employees %d-%d: %w", lo, hi-1, err)
		}
		added += k
	}
	return added, nil
}

// bulkEmployees loads employees 0..n-1 into the empty table in one
// transaction (see the package comment).
func bulkEmployees(ctx context.Context, pool *pgxpool.Pool, n int, deptIDs []int64) (int64, error) {
	var added int64
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		// Nobody else may write these tables meanwhile; a session that
		// wants to read them waits for the commit.
		if _, err := tx.Exec(ctx, `LOCK TABLE employees, employee_words, employee_counts IN ACCESS EXCLUSIVE MODE`); err != nil {
			return err
		}
		var empty bool
		if err := tx.QueryRow(ctx, `SELECT NOT EXISTS (SELECT 1 FROM employees)`).Scan(&empty); err != nil {
			return err
		}
		if !empty {
			return errNotEmpty
		}
		for _, s := range []string{
			`SET LOCAL statement_timeout = 0`,
			`SET LOCAL maintenance_work_mem = '256MB'`,
			`ALTER TABLE employees DISABLE TRIGGER USER`,
		} {
			if _, err := tx.Exec(ctx, s); err != nil {
				return err
			}
		}
		indexes, err := setIndexesAside(ctx, tx, "employees", "employee_words")
		if err != nil {
			return err
		}
		// Foreign keys are checked row by row, by triggers DISABLE TRIGGER
		// USER leaves on: half the time of the copy. Added back afterwards,
		// each is checked once for the whole table.
		keys, err := setForeignKeysAside(ctx, tx, "employees")
		if err != nil {
			return err
		}
		// The rows get the identity's next values in order, so employee i
		// will have id base+i and can name its manager by id. (The table
		// is locked and empty: nobody else takes a value meanwhile.)
		var base int64
		err = tx.QueryRow(ctx, `SELECT coalesce(s.last_value + s.increment_by, s.start_value)
			FROM pg_sequences s
			WHERE format('%I.%I', s.schemaname, s.sequencename) = pg_get_serial_sequence('employees', 'id')`).Scan(&base)
		if err != nil {
			return fmt.Errorf("employee ids: %w", err)
		}
		i := 0
		next := func() ([]any, error) {
			if i == n {
				return nil, nil
			}
			e := EmployeeNumber(i, len(deptIDs))
			i++
			var end any
			if e.Status == "terminated" {
				end = e.HireDate.AddDate(0, 0, 400)
			}
			var manager any
			if e.Manager >= 0 {
				manager = base + int64(e.Manager)
			}
			return []any{e.FirstName, e.LastName, e.Email, e.JobTitle, deptIDs[e.Department], manager, e.HireDate, e.Status, end}, nil
		}
		added, err = tx.CopyFrom(ctx, pgx.Identifier{"employees"},
			[]string{"first_name", "last_name", "email", "job_title", "department_id", "manager_id", "hire_date", "status", "termination_date"},
			pgx.CopyFromFunc(next))
		if err != nil {
			return fmt.Errorf("copy employees: %w", err)
		}
		// What the triggers would have done: the search words, computed
		// here (db.EmployeeWords splits and lowercases as the database does
		// for the demo names: TestEmployeesBulkAndBatchesAgree checks it)
		// and copied in, three times faster than splitting them there...
		i = 0
		var words []string
		var e Employee
		nextWord := func() ([]any, error) {
			for len(words) == 0 {
				if i == n {
					return nil, nil
				}
				e = EmployeeNumber(i, len(deptIDs))
				words = db.EmployeeWords(e.FirstName, e.LastName, e.Email)
				i++
			}
			w := words[0]
			words = words[1:]
			return []any{w, e.LastName, e.FirstName, base + int64(i-1), e.Email}, nil
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"employee_words"},
			[]string{"word", "last_name", "first_name", "employee_id", "email"}, pgx.CopyFromFunc(nextWord)); err != nil {
			return fmt.Errorf("copy search words: %w", err)
		}
		// ... and the counts.
		for _, s := range []string{
			`INSERT INTO employee_counts (department_id, status, n)
			 SELECT coalesce(department_id, 0), status, count(*) FROM employees GROUP BY 1, 2
			 ON CONFLICT (department_id, status) DO UPDATE SET n = excluded.n`,
			`ALTER TABLE employees ENABLE TRIGGER USER`,
		} {
			if _, err := tx.Exec(ctx, s); err != nil {
				return err
			}
		}
		if err := restoreDefinitions(ctx, tx, keys); err != nil {
			return err
		}
		return restoreDefinitions(ctx, tx, indexes)
	})
	if err != nil {
		return 0, fmt.Errorf("seed employees (bulk): %w", err)
	}
	return added, nil
}

// vacuumAnalyze runs vacuum, a VACUUM (ANALYZE) of the tables a seed
// filled: fresh statistics, and the visibility map that lets the pages'
// index-only scans skip the table. A page is marked all-visible only once
// the commits of its rows are on disk. On a server with synchronous_commit
// off (hris dev, the tests and the bench run one) the seed's commits may
// still be a moment away from it, and the vacuum would then mark no page:
// every page would read the table for each row it shows until autovacuum
// came by. So it waits (up to a few seconds) for the WAL writer to flush
// what the seed wrote, and commits its own statistics synchronously: the
// next table's vacuum would wait for them too.
func vacuumAnalyze(ctx context.Context, pool *pgxpool.Pool, vacuum string) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SET synchronous_commit = on`); err != nil {
		return err
	}
	var written string
	if err := conn.QueryRow(ctx, `SELECT pg_current_wal_insert_lsn()::text`).Scan(&written); err != nil {
		return err
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		var flushed bool
		if err := conn.QueryRow(ctx, `SELECT pg_current_wal_flush_lsn() >= $1::pg_lsn`, written).Scan(&flushed); err != nil {
			return err
		}
		if flushed {
			break
		}
	}
	if _, err := conn.Exec(ctx, vacuum); err != nil {
		return err
	}
	_, err = conn.Exec(ctx, `RESET synchronous_commit`)
	return err
}

var errNotEmpty = fmt.Errorf("the table filled up meanwhile; run the seed again")

// setIndexesAside drops the tables' indexes that back no constraint and
// returns their definitions, as PostgreSQL writes them, to build again.
// (The definitions come from the catalog, not from any input.)
func setIndexesAside(ctx context.Context, tx pgx.Tx, tables ...string) ([]string, error) {
	rows, err := tx.Query(ctx, `
		SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
		FROM pg_index i
		WHERE i.indrelid = ANY ($1::regclass[])
		  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)`, tables)
	if err != nil {
		return nil, err
	}
	type index struct{ name, def string }
	idx, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (index, error) {
		var i index
		return i, r.Scan(&i.name, &i.def)
	})
	if err != nil {
		return nil, err
	}
	defs := make([]string, 0, len(idx))
	for _, i := range idx {
		if _, err := tx.Exec(ctx, "DROP INDEX "+i.name); err != nil {
			return nil, err
		}
		defs = append(defs, i.def)
	}
	return defs, nil
}

// setForeignKeysAside drops table's foreign keys and returns the
// statements that add them back (from the catalog, not from any input).
func setForeignKeysAside(ctx context.Context, tx pgx.Tx, table string) ([]string, error) {
	rows, err := tx.Query(ctx, `
		SELECT conname::text, format('ALTER TABLE %s ADD CONSTRAINT %I %s', conrelid::regclass, conname, pg_get_constraintdef(oid))
		FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'f'`, table)
	if err != nil {
		return nil, err
	}
	type key struct{ name, def string }
	keys, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (key, error) {
		var k key
		return k, r.Scan(&k.name, &k.def)
	})
	if err != nil {
		return nil, err
	}
	defs := make([]string, 0, len(keys))
	for _, k := range keys {
		if _, err := tx.Exec(ctx, "ALTER TABLE "+pgx.Identifier{table}.Sanitize()+" DROP CONSTRAINT "+pgx.Identifier{k.name}.Sanitize()); err != nil {
			return nil, err
		}
		defs = append(defs, k.def)
	}
	return defs, nil
}

// restoreDefinitions runs the statements that set indexes or keys aside
// returned.
func restoreDefinitions(ctx context.Context, tx pgx.Tx, defs []string) error {
	for _, def := range defs {
		if _, err := tx.Exec(ctx, def); err != nil {
			return fmt.Errorf("%s: %w", def, err)
		}
	}
	return nil
}

// RareEvery: one demo employee in RareEvery has a surname nobody else
// has. A real staff list is like that (a few surnames are common and most
// are rare), and a search for a rare name then finds one person whatever
// the size of the table, as it would in use.
const RareEvery = 50

// rareParts make the rare surnames: one part of each, chosen by the
// digits in base 32 of i scrambled (an odd multiple, modulo 2^20, so
// neighbours look unrelated), so employees 0 to 1,048,575 each get a
// different one. None starts with a, c, g, q or z, so the common words
// the tests and the bench search for ("garcia", "ch", "zoe") keep their
// matches.
var rareParts = [4][]string{
	strings.Fields(`Bel Bor Dal Dor Fen Fal Hal Hes Jor Jen Kel Kor Lan Lor Mar Mel
		Nor Nev Pal Per Ral Ren Sal Sor Tal Tor Val Ver Wen Wil Yar Yel`),
	strings.Fields(`a e i o u ai ei ou au ia io ea ar er ir or ur an en in on un al el il ol ul as es is os us`),
	strings.Fields(`ba be bi bo da de di do ka ke ki ko la le li lo ma me mi mo na ne ni no ra re ri ro ta te ti to`),
	strings.Fields(`sk ski sen son berg ley ton ard ek ich ova ez ani ari ov in ur is as os ell ett ane ine ore ux ay eux ano ino ali uli`),
}

// RareSurname is the rare surname demo employee i has, if it has one.
func RareSurname(i int) string {
	i = i * 747_451 % (1 << 20)
	var b strings.Builder
	for _, part := range rareParts {
		b.WriteString(part[i%len(part)])
		i /= len(part)
	}
	return b.String()
}

// emailPart lowercases a name for an email address, keeping ASCII letters.
func emailPart(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z':
			b.WriteRune(r)
		case r == 'ü':
			b.WriteString("ue")
		}
	}
	return b.String()
}

// Audit makes sure n demo audit entries exist (see SeedAudit in
// queries/seed.sql) and returns how many it added. employees is how many
// employees the entries may name. d should have no statement timeout.
func Audit(ctx context.Context, d *db.DB, n, employees int) (int64, error) {
	var have int64
	if err := d.Read(ctx, func(ctx context.Context, q *db.Queries) (err error) {
		have, err = q.CountSeededAudit(ctx)
		return err
	}); err != nil {
		return 0, fmt.Errorf("seed audit: %w", err)
	}
	if have >= int64(n) {
		return 0, nil
	}
	p := db.SeedAuditParams{Total: int32(n), Employees: int64(employees), FirstN: have, LastN: int64(n) - 1}
	var added int64
	err := pgx.BeginFunc(ctx, d.Pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL statement_timeout = 0`); err != nil {
			return err
		}
		// Into an empty log, a large seed is a bulk load (see the package
		// comment); the log takes no triggers.
		var indexes []string
		if n-int(have) >= bulkFrom {
			if _, err := tx.Exec(ctx, `LOCK TABLE audit_log IN ACCESS EXCLUSIVE MODE`); err != nil {
				return err
			}
			var empty bool
			if err := tx.QueryRow(ctx, `SELECT NOT EXISTS (SELECT 1 FROM audit_log)`).Scan(&empty); err != nil {
				return err
			}
			if empty {
				if _, err := tx.Exec(ctx, `SET LOCAL maintenance_work_mem = '256MB'`); err != nil {
					return err
				}
				var err error
				if indexes, err = setIndexesAside(ctx, tx, "audit_log"); err != nil {
					return err
				}
			}
		}
		var err error
		if added, err = db.New(tx).SeedAudit(ctx, p); err != nil {
			return err
		}
		return restoreDefinitions(ctx, tx, indexes)
	})
	if err != nil {
		return 0, fmt.Errorf("seed audit: %w", err)
	}
	if err := vacuumAnalyze(ctx, d.Pool, "VACUUM (ANALYZE) audit_log"); err != nil {
		return added, fmt.Errorf("seed audit: analyze: %w", err)
	}
	return added, nil
}
