package db

import "testing"

func TestScrubQuery(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		// Normalised texts pass unchanged.
		{"SELECT id, name FROM users WHERE lower(email) = lower($1) LIMIT $2", "SELECT id, name FROM users WHERE lower(email) = lower($1) LIMIT $2"},
		{"/* list */ WITH x AS (SELECT $1::int4) SELECT * FROM x", "/* list */ WITH x AS (SELECT $1::int4) SELECT * FROM x"},
		{"(SELECT 1)", "(SELECT ?)"},
		{`SELECT "col 1", t1.a2 FROM "Tab" t1`, `SELECT "col 1", t1.a2 FROM "Tab" t1`},
		// Literals left in a planned statement are masked.
		{"select * from users where email = 'ann@example.com' and id = 42", "select * from users where email = ? and id = ?"},
		{"UPDATE t SET note = E'it\\'s' , x = 1.5e-3, y = .5, z = 0x1F", "UPDATE t SET note = ? , x = ?, y = ?, z = ?"},
		{"SELECT 'it''s', $$secret$$, $tag$a $$ b$tag$, U&'d\\0061t'", "SELECT ?, ?, ?, ?"},
		{"INSERT INTO t VALUES (B'1010', X'ff', N'x')", "INSERT INTO t VALUES (?, ?, ?)"},
		{"SELECT a FROM t WHERE name='x' -- note 'kept'\n AND b = 2", "SELECT a FROM t WHERE name=? -- note 'kept'\n AND b = ?"},
		{"SELECT interval '1 day', now() - '2 hours'::interval", "SELECT interval ?, now() - ?::interval"},
		// Utility statements: their command words only.
		{"ALTER ROLE bob PASSWORD 'secret123'", "ALTER ROLE …"},
		{"set statement_timeout = '5s'", "SET …"},
		{"  BEGIN", "BEGIN"},
		{"COMMIT", "COMMIT"},
		{"copy employees from stdin", "COPY EMPLOYEES …"},
		{"-- leading\nCALL p(1, 'x')", "CALL …"},
		{"EXPLAIN ANALYZE SELECT * FROM t WHERE a = 'x'", "EXPLAIN ANALYZE …"},
		{"", "(statement text not shown)"},
	} {
		if got := ScrubQuery(c.in); got != c.want {
			t.Errorf("ScrubQuery(%q)\n got %q\nwant %q", c.in, got, c.want)
		}
	}
}
