package components

import (
	"context"
	"strings"

	"github.com/a-h/templ"
)

// EmployeeStatuses are the statuses an employee can have (the CHECK on
// employees.status), in the order forms offer them, with their words. The
// one list: forms, filters, badges and the checks of posted values use it.
var EmployeeStatuses = []Option{
	{Value: "active", Label: "Active"},
	{Value: "on_leave", Label: "On leave"},
	{Value: "terminated", Label: "Terminated"},
}

// IsEmployeeStatus reports whether s is one of EmployeeStatuses.
func IsEmployeeStatus(s string) bool {
	for _, o := range EmployeeStatuses {
		if o.Value == s {
			return true
		}
	}
	return false
}

// StatusLabel is an employee status in words ("On leave"); an unknown one
// as it is.
func StatusLabel(s string) string {
	for _, o := range EmployeeStatuses {
		if o.Value == s {
			return o.Label
		}
	}
	return s
}

// statusClass is the badge colour of a status, by meaning.
func statusClass(s string) string {
	switch s {
	case "active":
		return "badge ok"
	case "on_leave":
		return "badge warn"
	case "terminated":
		return "badge muted"
	}
	return "badge"
}

func statusWords(s string) string { return strings.ToLower(StatusLabel(s)) }

// StatusBadge shows an employee status in words, coloured by meaning. A
// list page shows fifty of them, and templ works out a class attribute
// anew on every call (7 % of the CPU of a search page), so the badges of
// the known statuses are rendered once.
func StatusBadge(status string) templ.Component {
	if c, ok := statusBadges[status]; ok {
		return c
	}
	return statusBadge(status)
}

var statusBadges = func() map[string]templ.Component {
	m := make(map[string]templ.Component, len(EmployeeStatuses))
	for _, o := range EmployeeStatuses {
		var b strings.Builder
		if err := statusBadge(o.Value).Render(context.Background(), &b); err != nil {
			panic(err) // rendering into memory cannot fail
		}
		m[o.Value] = templ.Raw(b.String())
	}
	return m
}()
