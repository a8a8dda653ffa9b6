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

// The batch's plan setting holds for its own statements and ends with it:
// the rest of the session keeps generic plans. In every exec mode.
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
	for range 2 { // the second time with the statements prepared
		lb := db.NewListBatch()
		var inside string
		var total int64
		lb.CountEmployees(db.CountEmployeesParams{}, &total)
		lb.QueueSetting("plan_cache_mode", &inside)
		if err := q.SendListBatch(ctx, lb); err != nil {
			t.Fatal(err)
		}
		if inside != "force_custom_plan" {
			t.Fatalf("plan_cache_mode inside the batch = %q, want force_custom_plan", inside)
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
		search, status string
		dept           *int64
	}
	filters := []filter{{}, {search: "last0"}, {search: "first03", status: "active"}, {dept: &dept}, {search: "e1", dept: &dept, status: "on_leave"}}
	err = d.Read(ctx, func(ctx context.Context, q *db.Queries) error {
		for _, f := range filters {
			for _, after := range []struct {
				last, first string
				hired       time.Time
				id          int64
			}{{"", "", time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), 0}, {"Last03", "First02", time.Date(2020, 1, 5, 0, 0, 0, 0, time.UTC), 20}} {
				cp := db.CountEmployeesParams{Search: f.search, DepartmentID: f.dept, Status: f.status}
				byName := db.ListEmployeesByNameParams{AfterLastName: after.last, AfterFirstName: after.first, AfterID: after.id,
					Search: f.search, DepartmentID: f.dept, Status: f.status, PageSize: 7}
				byDate := db.ListEmployeesByHireDateParams{AfterHireDate: after.hired, AfterID: after.id,
					Search: f.search, DepartmentID: f.dept, Status: f.status, PageSize: 7}
				searchName := db.SearchEmployeesByNameParams{AfterLastName: after.last, AfterFirstName: after.first, AfterID: after.id,
					Search: f.search, DepartmentID: f.dept, Status: f.status, PageSize: 7}
				searchDate := db.SearchEmployeesByHireDateParams{AfterHireDate: after.hired, AfterID: after.id,
					Search: f.search, DepartmentID: f.dept, Status: f.status, PageSize: 7}

				lb := db.NewListBatch()
				var total int64
				var gotName, gotDate, gotSearchName, gotSearchDate []db.ListEmployeesByNameRow
				var gotDepts []db.DepartmentOptionsRow
				lb.CountEmployees(cp, &total)
				lb.ListEmployeesByName(byName, &gotName)
				lb.ListEmployeesByHireDate(byDate, &gotDate)
				lb.SearchEmployeesByName(searchName, &gotSearchName)
				lb.SearchEmployeesByHireDate(searchDate, &gotSearchDate)
				lb.DepartmentOptions(&gotDepts)
				if err := q.SendListBatch(ctx, lb); err != nil {
					return err
				}

				wantTotal, err := q.CountEmployees(ctx, cp)
				if err != nil {
					return err
				}
				wantName, err := q.ListEmployeesByName(ctx, byName)
				if err != nil {
					return err
				}
				wantDate := conv(q.ListEmployeesByHireDate(ctx, byDate))
				wantSearchName := conv(q.SearchEmployeesByName(ctx, searchName))
				wantSearchDate := conv(q.SearchEmployeesByHireDate(ctx, searchDate))
				wantDepts, err := q.DepartmentOptions(ctx)
				if err != nil {
					return err
				}
				if total != wantTotal {
					t.Errorf("%+v: count %d, want %d", f, total, wantTotal)
				}
				for name, pair := range map[string][2][]db.ListEmployeesByNameRow{
					"ListEmployeesByName": {gotName, wantName}, "ListEmployeesByHireDate": {gotDate, wantDate},
					"SearchEmployeesByName": {gotSearchName, wantSearchName}, "SearchEmployeesByHireDate": {gotSearchDate, wantSearchDate},
				} {
					if f.search == "" && name[:6] == "Search" {
						continue // the search queries need a search
					}
					if !reflect.DeepEqual(pair[0], pair[1]) || (len(pair[1]) == 0 && total > 0 && after.id == 0) {
						t.Errorf("%+v after %d: %s from the batch = %v, want %v", f, after.id, name, pair[0], pair[1])
					}
				}
				if !reflect.DeepEqual(gotDepts, wantDepts) {
					t.Errorf("DepartmentOptions from the batch = %v, want %v", gotDepts, wantDepts)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// conv turns any list query's rows into the one row type the batch uses.
func conv[R ~struct {
	ID             int64
	FirstName      string
	LastName       string
	Email          string
	JobTitle       string
	HireDate       time.Time
	Status         string
	DepartmentID   *int64
	DepartmentName string
}](rows []R, err error) []db.ListEmployeesByNameRow {
	if err != nil {
		panic(err)
	}
	out := []db.ListEmployeesByNameRow{}
	for _, r := range rows {
		out = append(out, db.ListEmployeesByNameRow(r))
	}
	return out
}
