package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"hris/account"
	"hris/db"
)

// Bounds of a page's work at 200,000 employees. A sequential scan would
// read 200,000 rows; a page reads a few hundred.
const (
	maxRowsRead   = 5_000 // rows handed over by all scans of one statement
	maxRowsSorted = 2_000 // rows into any sort (a page's merge sorts a few pages)
)

// scanRelations are the tables that grow: never read whole.
var scanRelations = map[string]bool{"employees": true, "audit_log": true, "employee_words": true}

// TestPagePlans loads every page of the cost curve, and a few more plans
// the list chooses between, and checks the plan of every statement it
// sends: no sequential scan of a growing table, no sort of more than a few
// pages of rows, a bounded number of rows read.
func TestPagePlans(t *testing.T) {
	app, s := tracedScale(t)
	ctx := context.Background()
	conn, err := connectAsApp(ctx, scale.url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	pages := benchPages(s)
	dept := fmt.Sprint(s.department)
	pages = append(pages,
		benchPage{"hiredsearch", "search by hire date", "/employees?q=garcia&sort=hire_date"},
		benchPage{"searchstatus", "search with a status", "/employees?q=garcia&status=terminated"},
		benchPage{"rarename", "search a name that is not there", "/employees?q=quill"},
		benchPage{"letter", "search one letter (walks the list)", "/employees?q=a&department=" + dept},
		benchPage{"hiredstatus", "status filter by hire date", "/employees?status=on_leave&sort=hire_date"},
		benchPage{"hireddept", "department by hire date", "/employees?department=" + dept + "&sort=hire_date"},
		benchPage{"auditdates", "audit log, a month", "/audit?from=2026-01-01&to=2026-01-31"},
		benchPage{"auditmany", "audit log, a prefix of many actors", "/audit?actor=g"},
		benchPage{"edit", "employee edit form", fmt.Sprintf("/employees/%d/edit", s.employee)},
		benchPage{"picker", "manager picker, a surname", "/employees/picker?field=manager_id&manager_id_q=garcia"},
		benchPage{"pickername", "manager picker, a name", "/employees/picker?field=manager_id&manager_id_q=zoe+wong"},
		benchPage{"pickershort", "employee picker, two letters", "/employees/picker?field=employee_id&employee_id_q=ch"},
		benchPage{"leave", "leave requests", "/leave"},
	)
	for _, p := range pages {
		t.Run(p.Key, func(t *testing.T) {
			stmts, _, err := app.load(p.Path)
			if err != nil {
				t.Fatal(err)
			}
			checked := 0
			for i, st := range stmts {
				if !worthExplaining(statementName(st.SQL)) {
					continue
				}
				checked++
				// Just vacuumed, and as a busy table is between vacuums:
				// the planner prices index-only scans by how much of the
				// table the visibility map says is all-visible.
				for _, stale := range []bool{false, true} {
					name := statementName(st.SQL)
					if stale {
						name += " (visibility map stale)"
					}
					plan, err := explain(ctx, conn, stmts, i, stale)
					if err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					w := planWork{}
					w.walk(plan.Plan)
					t.Logf("%-28s rows read %6d, sorted %5d, buffers %5d, %.2f ms", name, w.read, w.sorted, w.buffers, plan.Execution)
					failed := false
					for _, p := range w.problems {
						t.Errorf("%s: %s", name, p)
						failed = true
					}
					if w.read > maxRowsRead {
						t.Errorf("%s reads %d rows (at most %d)", name, w.read, maxRowsRead)
						failed = true
					}
					if w.sorted > maxRowsSorted {
						t.Errorf("%s sorts %d rows (at most %d)", name, w.sorted, maxRowsSorted)
						failed = true
					}
					if failed || os.Getenv("PLANS") == statementName(st.SQL) {
						b, _ := json.MarshalIndent(plan.Plan, "", " ")
						t.Logf("plan:\n%s", b)
					}
				}
			}
			if checked == 0 {
				t.Fatal("the page sent no statement with arguments: nothing was checked")
			}
		})
	}
}

// explained is EXPLAIN (ANALYZE, FORMAT JSON)'s answer.
type explained struct {
	Plan      planNode `json:"Plan"`
	Execution float64  `json:"Execution Time"`
}

type planNode struct {
	Type         string     `json:"Node Type"`
	Relation     string     `json:"Relation Name"`
	Rows         float64    `json:"Actual Rows"`
	Loops        float64    `json:"Actual Loops"`
	Removed      float64    `json:"Rows Removed by Filter"`
	Rechecked    float64    `json:"Rows Removed by Index Recheck"`
	HeapFetches  float64    `json:"Heap Fetches"`
	SharedHit    int64      `json:"Shared Hit Blocks"`
	SharedRead   int64      `json:"Shared Read Blocks"`
	ParentRelate string     `json:"Parent Relationship"`
	Plans        []planNode `json:"Plans"`
}

// explain runs stmts[i] under EXPLAIN ANALYZE as the app ran it (see
// explainAsRun: after the plan settings its batch sent before it, on a
// generic plan when the app's is one). It runs in a transaction that is
// rolled back, should it write. staleVisibility plans it as if no page of the growing tables were
// known all-visible (pg_class.relallvisible 0, undone by the rollback), as
// between two vacuums of a busy table.
func explain(ctx context.Context, conn *pgx.Conn, stmts []db.Statement, i int, staleVisibility bool) (explained, error) {
	var out explained
	tx, err := conn.Begin(ctx)
	if err != nil {
		return out, err
	}
	defer tx.Rollback(ctx)
	if staleVisibility {
		if _, err := tx.Exec(ctx, `UPDATE pg_class SET relallvisible = 0
			WHERE oid IN ('employees'::regclass, 'employee_words'::regclass, 'audit_log'::regclass)`); err != nil {
			return out, err
		}
	}
	lines, err := explainAsRun(ctx, tx, stmts, i, "ANALYZE, BUFFERS, FORMAT JSON")
	if err != nil {
		return out, err
	}
	raw := []byte(strings.Join(lines, ""))
	var res []explained
	if err := json.Unmarshal(raw, &res); err != nil || len(res) != 1 {
		return out, fmt.Errorf("explain output: %v", err)
	}
	return res[0], nil
}

// planWork adds up what a plan did.
type planWork struct {
	read, sorted, buffers int64
	problems              []string
}

func (w *planWork) walk(n planNode) {
	loops := max(n.Loops, 1)
	switch n.Type {
	case "Seq Scan", "Index Scan", "Index Only Scan", "Bitmap Heap Scan":
		w.read += int64((n.Rows + n.Removed + n.Rechecked) * loops)
		if n.Type == "Seq Scan" && scanRelations[n.Relation] {
			w.problems = append(w.problems, "reads "+n.Relation+" whole (Seq Scan)")
		}
		// A word's entries are read in the order they are stored, and the
		// reading stops at a page; a bitmap scan reads them all, then sorts.
		if n.Type == "Bitmap Heap Scan" && n.Relation == "employee_words" {
			w.problems = append(w.problems, "reads every entry of a word (Bitmap Heap Scan of employee_words)")
		}
	case "Sort":
		for _, c := range n.Plans {
			w.sorted += int64(c.Rows * max(c.Loops, 1))
		}
	}
	if n.ParentRelate == "" { // the top node carries the statement's buffers
		w.buffers = n.SharedHit + n.SharedRead
	}
	for _, c := range n.Plans {
		w.walk(c)
	}
}

// createAdmin adds an administrator with password.
func createAdmin(ctx context.Context, d *db.DB, email, password string) error {
	hash, err := account.HashPassword(password)
	if err != nil {
		return err
	}
	return d.InTx(ctx, func(ctx context.Context, q *db.Queries) error {
		_, err := q.CreateUser(ctx, db.CreateUserParams{Email: email, Name: "Bench Admin", PasswordHash: hash, Role: "admin"})
		if err != nil && strings.Contains(err.Error(), "users_email_key") {
			return nil
		}
		return err
	})
}

// TestPageScripts is make bench's own check, run in make test: for every
// page, the pgbench script built from the page's recorded statements runs
// without error, and pg_stat_statements counts the same statements, as
// often, for the script as for real loads of the page.
func TestPageScripts(t *testing.T) {
	app, s := tracedScale(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, scale.url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	pgbench := filepath.Join(scale.srv.BinDir(), "pgbench")
	if _, err := os.Stat(pgbench); err != nil {
		if pgbench, err = exec.LookPath("pgbench"); err != nil {
			t.Fatal("pgbench not found: install postgresql-contrib")
		}
	}
	dir := t.TempDir()
	const loads = 5
	for _, p := range benchPages(s) {
		t.Run(p.Key, func(t *testing.T) {
			if _, _, err := app.load(p.Path); err != nil { // settle the session
				t.Fatal(err)
			}
			stmts, _, err := app.load(p.Path)
			if err != nil {
				t.Fatal(err)
			}
			ps, err := buildScript(ctx, conn, stmts)
			if err != nil {
				t.Fatal(err)
			}
			reset := func() {
				if _, err := conn.Exec(ctx, "SELECT pg_stat_statements_reset()"); err != nil {
					t.Fatal(err)
				}
			}
			reset()
			for range loads {
				if _, _, err := app.load(p.Path); err != nil {
					t.Fatal(err)
				}
			}
			got, err := statementCounts(ctx, conn, loads)
			if err != nil {
				t.Fatal(err)
			}
			if err := compareStatements(ps.Names, got, loads); err != nil {
				t.Errorf("the page's loads: %v", err)
			}
			reset()
			if err := runPgbenchCount(ctx, pgbench, dir, p.Key, ps, scale.url, loads); err != nil {
				t.Fatal(err)
			}
			got, err = statementCounts(ctx, conn, loads)
			if err != nil {
				t.Fatal(err)
			}
			if err := compareStatements(ps.Names, got, loads); err != nil {
				t.Errorf("the pgbench script: %v\n%s", err, ps.Script)
			}
		})
	}
}
