package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"hris/db"
	"hris/web"
)

// The pgbench side of the comparison is learned from the pages themselves:
// hris runs inside the bench with a statement recorder on its pool (a pgx
// tracer), each page is loaded once, and what it sent (SQL, arguments,
// round trips) becomes that page's pgbench script. Nothing is declared by
// hand, so a page that changes its queries changes its script with it; the
// bench then checks with pg_stat_statements that `hris serve` sends the
// same statements (TestPageScripts does the same in make test).

// tracedApp is hris in this process, every statement of its pool recorded.
type tracedApp struct {
	rec    *db.Recorder
	d      *db.DB
	srv    *httptest.Server
	client *http.Client
}

// startTraced serves dbURL with the app's default pool settings. The
// background loops (sampler, heartbeat) are not started: they would add
// statements that belong to no page.
func startTraced(ctx context.Context, dbURL string) (*tracedApp, error) {
	cfg := db.DefaultConfig()
	cfg.URL = dbURL
	rec := &db.Recorder{}
	cfg.Tracer = rec
	d, err := db.Open(ctx, cfg, nil)
	if err != nil {
		return nil, err
	}
	app := web.New(web.Config{SessionIdleTimeout: time.Hour, SessionLifetime: 24 * time.Hour,
		LongQueryThreshold: 5 * time.Second, InstanceID: "bench-trace"}, d, d, nil)
	jar, _ := cookiejar.New(nil)
	t := &tracedApp{rec: rec, d: d, srv: httptest.NewServer(app.Handler()), client: &http.Client{
		Jar: jar, Timeout: time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
	return t, nil
}

func (t *tracedApp) Close() {
	t.srv.Close()
	t.d.Close()
}

// login posts the login form as a browser would.
func (t *tracedApp) login(email, password string) error {
	req, _ := http.NewRequest(http.MethodPost, t.srv.URL+"/login",
		strings.NewReader(url.Values{"email": {email}, "password": {password}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := t.client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		return fmt.Errorf("login %s: status %d", email, resp.StatusCode)
	}
	return nil
}

// load GETs path and returns what it sent to the database.
func (t *tracedApp) load(path string) ([]db.Statement, string, error) {
	t.rec.Take()
	resp, err := t.client.Get(t.srv.URL + path)
	if err != nil {
		return nil, "", err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	stmts := t.rec.Take()
	if resp.StatusCode != http.StatusOK {
		return stmts, string(body), fmt.Errorf("GET %s: status %d", path, resp.StatusCode)
	}
	return stmts, string(body), nil
}

// steadyLoad loads path twice and returns what the second load sent: the
// steady state (the first may settle the session, a flash, the statement
// cache), and the page.
func (t *tracedApp) steadyLoad(path string) ([]db.Statement, string, error) {
	if _, _, err := t.load(path); err != nil {
		return nil, "", err
	}
	return t.load(path)
}

// tableRow is a row of a table's body: the pages show their records as
// table rows under a header row (<thead>), which this does not count.
var tableRow = regexp.MustCompile(`<tr[\s>]`)

// rowsShown counts the records a page shows: the rows of its tables'
// bodies. Whether two sizes' pages did the same work depends on it: "zoe
// wong" shows 1 row at 10,000 employees and a page of 50 at a million.
func rowsShown(page string) int {
	n := 0
	for _, body := range strings.Split(page, "<tbody")[1:] {
		body, _, _ = strings.Cut(body, "</tbody>")
		n += len(tableRow.FindAllString(body, -1))
	}
	return n
}

// pageScript is a page's statements as a pgbench script plus the -D
// variable definitions it needs.
type pageScript struct {
	Script string
	Defs   []string // name=value for pgbench -D
	// Names is the statement sequence, as pg_stat_statements names them:
	// the sqlc query name, or the statement text.
	Names []string
	// Statements and RoundTrips describe the page's database work.
	Statements, RoundTrips int
}

var (
	placeholder = regexp.MustCompile(`\$(\d+)`)
	queryName   = regexp.MustCompile(`(?:--|/\*) name: (\w+)`)
	nameComment = regexp.MustCompile(`(?m)^-- name: (\w+).*$`)
)

// statementName is how pg_stat_statements shows a statement, shortened to
// the sqlc query name where there is one.
func statementName(sql string) string {
	if m := queryName.FindStringSubmatch(sql); m != nil {
		return m[1]
	}
	return strings.ToLower(strings.TrimRight(strings.TrimSpace(sql), ";"))
}

// buildScript turns recorded statements into a pgbench script that sends
// the same SQL with the same arguments in the same round trips (a batch is
// a pipeline). Arguments become pgbench variables (-D), which pgbench -M
// prepared sends as parameters, as the app does. pgbench cannot send NULL
// or an empty string as a variable, so those are written as typed
// literals: the same plans for the statements planned for their values
// (db.CustomPlans); on a generic plan (db.GenericPlans) an empty literal folds
// a test the app's plan makes on each row, a few microseconds in
// pgbench's favour. conn tells the types.
func buildScript(ctx context.Context, conn *pgx.Conn, stmts []db.Statement) (pageScript, error) {
	var ps pageScript
	var body []string
	batch := 0
	endBatch := func() {
		if batch != 0 {
			body = append(body, `\endpipeline`)
			batch = 0
		}
	}
	for n, s := range stmts {
		if s.Batch != batch {
			endBatch()
			if s.Batch != 0 {
				body = append(body, `\startpipeline`)
				ps.RoundTrips++
			}
			batch = s.Batch
		}
		if batch == 0 {
			ps.RoundTrips++
		}
		ps.Statements++
		ps.Names = append(ps.Names, statementName(s.SQL))
		// pgbench drops -- comments; a /* */ one reaches pg_stat_statements,
		// which then names the statement as the app's.
		s.SQL = nameComment.ReplaceAllString(s.SQL, "/* name: $1 */")
		if len(s.Args) == 0 {
			body = append(body, strings.TrimRight(strings.TrimSpace(s.SQL), ";")+";")
			continue
		}
		sd, err := conn.Prepare(ctx, "", s.SQL)
		if err != nil {
			return ps, fmt.Errorf("%s: %w", statementName(s.SQL), err)
		}
		var ferr error
		sql := placeholder.ReplaceAllStringFunc(s.SQL, func(m string) string {
			i, _ := strconv.Atoi(m[1:])
			if i < 1 || i > len(s.Args) || i > len(sd.ParamOIDs) {
				ferr = fmt.Errorf("%s: $%d has no argument", statementName(s.SQL), i)
				return m
			}
			typ := "text"
			if t, ok := conn.TypeMap().TypeForOID(sd.ParamOIDs[i-1]); ok {
				typ = t.Name
			}
			v, null, err := argText(s.Args[i-1], typ)
			switch {
			case err != nil:
				ferr = fmt.Errorf("%s $%d: %w", statementName(s.SQL), i, err)
				return m
			case null:
				return "NULL::" + typ
			case v == "":
				return "''::" + typ
			}
			name := fmt.Sprintf("s%dp%d", n+1, i)
			ps.Defs = append(ps.Defs, name+"="+v)
			return ":" + name
		})
		if ferr != nil {
			return ps, ferr
		}
		body = append(body, strings.TrimRight(strings.TrimSpace(sql), ";")+";")
	}
	endBatch()
	ps.Script = strings.Join(body, "\n") + "\n"
	return ps, nil
}

// argText is an argument as PostgreSQL's text input for typ, or NULL.
func argText(v any, typ string) (string, bool, error) {
	rv := reflect.ValueOf(v)
	for rv.IsValid() && rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return "", true, nil
		}
		rv = rv.Elem()
	}
	if !rv.IsValid() {
		return "", true, nil
	}
	switch x := rv.Interface().(type) {
	case string:
		return x, false, nil
	case bool:
		return strconv.FormatBool(x), false, nil
	case int, int8, int16, int32, int64, uint16, uint32:
		return fmt.Sprint(x), false, nil
	case time.Time:
		if typ == "date" {
			return x.Format(time.DateOnly), false, nil
		}
		return x.Format(time.RFC3339Nano), false, nil
	case uuid.UUID:
		return x.String(), false, nil
	case []byte:
		return `\x` + hex.EncodeToString(x), false, nil
	}
	return "", false, errors.New("cannot write a " + rv.Type().String() + " for pgbench")
}
