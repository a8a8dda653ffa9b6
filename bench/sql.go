package main

import (
	"context"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// The pgbench side of the comparison: the SQL of a page load, taken from
// the sqlc output (db/*.sql.go) by query name, so the script cannot drift
// from what the app sends; and a check against pg_stat_statements that the
// declared statements are exactly those the page sends.

// sqlcQuery is one generated query: its SQL and the Go expressions passed
// for $1, $2, ... with their types.
type sqlcQuery struct {
	Name   string
	SQL    string
	Params []sqlcParam
}

type sqlcParam struct {
	Name   string // Params field or method parameter
	GoType string // string, int64, *int64, ...
}

var nameHeader = regexp.MustCompile(`^-- name: (\w+) :\w+`)

// loadQueries reads every sqlc query of the package in dir.
func loadQueries(dir string) (map[string]sqlcQuery, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.sql.go"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("no sqlc output in %s (run from the repository root)", dir)
	}
	fset := token.NewFileSet()
	consts := map[string]string{}       // Go constant -> SQL
	structs := map[string][]sqlcParam{} // XParams -> fields
	var funcs []*ast.FuncDecl
	for _, f := range files {
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			return nil, err
		}
		for _, decl := range file.Decls {
			switch d := decl.(type) {
			case *ast.GenDecl:
				for _, spec := range d.Specs {
					switch s := spec.(type) {
					case *ast.ValueSpec:
						if d.Tok != token.CONST || len(s.Values) != 1 {
							continue
						}
						lit, ok := s.Values[0].(*ast.BasicLit)
						if !ok || lit.Kind != token.STRING {
							continue
						}
						v, err := strconv.Unquote(lit.Value)
						if err == nil {
							consts[s.Names[0].Name] = v
						}
					case *ast.TypeSpec:
						st, ok := s.Type.(*ast.StructType)
						if !ok {
							continue
						}
						var fields []sqlcParam
						for _, fl := range st.Fields.List {
							for _, n := range fl.Names {
								fields = append(fields, sqlcParam{Name: n.Name, GoType: types.ExprString(fl.Type)})
							}
						}
						structs[s.Name.Name] = fields
					}
				}
			case *ast.FuncDecl:
				if d.Recv != nil && d.Body != nil {
					funcs = append(funcs, d)
				}
			}
		}
	}
	out := map[string]sqlcQuery{}
	for _, fn := range funcs {
		// Parameter name -> type, and for a struct argument its fields.
		ptypes := map[string]string{}
		for _, p := range fn.Type.Params.List {
			for _, n := range p.Names {
				ptypes[n.Name] = types.ExprString(p.Type)
			}
		}
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) < 2 {
				return true
			}
			id, ok := call.Args[1].(*ast.Ident)
			if !ok {
				return true
			}
			sql, ok := consts[id.Name]
			if !ok {
				return true
			}
			m := nameHeader.FindStringSubmatch(sql)
			if m == nil || m[1] != fn.Name.Name {
				return true
			}
			q := sqlcQuery{Name: m[1], SQL: sql}
			for _, a := range call.Args[2:] {
				switch e := a.(type) {
				case *ast.SelectorExpr: // arg.Field
					base, _ := e.X.(*ast.Ident)
					typ := ""
					if base != nil {
						for _, f := range structs[ptypes[base.Name]] {
							if f.Name == e.Sel.Name {
								typ = f.GoType
							}
						}
					}
					q.Params = append(q.Params, sqlcParam{Name: e.Sel.Name, GoType: typ})
				case *ast.Ident: // a plain parameter
					q.Params = append(q.Params, sqlcParam{Name: e.Name, GoType: ptypes[e.Name]})
				default:
					q.Params = append(q.Params, sqlcParam{Name: types.ExprString(a)})
				}
			}
			out[q.Name] = q
			return false
		})
	}
	return out, nil
}

// stmt is one statement of a page load: a sqlc query with its arguments by
// parameter name, raw SQL the page sends outside sqlc (BEGIN, COMMIT), or a
// pipeline of statements sent in one round trip (a pgx.Batch).
type stmt struct {
	Query    string
	Args     map[string]any
	Raw      string
	Pipeline []stmt
}

// pageScript is a page's statements as a pgbench script plus the -D
// variable definitions it needs.
type pageScript struct {
	Script string
	Defs   []string // name=value for pgbench -D
	// Names is the expected statement sequence, for pg_stat_statements.
	Names []string
}

var placeholder = regexp.MustCompile(`\$(\d+)`)

// buildScript turns stmts into a pgbench script. Parameters become pgbench
// variables (:s2p1 is $1 of the second statement): integers set with \set,
// strings defined with -D. pgbench cannot send NULL or an empty string as a
// parameter, so those are written as typed literals; the list queries are
// planned for their actual values anyway (force_custom_plan), so the plan
// is the same.
func buildScript(qs map[string]sqlcQuery, stmts []stmt) (pageScript, error) {
	var ps pageScript
	var sets, body []string
	n := 0
	var add func(s stmt) error
	add = func(s stmt) error {
		switch {
		case s.Pipeline != nil:
			body = append(body, `\startpipeline`)
			for _, p := range s.Pipeline {
				if err := add(p); err != nil {
					return err
				}
			}
			body = append(body, `\endpipeline`)
			return nil
		case s.Raw != "":
			body = append(body, s.Raw+";")
			ps.Names = append(ps.Names, strings.ToLower(s.Raw))
			return nil
		}
		q, ok := qs[s.Query]
		if !ok {
			return fmt.Errorf("no sqlc query named %s in db/*.sql.go", s.Query)
		}
		n++
		used := map[string]bool{}    // parameters given a value
		defined := map[string]bool{} // pgbench variables written
		var ferr error
		sql := placeholder.ReplaceAllStringFunc(q.SQL, func(m string) string {
			i, _ := strconv.Atoi(m[1:])
			if i < 1 || i > len(q.Params) {
				ferr = fmt.Errorf("%s: $%d has no argument", q.Name, i)
				return m
			}
			p := q.Params[i-1]
			v, ok := s.Args[p.Name]
			if !ok {
				ferr = fmt.Errorf("%s: no value for parameter %s ($%d)", q.Name, p.Name, i)
				return m
			}
			used[p.Name] = true
			name := fmt.Sprintf("s%dp%d", n, i)
			switch v := v.(type) {
			case nil:
				t, err := pgType(p.GoType)
				if err != nil {
					ferr = fmt.Errorf("%s.%s: %w", q.Name, p.Name, err)
				}
				return "NULL::" + t
			case string:
				if v == "" {
					return "''::text"
				}
				if !defined[name] {
					ps.Defs = append(ps.Defs, name+"="+v)
					defined[name] = true
				}
				return ":" + name
			case int, int32, int64:
				if !defined[name] {
					sets = append(sets, fmt.Sprintf(`\set %s %d`, name, v))
					defined[name] = true
				}
				return ":" + name
			default:
				ferr = fmt.Errorf("%s.%s: unsupported value %T", q.Name, p.Name, v)
				return m
			}
		})
		if ferr != nil {
			return ferr
		}
		for k := range s.Args {
			if !used[k] {
				return fmt.Errorf("%s: no parameter named %s", q.Name, k)
			}
		}
		body = append(body, strings.TrimRight(strings.TrimSpace(sql), ";")+";")
		ps.Names = append(ps.Names, q.Name)
		return nil
	}
	for _, s := range stmts {
		if err := add(s); err != nil {
			return ps, err
		}
	}
	ps.Script = strings.Join(append(sets, body...), "\n") + "\n"
	return ps, nil
}

func pgType(goType string) (string, error) {
	switch strings.TrimPrefix(goType, "*") {
	case "int64":
		return "bigint", nil
	case "int32":
		return "integer", nil
	case "string":
		return "text", nil
	case "bool":
		return "boolean", nil
	}
	return "", fmt.Errorf("cannot write a NULL of Go type %q", goType)
}

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
		if m := regexp.MustCompile(`-- name: (\w+)`).FindStringSubmatch(q); m != nil {
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
		return fmt.Errorf("the pgbench script does not match what the page sends (pg_stat_statements over %d loads):\n  %s\nupdate the statement list in bench/pages.go",
			loads, strings.Join(diffs, "\n  "))
	}
	return nil
}

// statementList is a readable one-line summary of stmts.
func statementList(stmts []stmt) string {
	var parts []string
	for _, s := range stmts {
		switch {
		case s.Pipeline != nil:
			parts = append(parts, "["+statementList(s.Pipeline)+"]")
		case s.Raw != "":
			parts = append(parts, s.Raw)
		default:
			parts = append(parts, s.Query)
		}
	}
	return strings.Join(parts, ", ")
}

// roundTrips counts the round trips stmts take: one per statement, one per
// pipeline.
func roundTrips(stmts []stmt) int {
	return len(stmts)
}

// statementCount counts statements, pipelines opened up.
func statementCount(stmts []stmt) int {
	n := 0
	for _, s := range stmts {
		if s.Pipeline != nil {
			n += statementCount(s.Pipeline)
		} else {
			n++
		}
	}
	return n
}
