package main

// pageParams are the values a list page load sends to the database.
type pageParams struct {
	Token  string // the session's token as stored (the hash of the cookie)
	Search string // q, already LIKE-escaped
}

// listPageStatements is what one GET /employees (or ?q=Search) sends to
// PostgreSQL for a logged-in user, in order: the session and its user, then
// the list (see web/middleware.go and web/employees.go). It must follow the
// app's data path; the bench checks it against pg_stat_statements before
// running pgbench, and stops when they differ.
func listPageStatements(p pageParams) []stmt {
	count := stmt{Query: "CountEmployees", Args: map[string]any{"Search": p.Search, "DepartmentID": nil, "Status": ""}}
	page := map[string]any{
		"AfterLastName": "", "AfterFirstName": "", "AfterID": 0,
		"Search": p.Search, "DepartmentID": nil, "Status": "", "PageSize": 51,
	}
	// The session with its user, in one query (db/sessions.go).
	session := []stmt{{Query: "FindSession", Args: map[string]any{"token": p.Token}}}
	if p.Search == "" {
		// One db.ListBatch: the total, the page, the departments.
		return append(session, stmt{Pipeline: []stmt{
			{Query: "UseCustomPlans"}, count,
			{Query: "ListEmployeesByName", Args: page},
			{Query: "DepartmentOptions"},
		}})
	}
	// A search's total picks the page's query (up to searchSortAllMax
	// matches: sort them all), so the page follows in a second batch.
	return append(session,
		stmt{Pipeline: []stmt{{Query: "UseCustomPlans"}, count, {Query: "DepartmentOptions"}}},
		stmt{Pipeline: []stmt{{Query: "UseCustomPlans"}, {Query: "SearchEmployeesByName", Args: page}}},
	)
}
