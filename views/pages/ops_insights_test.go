package pages

import "testing"

func TestStatementParts(t *testing.T) {
	for _, c := range []struct{ in, name, sql string }{
		{"-- name: ListEmployees :many\nSELECT id FROM employees", "ListEmployees", "SELECT id FROM employees"},
		{"-- name: Heartbeat :exec INSERT INTO app_instances", "Heartbeat", "INSERT INTO app_instances"},
		{"SELECT pg_sleep($1)", "", "SELECT pg_sleep($1)"},
		{"-- other comment\nSELECT 1", "", "-- other comment\nSELECT 1"},
	} {
		name, sql := StatementParts(c.in)
		if name != c.name || sql != c.sql {
			t.Errorf("StatementParts(%q) = %q, %q; want %q, %q", c.in, name, sql, c.name, c.sql)
		}
	}
}
