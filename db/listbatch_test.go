package db_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"hris/db"
	"hris/db/dbtest"
)

// execModes are the pgx modes hris runs in: cache_statement directly,
// exec or simple_protocol behind PgBouncer.
var execModes = []string{"cache_statement", "cache_describe", "exec", "simple_protocol"}

// The batch's plan setting, custom or generic, holds for its own statements
// and ends with it: the rest of the session keeps the plan cache's own
// choice. In every exec mode.
func TestListBatchPlansForValuesOnlyInside(t *testing.T) {
	for _, mode := range execModes {
		t.Run(mode, func(t *testing.T) { testListBatchPlansForValuesOnlyInside(t, mode) })
	}
}

func testListBatchPlansForValuesOnlyInside(t *testing.T, mode string) {
	ctx := context.Background()
	cfg := dbtest.Config(t)
	cfg.ExecMode = mode
	d := dbtest.OpenConfig(t, cfg)
	c, err := d.Pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Release()
	q := db.New(c)
	for i := range 4 { // the second time with the statements prepared
		plans := []db.Plans{db.CustomPlans, db.GenericPlans}[i/2]
		lb := db.NewListBatch(plans)
		var inside string
		var total int64
		lb.Queue(func(q *db.Queries) (err error) {
			total, err = q.CountEmployees(ctx, db.CountEmployeesParams{})
			return err
		})
		lb.QueueSetting("plan_cache_mode", &inside)
		if err := q.SendListBatch(ctx, lb); err != nil {
			t.Fatal(err)
		}
		if total != 0 {
			t.Fatalf("CountEmployees in a fresh database = %d", total)
		}
		if inside != string(plans) {
			t.Fatalf("plan_cache_mode inside the batch = %q, want %s", inside, plans)
		}
		var after string
		if err := c.QueryRow(ctx, "SELECT current_setting('plan_cache_mode')").Scan(&after); err != nil {
			t.Fatal(err)
		}
		if after != "auto" {
			t.Fatalf("plan_cache_mode after the batch = %q, want auto (the setting leaked)", after)
		}
	}
}

// The batch passes each query's arguments in the generated method's order
// and reads the same columns: for the same arguments it returns what the
// generated methods return. In every exec mode.
func TestListBatchMatchesQueries(t *testing.T) {
	for _, mode := range execModes {
		t.Run(mode, func(t *testing.T) { testListBatchMatchesQueries(t, mode) })
	}
}

func testListBatchMatchesQueries(t *testing.T, mode string) {
	ctx := context.Background()
	cfg := dbtest.Config(t)
	cfg.ExecMode = mode
	d := dbtest.OpenConfig(t, cfg)
	var depts []int64
	err := d.InTx(ctx, func(ctx context.Context, q *db.Queries) (err error) {
		if _, err = q.SeedDepartments(ctx, db.SeedDepartmentsParams{Names: []string{"Alpha", "Beta", "gamma"}, Descriptions: []string{"", "", ""}}); err != nil {
			return err
		}
		if depts, err = q.DepartmentIDs(ctx); err != nil {
			return err
		}
		var p db.SeedEmployeesParams
		statuses := []string{"active", "on_leave", "terminated"}
		for i := range 90 {
			p.FirstNames = append(p.FirstNames, fmt.Sprintf("First%02d", i%7))
			p.LastNames = append(p.LastNames, fmt.Sprintf("Last%02d", i%11))
			p.Emails = append(p.Emails, fmt.Sprintf("e%d@example.com", i))
			p.JobTitles = append(p.JobTitles, "Engineer")
			p.DepartmentIds = append(p.DepartmentIds, depts[i%len(depts)])
			p.HireDates = append(p.HireDates, time.Date(2020, 1, 1+i%13, 0, 0, 0, 0, time.UTC))
			p.Statuses = append(p.Statuses, statuses[i%3])
		}
		_, err = q.SeedEmployees(ctx, p)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	dept := depts[1]
	type filter struct {
		word, status string
		dept         *int64
	}
	filters := []filter{{}, {word: "last0"}, {word: "first03", status: "active"}, {dept: &dept}, {word: "e1", dept: &dept, status: "on_leave"}}
	err = d.Read(ctx, func(ctx context.Context, q *db.Queries) error {
		for _, f := range filters {
			for _, after := range []struct {
				last, first string
				hired       time.Time
				id          int64
			}{{"", "", time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), 0}, {"Last03", "First02", time.Date(2020, 1, 5, 0, 0, 0, 0, time.UTC), 20}} {
				cp := db.CountEmployeesParams{DepartmentID: f.dept, Status: f.status}
				cw := db.CountWordMatchesParams{Word: f.word, UpTo: 5, MaxWords: 3}
				byName := db.ListEmployeesByNameParams{AfterLastName: after.last, AfterFirstName: after.first, AfterID: after.id,
					DepartmentID: f.dept, Status: f.status, PageSize: 7}
				byDate := db.ListEmployeesByHireDateParams{AfterHireDate: after.hired, AfterID: after.id,
					DepartmentID: f.dept, Status: f.status, PageSize: 7}
				filtered := f.dept != nil || f.status != ""
				searchName := db.SearchEmployeesByNameParams{Word: f.word, MaxWords: 3, AfterLastName: after.last,
					AfterFirstName: after.first, AfterID: after.id, Filtered: filtered, Phrase: f.word, DepartmentID: f.dept, Status: f.status, PageSize: 7}
				searchDate := db.SearchEmployeesByHireDateParams{Word: f.word, AfterHireDate: after.hired,
					AfterID: after.id, Filtered: filtered, Phrase: f.word, DepartmentID: f.dept, Status: f.status, PageSize: 7}
				walkName := db.WalkSearchByNameParams{AfterLastName: after.last, AfterFirstName: after.first, AfterID: after.id,
					Word: f.word, Phrase: f.word, DepartmentID: f.dept, Status: f.status, PageSize: 7}

				lb := db.NewListBatch(db.CustomPlans)
				var total int64
				var words db.CountWordMatchesRow
				var gotName []db.ListEmployeesByNameRow
				var gotDate []db.ListEmployeesByHireDateRow
				var gotSearchName []db.SearchEmployeesByNameRow
				var gotSearchDate []db.SearchEmployeesByHireDateRow
				var gotWalkName []db.WalkSearchByNameRow
				var gotDepts []db.DepartmentOptionsRow
				lb.Queue(func(q *db.Queries) (err error) { total, err = q.CountEmployees(ctx, cp); return err })
				lb.Queue(func(q *db.Queries) (err error) { words, err = q.CountWordMatches(ctx, cw); return err })
				lb.Queue(func(q *db.Queries) (err error) { gotName, err = q.ListEmployeesByName(ctx, byName); return err })
				lb.Queue(func(q *db.Queries) (err error) { gotDate, err = q.ListEmployeesByHireDate(ctx, byDate); return err })
				lb.Queue(func(q *db.Queries) (err error) {
					gotSearchName, err = q.SearchEmployeesByName(ctx, searchName)
					return err
				})
				lb.Queue(func(q *db.Queries) (err error) {
					gotSearchDate, err = q.SearchEmployeesByHireDate(ctx, searchDate)
					return err
				})
				lb.Queue(func(q *db.Queries) (err error) { gotWalkName, err = q.WalkSearchByName(ctx, walkName); return err })
				lb.Queue(func(q *db.Queries) (err error) { gotDepts, err = q.DepartmentOptions(ctx); return err })
				if err := q.SendListBatch(ctx, lb); err != nil {
					return err
				}

				same := func(name string, got, want any, err error) {
					t.Helper()
					if err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					if !reflect.DeepEqual(got, want) {
						t.Errorf("%+v after %d: %s from the batch = %v, want %v", f, after.id, name, got, want)
					}
				}
				wantTotal, err := q.CountEmployees(ctx, cp)
				same("CountEmployees", total, wantTotal, err)
				wantWords, err := q.CountWordMatches(ctx, cw)
				same("CountWordMatches", words, wantWords, err)
				wantName, err := q.ListEmployeesByName(ctx, byName)
				same("ListEmployeesByName", gotName, wantName, err)
				if after.id == 0 && total > 0 && len(wantName) == 0 {
					t.Errorf("%+v: no first page", f)
				}
				wantDate, err := q.ListEmployeesByHireDate(ctx, byDate)
				same("ListEmployeesByHireDate", gotDate, wantDate, err)
				wantSearchName, err := q.SearchEmployeesByName(ctx, searchName)
				same("SearchEmployeesByName", gotSearchName, wantSearchName, err)
				wantSearchDate, err := q.SearchEmployeesByHireDate(ctx, searchDate)
				same("SearchEmployeesByHireDate", gotSearchDate, wantSearchDate, err)
				wantWalkName, err := q.WalkSearchByName(ctx, walkName)
				same("WalkSearchByName", gotWalkName, wantWalkName, err)
				wantDepts, err := q.DepartmentOptions(ctx)
				same("DepartmentOptions", gotDepts, wantDepts, err)
				if f.word != "" && after.id == 0 && len(wantSearchName) == 0 {
					t.Errorf("%+v: the search finds nobody; the test proves nothing", f)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
