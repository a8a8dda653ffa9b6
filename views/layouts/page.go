// Package layouts holds the page shell every page renders into and the
// view model it needs.
package layouts

// Page is what the shell needs to know about the request.
type Page struct {
	Title string
	User  *User
	Flash *Flash
	// Nav names the section to mark as current: employees, departments,
	// leave, users, audit or ops.
	Nav string
}

// User is the logged-in user as the navigation shows them.
type User struct {
	ID         int64
	Name       string
	Email      string
	Role       string
	Department string
}

// IsAdmin reports whether the user may see the admin sections.
func (u *User) IsAdmin() bool { return u != nil && u.Role == "admin" }

// Flash is a one-time message shown after an action.
type Flash struct {
	Kind    string // success, error or info
	Message string
}

type navItem struct {
	Key, Label, Href string
	AdminOnly        bool
}

var navItems = []navItem{
	{Key: "employees", Label: "Employees", Href: "/employees"},
	{Key: "departments", Label: "Departments", Href: "/departments"},
	{Key: "leave", Label: "Leave", Href: "/leave"},
	{Key: "users", Label: "Users", Href: "/users", AdminOnly: true},
	{Key: "audit", Label: "Audit log", Href: "/audit", AdminOnly: true},
	{Key: "ops", Label: "Ops", Href: "/ops", AdminOnly: true},
}
