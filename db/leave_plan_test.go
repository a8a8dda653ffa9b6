package db_test

import (
	"context"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"hris/db"
	"hris/db/dbtest"
)

// planNode is a node of EXPLAIN (FORMAT JSON).
type planNode struct {
	NodeType     string     `json:"Node Type"`
	RelationName string     `json:"Relation Name"`
	IndexName    string     `json:"Index Name"`
	Plans        []planNode `json:"Plans"`
}

func (n planNode) walk(f func(planNode)) {
	f(n)
	for _, c := range n.Plans {
		c.walk(f)
	}
}

// explain plans sql with args as the pages run it: in a transaction with
// custom plans (App.readPlanned).
func explain(t *testing.T, tx pgx.Tx, sql string, args ...any) planNode {
	t.Helper()
	var out []byte
	if err := tx.QueryRow(context.Background(), "EXPLAIN (FORMAT JSON) "+sql, args...).Scan(&out); err != nil {
		t.Fatalf("explain: %v", err)
	}
	var plans []struct {
		Plan planNode `json:"Plan"`
	}
	if err := json.Unmarshal(out, &plans); err != nil || len(plans) != 1 {
		t.Fatalf("explain output: %v\n%s", err, out)
	}
	return plans[0].Plan
}

// TestLeavePlansUseIndexes plans the leave pages' queries on a database
// with demo leave (6,000 employees, about 40,000 requests; statistics
// fresh) and checks that none reads a whole table: every filter of the
// list walks an index in the list's order (no sort of the matches) or,
// for one employee, their few rows. (Measured at 1M employees and 4.7M
// requests: every list page within a few milliseconds; see README.)
func TestLeavePlansUseIndexes(t *testing.T) {
	d := dbtest.Open(t)
	ctx := context.Background()
	year := time.Now().Year()
	start := time.Now()
	_, err := d.Pool.Exec(ctx, `
		INSERT INTO departments (name) SELECT 'Department ' || i FROM generate_series(1, 10) AS i;
		INSERT INTO employees (first_name, last_name, email, department_id, hire_date)
		SELECT 'First' || i, 'Last' || (i % 997), 'e' || i || '@example.com',
		       (SELECT min(id) FROM departments) + i % 10, date '2015-01-01'
		FROM generate_series(1, 6000) AS i`)
	if err != nil {
		t.Fatal(err)
	}
	var rows int64
	err = db.InTx(ctx, d.Pool, func(ctx context.Context, q *db.Queries) (err error) {
		rows, err = q.SeedLeave(ctx, db.SeedLeaveParams{FirstYear: int32(year - 1), LastYear: int32(year + 1), FirstID: 1, LastID: math.MaxInt32})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// HR set the allowance of every other employee for this year.
	_, err = d.Pool.Exec(ctx, `INSERT INTO leave_allowances (employee_id, year, days)
		SELECT id, $1, 20 + id % 10 FROM employees WHERE id % 2 = 0`, year)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Pool.Exec(ctx, "ANALYZE employees, departments, leave_requests, leave_allowances"); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d leave requests of 6,000 employees in %s", rows, time.Since(start).Round(time.Millisecond))
	var statuses int
	if err := d.Pool.QueryRow(ctx, "SELECT count(DISTINCT status) FROM leave_requests").Scan(&statuses); err != nil || statuses < 3 || rows < 30_000 {
		t.Fatalf("demo leave: %d rows in %d statuses (%v); want some 40,000 in several", rows, statuses, err)
	}
	var dept, emp int64
	_ = d.Pool.QueryRow(ctx, "SELECT min(id) + 3 FROM departments").Scan(&dept)
	_ = d.Pool.QueryRow(ctx, "SELECT employee_id FROM leave_requests ORDER BY id LIMIT 1").Scan(&emp)

	tx, err := d.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "SET LOCAL plan_cache_mode = force_custom_plan"); err != nil {
		t.Fatal(err)
	}
	dusk := time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
	dawn := time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	july := time.Date(year, 7, 1, 0, 0, 0, 0, time.UTC)
	list := func(before time.Time, beforeID int64, status, kind string, employee, department *int64, from, startFrom time.Time) []any {
		return []any{before, beforeID, status, kind, employee, department, from, startFrom, 51}
	}
	type tc struct {
		name    string
		sql     string
		args    []any
		sortsOK bool // a sort of a handful of rows (one employee's) is fine
	}
	cases := []tc{
		{"list: first page", db.ListLeaveRequestsSQL, list(dusk, math.MaxInt64, "", "", nil, nil, dawn, dawn), false},
		{"list: deep page", db.ListLeaveRequestsSQL, list(time.Date(year, 3, 1, 0, 0, 0, 0, time.UTC), 500, "", "", nil, nil, dawn, dawn), false},
		{"list: pending", db.ListLeaveRequestsSQL, list(dusk, math.MaxInt64, "pending", "", nil, nil, dawn, dawn), false},
		{"list: approved", db.ListLeaveRequestsSQL, list(dusk, math.MaxInt64, "approved", "", nil, nil, dawn, dawn), false},
		{"list: sick leave", db.ListLeaveRequestsSQL, list(dusk, math.MaxInt64, "", "sick", nil, nil, dawn, dawn), false},
		{"list: department", db.ListLeaveRequestsSQL, list(dusk, math.MaxInt64, "", "", nil, &dept, dawn, dawn), false},
		{"list: department, rejected", db.ListLeaveRequestsSQL, list(dusk, math.MaxInt64, "rejected", "", nil, &dept, dawn, dawn), false},
		{"list: July", db.ListLeaveRequestsSQL, list(july.AddDate(0, 1, 0), 0, "", "", nil, nil, july, july.AddDate(0, 0, -4)), false},
		{"list: July, department, approved", db.ListLeaveRequestsSQL, list(july.AddDate(0, 1, 0), 0, "approved", "", nil, &dept, july, july.AddDate(0, 0, -4)), false},
		{"list: employee", db.ListLeaveRequestsSQL, list(dusk, math.MaxInt64, "", "", &emp, nil, dawn, dawn), true},
		{"balance", db.LeaveBalanceSQL, []any{int32(25), emp, int32(year)}, false},
		{"employee page", db.EmployeeLeaveSQL, []any{emp, int32(9)}, true},
		{"overlap check", db.OverlappingLeaveSQL, []any{emp, july.AddDate(0, 0, 4), july}, true},
		// A rare name takes the trigram index at a million employees; at
		// 6,000 reading them all is cheaper, so only the common case here.
	}
	for _, c := range cases {
		plan := explain(t, tx, c.sql, c.args...)
		var nodes []string
		plan.walk(func(n planNode) {
			nodes = append(nodes, strings.TrimSpace(n.NodeType+" "+n.IndexName+" "+n.RelationName))
			switch {
			case n.NodeType == "Seq Scan" && n.RelationName != "departments":
				t.Errorf("%s: sequential scan of %s", c.name, n.RelationName)
			case n.NodeType == "Sort" && !c.sortsOK:
				t.Errorf("%s: sorts its rows instead of reading them in order from an index", c.name)
			}
		})
		t.Logf("%s: %s", c.name, strings.Join(nodes, " > "))
	}
}
