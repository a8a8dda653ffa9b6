package main

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"
)

// The check that a page's pgbench script sends what the page sends: both
// are counted by pg_stat_statements, by statement.

// statementCounts reads pg_stat_statements: statement name (the sqlc name,
// or the text of other statements) -> calls, for statements called at
// least min times.
func statementCounts(ctx context.Context, conn *pgx.Conn, min int64) (map[string]int64, error) {
	rows, err := conn.Query(ctx, `SELECT query, calls FROM pg_stat_statements
		WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND calls >= $1`, min)
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for rows.Next() {
		var q string
		var calls int64
		if err := rows.Scan(&q, &calls); err != nil {
			return nil, err
		}
		name := strings.ToLower(strings.TrimRight(strings.TrimSpace(q), ";"))
		if m := queryName.FindStringSubmatch(q); m != nil {
			name = m[1]
		}
		out[name] += calls
	}
	return out, rows.Err()
}

// compareStatements checks that loads page loads sent exactly the expected
// statements (by name and count per load).
func compareStatements(expected []string, got map[string]int64, loads int64) error {
	want := map[string]int64{}
	for _, n := range expected {
		want[n] += loads
	}
	var diffs []string
	keys := map[string]bool{}
	for k := range want {
		keys[k] = true
	}
	for k := range got {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	for _, k := range sorted {
		if want[k] != got[k] {
			diffs = append(diffs, fmt.Sprintf("%s: expected %.2f per page, the app sent %.2f", k,
				float64(want[k])/float64(loads), float64(got[k])/float64(loads)))
		}
	}
	if len(diffs) > 0 {
		return fmt.Errorf("the pgbench script (traced from the page in-process) does not match what hris serve sends (pg_stat_statements over %d loads):\n  %s",
			loads, strings.Join(diffs, "\n  "))
	}
	return nil
}
