package pages_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"hris/views/components"
	"hris/views/layouts"
	"hris/views/pages"
	"hris/views/partials"
)

// BenchmarkEmployeeListRender renders the employee list page with a full
// page of 50 rows into a reused buffer, as web's render does.
func BenchmarkEmployeeListRender(b *testing.B) {
	statuses := []string{"active", "active", "active", "on_leave", "terminated"}
	res := partials.EmployeeResults{Total: 10000, NextURL: "/employees?after=eyJzIjoibmFtZSJ9", ExportURL: "/employees.csv"}
	for i := range 50 {
		res.Rows = append(res.Rows, partials.EmployeeRow{
			ID: int64(i + 1), Name: fmt.Sprintf("Employee%d O'Brien", i), Email: fmt.Sprintf("employee%d@example.com", i),
			JobTitle: "Engineer", Department: "Customer Support", HireDate: time.Date(2020, 1, 1+i, 0, 0, 0, 0, time.UTC),
			Status: statuses[i%len(statuses)],
		})
	}
	view := pages.EmployeeListView{Sort: "name", Results: res, Departments: []components.Option{{Value: "", Label: "All departments"}}}
	for i := range 10 {
		view.Departments = append(view.Departments, components.Option{Value: fmt.Sprint(i + 1), Label: fmt.Sprintf("Department %d", i+1)})
	}
	page := layouts.Page{Title: "Employees", Nav: "employees", User: &layouts.User{ID: 1, Name: "Bench Admin", Email: "bench@example.com", Role: "admin"}}
	ctx := context.Background()
	var buf bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		if err := pages.EmployeeList(page, view).Render(ctx, &buf); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(buf.Len()))
}
