package components

import "strings"

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
