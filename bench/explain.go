// -explain: the plan of every statement of every page, as the app runs it.

package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/jackc/pgx/v5"

	"hris/db"
)

// explainPages prints the plan of every statement every page sends, run
// as the page runs it (see explainText).
func (sr *sizeRun) explainPages(ctx context.Context, w io.Writer) error {
	conn, err := connectAsApp(ctx, sr.dbURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	s, err := findSample(ctx, conn)
	if err != nil {
		return err
	}
	traced, err := startTraced(ctx, sr.dbURL)
	if err != nil {
		return err
	}
	defer traced.Close()
	if err := traced.login(adminEmail, adminPassword); err != nil {
		return err
	}
	for _, p := range benchPages(s) {
		if !sr.b.o.want(p.Key) {
			continue
		}
		stmts, _, err := traced.steadyLoad(p.Path)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "\n## %s at %d employees: GET %s\n", p.Name, sr.n, p.Path)
		for i, st := range stmts {
			name := statementName(st.SQL)
			if !worthExplaining(name) {
				continue
			}
			plan, err := explainText(ctx, conn, stmts, i)
			if err != nil {
				return fmt.Errorf("%s %s: %w", p.Key, name, err)
			}
			fmt.Fprintf(w, "\n### %s\n%s", name, plan)
		}
	}
	return nil
}

// connectAsApp connects with the session settings of the app's pool (no
// JIT, its timeouts), so that plans and timings are the app's.
func connectAsApp(ctx context.Context, url string) (*pgx.Conn, error) {
	cfg := db.DefaultConfig()
	cfg.URL = url
	pc, err := db.PoolConfig(cfg)
	if err != nil {
		return nil, err
	}
	return pgx.ConnectConfig(ctx, pc.ConnConfig)
}

// explainText is EXPLAIN (ANALYZE, BUFFERS) of stmts[i] as the app ran it
// (see explainAsRun), in a transaction that is rolled back.
func explainText(ctx context.Context, conn *pgx.Conn, stmts []db.Statement, i int) (string, error) {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return "", err
	}
	defer tx.Rollback(ctx)
	lines, err := explainAsRun(ctx, tx, stmts, i, "ANALYZE, BUFFERS")
	if err != nil {
		return "", err
	}
	return strings.Join(lines, "\n") + "\n", nil
}

// explainAsRun runs EXPLAIN (options) of stmts[i] in tx as the app ran it:
// after the plan settings its batch sent before it, and on the same kind
// of plan. EXPLAIN of a statement given its values plans for those values,
// so a statement the app runs on a generic plan (db.GenericPlans) is
// prepared and explained as EXECUTE, which shows the plan made for any
// values, the one the app uses.
func explainAsRun(ctx context.Context, tx pgx.Tx, stmts []db.Statement, i int, options string) ([]string, error) {
	if err := replaySettings(ctx, tx, stmts, i); err != nil {
		return nil, err
	}
	st := stmts[i]
	var mode string
	if err := tx.QueryRow(ctx, "SELECT current_setting('plan_cache_mode')").Scan(&mode); err != nil {
		return nil, err
	}
	sql := "EXPLAIN (" + options + ") " + st.SQL
	if mode == string(db.GenericPlans) && len(st.Args) > 0 {
		const name = "hris_explained"
		sd, err := tx.Prepare(ctx, name, st.SQL)
		if err != nil {
			return nil, err
		}
		defer tx.Conn().Deallocate(context.Background(), name)
		var types []string
		if err := tx.QueryRow(ctx, `SELECT array_agg(format_type(o, NULL) ORDER BY n)
			FROM unnest($1::oid[]) WITH ORDINALITY AS p(o, n)`, sd.ParamOIDs).Scan(&types); err != nil {
			return nil, err
		}
		params := make([]string, len(types))
		for i, t := range types {
			params[i] = fmt.Sprintf("$%d::%s", i+1, t)
		}
		// The values go in as literals: PostgreSQL takes no parameters
		// for the utility statement EXPLAIN EXECUTE.
		sql := "EXPLAIN (" + options + ") EXECUTE " + name + "(" + strings.Join(params, ", ") + ")"
		rows, err := tx.Query(ctx, sql, append([]any{pgx.QueryExecModeSimpleProtocol}, st.Args...)...)
		if err != nil {
			return nil, err
		}
		return pgx.CollectRows(rows, pgx.RowTo[string])
	}
	rows, err := tx.Query(ctx, sql, st.Args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// planSettings are the statements a batch sends to set how the rest of it
// is planned (local to its transaction).
var planSettings = map[string]bool{"UsePlans": true, "WalkInOrder": true, "MergeInOrder": true}

// worthExplaining tells the statements that read or write the page's data
// from transaction control and plan settings.
func worthExplaining(name string) bool {
	return name != "begin" && name != "commit" && !planSettings[name]
}

// replaySettings runs, in tx, the plan settings sent before stmts[i] in
// the same batch.
func replaySettings(ctx context.Context, tx pgx.Tx, stmts []db.Statement, i int) error {
	if stmts[i].Batch == 0 {
		return nil
	}
	for _, s := range stmts[:i] {
		if s.Batch == stmts[i].Batch && planSettings[statementName(s.SQL)] {
			if _, err := tx.Exec(ctx, s.SQL, s.Args...); err != nil {
				return err
			}
		}
	}
	return nil
}
