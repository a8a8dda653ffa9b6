package main

// pageParams are the values a list page load sends to the database.
type pageParams struct {
	Token  string // the session's token as stored (the hash of the cookie)
	UserID int64
	Search string // q, already LIKE-escaped
}

// listPageStatements is what one GET /employees (or ?q=Search) sends to
// PostgreSQL for a logged-in user, in order: the session, the user, then
// the list (see web/middleware.go and web/employees.go). It must follow the
// app's data path; the bench checks it against pg_stat_statements before
// running pgbench, and stops when they differ.
func listPageStatements(p pageParams) []stmt {
	list := stmt{Query: "ListEmployeesByName"}
	if p.Search != "" {
		// A search with up to searchSortAllMax matches sorts them all.
		list.Query = "SearchEmployeesByName"
	}
	list.Args = map[string]any{
		"AfterLastName": "", "AfterFirstName": "", "AfterID": 0,
		"Search": p.Search, "DepartmentID": nil, "Status": "", "PageSize": 51,
	}
	return []stmt{
		{Query: "FindSession", Args: map[string]any{"token": p.Token}},
		{Query: "SessionUser", Args: map[string]any{"id": p.UserID}},
		{Raw: "BEGIN"},
		{Query: "UseCustomPlans"},
		{Query: "CountEmployees", Args: map[string]any{"Search": p.Search, "DepartmentID": nil, "Status": ""}},
		list,
		{Query: "DepartmentOptions"},
		{Raw: "COMMIT"},
	}
}
