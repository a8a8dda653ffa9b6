package web

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"hris/db"
	"hris/views/components"
	"hris/views/pages"
	"hris/views/partials"
)

const (
	// employeePageSize is how many employees one page of the list shows.
	employeePageSize = 50
	// maxSearchLength caps q; longer input cannot match a name and email.
	maxSearchLength = 200
)

// employeeFilter is the list's search, filters and sort order, from the
// query string. Values that make no sense are ignored rather than refused:
// they come from hand-edited or stale links.
type employeeFilter struct {
	Q          string
	Department *int64
	Status     string
	Sort       string // name or hire_date
}

func employeeFilterFrom(v url.Values) employeeFilter {
	f := employeeFilter{Q: strings.TrimSpace(v.Get("q")), Sort: "name"}
	if utf8.RuneCountInString(f.Q) > maxSearchLength {
		f.Q = string([]rune(f.Q)[:maxSearchLength])
	}
	if id, err := strconv.ParseInt(v.Get("department"), 10, 64); err == nil && id > 0 {
		f.Department = &id
	}
	if s := v.Get("status"); components.IsEmployeeStatus(s) {
		f.Status = s
	}
	if v.Get("sort") == "hire_date" {
		f.Sort = "hire_date"
	}
	return f
}

func (f employeeFilter) active() bool { return f.Q != "" || f.Department != nil || f.Status != "" }

func (f employeeFilter) departmentValue() string {
	if f.Department == nil {
		return ""
	}
	return strconv.FormatInt(*f.Department, 10)
}

// url is path with the filter (and after, when set) as its query string.
func (f employeeFilter) url(path, after string) string {
	v := url.Values{}
	if f.Q != "" {
		v.Set("q", f.Q)
	}
	if f.Department != nil {
		v.Set("department", f.departmentValue())
	}
	if f.Status != "" {
		v.Set("status", f.Status)
	}
	if f.Sort != "name" {
		v.Set("sort", f.Sort)
	}
	if after != "" {
		v.Set("after", after)
	}
	if len(v) == 0 {
		return path
	}
	return path + "?" + v.Encode()
}

// listPlans is how the unsearched list's page is planned. Unfiltered, it
// is the walk of the sort order's index from the cursor whatever the
// values, and runs on the connection's generic plan: planning it for each
// page took about as long as running it. A department or status needs
// the values to fold the other filter away and to pick its partial index.
func (f employeeFilter) listPlans() db.Plans {
	if f.Department == nil && f.Status == "" {
		return db.GenericPlans
	}
	return db.CustomPlans
}

// employeeCursor is the keyset position after the last row of a page: its
// sort key and id.
type employeeCursor struct {
	Sort      string `json:"s"`
	LastName  string `json:"l,omitempty"`
	FirstName string `json:"f,omitempty"`
	HireDate  string `json:"h,omitempty"`
	ID        int64  `json:"i"`
}

// firstHireDate is before every hire date: the hire-date cursor of the
// first page.
var firstHireDate = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)

// employeePage is a page request: the filter and the position after which
// the page starts (nil: the first page).
type employeePage struct {
	f employeeFilter
	c *employeeCursor
	// The picker's conditions: an employee left out (the one being
	// edited), and terminated employees left out.
	exclude        int64
	hideTerminated bool
	// limit is how many rows to read: one more than shown, to tell
	// whether more follow.
	limit int32
}

func (p employeePage) afterName() (last, first string, id int64) {
	if p.c == nil {
		return "", "", 0
	}
	return p.c.LastName, p.c.FirstName, p.c.ID
}

func (p employeePage) afterHireDate() (time.Time, int64) {
	if p.c == nil {
		return firstHireDate, 0
	}
	t, _ := time.Parse(time.DateOnly, p.c.HireDate)
	return t, p.c.ID
}

// pageLimit is one row more than a page, to tell whether another follows.
const pageLimit = int32(employeePageSize + 1)

// queueList queues the page of the unsearched list.
func (p employeePage) queueList(ctx context.Context, lb *db.ListBatch, rows *[]db.ListEmployeesByNameRow) {
	f := p.f
	if f.Sort == "hire_date" {
		after, afterID := p.afterHireDate()
		lb.Queue(func(q *db.Queries) error {
			r, err := q.ListEmployeesByHireDate(ctx, db.ListEmployeesByHireDateParams{
				AfterHireDate: after, AfterID: afterID, DepartmentID: f.Department, Status: f.Status, PageSize: p.limit})
			*rows = convertRows(r, func(r db.ListEmployeesByHireDateRow) db.ListEmployeesByNameRow { return db.ListEmployeesByNameRow(r) })
			return err
		})
		return
	}
	last, first, id := p.afterName()
	lb.Queue(func(q *db.Queries) (err error) {
		*rows, err = q.ListEmployeesByName(ctx, db.ListEmployeesByNameParams{
			AfterLastName: last, AfterFirstName: first, AfterID: id, DepartmentID: f.Department, Status: f.Status, PageSize: p.limit})
		return err
	})
}

// searchPlan is how a search's page is found, chosen from what the first
// round trip learned about its words (see "Searching" in
// queries/employees.sql).
type searchPlan struct {
	kind   searchKind
	driver int    // the word whose entries are read (merge, walk)
	a, b   string // the two whole words that are intersected
}

type searchKind int

const (
	searchNothing   searchKind = iota // a word of the search starts no word: nothing matches
	searchMerge                       // read the driver's entries in order, merged over the words it starts
	searchWalk                        // walk the list: the driver is so short it starts too many words
	searchIntersect                   // leapfrog two whole words, each rarely with the other
)

// searchFewEntries is how many entries of its rarest word a search of
// several words simply reads in order, checking the others on each.
const searchFewEntries = 200

// sortLimit is how many entries of its word a search counts: a one-word
// search up to the count it shows (and the most it sorts whole, in
// hire-date order); a search of several words only up to what tells a
// rare word from a common one.
func sortLimit(s employeeSearch) int32 {
	if s.Bare {
		return searchCountUpTo
	}
	return searchFewEntries
}

// chooseSearchPlan picks the plan from the counts of each of s.Words.
// listFiltered says a department or status narrows the list too.
func chooseSearchPlan(s employeeSearch, counts []db.CountWordMatchesRow, byName, listFiltered bool) searchPlan {
	driver := 0
	for i, c := range counts {
		if c.Words == 0 {
			return searchPlan{kind: searchNothing}
		}
		d := counts[driver]
		if c.Entries < d.Entries || c.Entries == d.Entries && c.Words < d.Words {
			driver = i
		}
	}
	switch {
	case counts[driver].Words > searchMaxWords:
		return searchPlan{kind: searchWalk, driver: driver}
	case listFiltered && counts[driver].Words > 2:
		// A short start ("a") merged over its words would read a page of
		// department (or status) matches from each of them; the filter's
		// own index, walked in order, finds such a common start at once.
		return searchPlan{kind: searchWalk, driver: driver}
	case !byName && counts[driver].Entries > sortLimit(s):
		// In hire-date order a word's matches are sorted whole; a word
		// with more than that many is common enough to walk the list.
		return searchPlan{kind: searchWalk, driver: driver}
	case len(counts) == 1 || counts[driver].Entries <= searchFewEntries || !byName:
		return searchPlan{kind: searchMerge, driver: driver}
	}
	// Several common words: intersect two that stand for one index word
	// each (a whole word, or a start that only one word has), the rarest.
	var exact []int
	for i, w := range s.Words {
		if w.Whole || counts[i].Words == 1 {
			exact = append(exact, i)
		}
	}
	if len(exact) < 2 {
		return searchPlan{kind: searchMerge, driver: driver}
	}
	slices.SortStableFunc(exact, func(i, j int) int { return int(counts[i].Entries - counts[j].Entries) })
	word := func(i int) string {
		if s.Words[i].Whole {
			return s.Words[i].Word
		}
		return counts[i].FirstWord
	}
	return searchPlan{kind: searchIntersect, a: word(exact[0]), b: word(exact[1])}
}

// plans is how the page's statement is planned. A merge in name order and
// an intersection each have one right plan whatever the search: index
// probes in the order of the list, a page's worth (after MergeInOrder for
// the merge). Planning them anew for each search costs more than running
// them: 1.8 ms against 0.65 for an intersection at a million employees.
// The walks and the hire-date sort depend on the values: the partial index
// of a status, how many matches there are to sort.
func (sp searchPlan) plans(f employeeFilter) db.Plans {
	if sp.kind == searchIntersect || sp.kind == searchMerge && f.Sort != "hire_date" {
		return db.GenericPlans
	}
	return db.CustomPlans
}

// searchMaxSteps bounds an intersection (two index probes a step); one
// that gets no page within it gives way to reading the rarer word's entries.
const searchMaxSteps = 1000

// queueSearch queues the page of a search by plan. gaveUp is set when an
// intersection ran out of steps before it found a page.
func (p employeePage) queueSearch(ctx context.Context, lb *db.ListBatch, s employeeSearch, plan searchPlan, rows *[]db.ListEmployeesByNameRow, gaveUp *bool) {
	f := p.f
	// rowFiltered: conditions only the employee's row answers. phrase:
	// the whole search, checked on the index entry ('' when the word alone
	// is the search, which finding it already checked).
	rowFiltered := f.Department != nil || f.Status != "" || p.hideTerminated
	phrase := s.Phrase
	if s.Bare {
		phrase = ""
	}
	byHireDate := f.Sort == "hire_date"
	lastName, firstName, nameID := p.afterName()
	hired, hiredID := p.afterHireDate()
	w := s.Words[plan.driver]
	switch {
	case plan.kind == searchWalk:
		lb.Queue(func(q *db.Queries) error { return q.WalkInOrder(ctx) })
	case plan.kind == searchMerge && !byHireDate:
		lb.Queue(func(q *db.Queries) error { return q.MergeInOrder(ctx) })
	}
	lb.Queue(func(q *db.Queries) error {
		var err error
		switch {
		case plan.kind == searchIntersect:
			var r []db.IntersectSearchByNameRow
			r, err = q.IntersectSearchByName(ctx, db.IntersectSearchByNameParams{WordA: plan.a, WordB: plan.b,
				AfterLastName: lastName, AfterFirstName: firstName, AfterID: nameID, Phrase: s.Phrase, Filtered: rowFiltered,
				DepartmentID: f.Department, Status: f.Status, ExcludeID: p.exclude, HideTerminated: p.hideTerminated,
				PageSize: p.limit, MaxSteps: searchMaxSteps})
			*rows = (*rows)[:0]
			for _, m := range r {
				if m.Hit {
					*rows = append(*rows, db.ListEmployeesByNameRow{ID: *m.ID, FirstName: *m.FirstName, LastName: *m.LastName,
						Email: *m.Email, JobTitle: *m.JobTitle, HireDate: *m.HireDate, Status: *m.Status,
						DepartmentID: m.DepartmentID, DepartmentName: m.DepartmentName})
				} else {
					*gaveUp = m.Steps >= searchMaxSteps && len(*rows) < int(p.limit)
				}
			}
		case plan.kind == searchWalk && byHireDate:
			var r []db.WalkSearchByHireDateRow
			r, err = q.WalkSearchByHireDate(ctx, db.WalkSearchByHireDateParams{AfterHireDate: hired, AfterID: hiredID,
				Word: w.Word, Phrase: s.Phrase, DepartmentID: f.Department, Status: f.Status, ExcludeID: p.exclude,
				HideTerminated: p.hideTerminated, PageSize: p.limit})
			*rows = convertRows(r, func(r db.WalkSearchByHireDateRow) db.ListEmployeesByNameRow { return db.ListEmployeesByNameRow(r) })
		case plan.kind == searchWalk:
			var r []db.WalkSearchByNameRow
			r, err = q.WalkSearchByName(ctx, db.WalkSearchByNameParams{AfterLastName: lastName, AfterFirstName: firstName, AfterID: nameID,
				Word: w.Word, Phrase: s.Phrase, DepartmentID: f.Department, Status: f.Status, ExcludeID: p.exclude,
				HideTerminated: p.hideTerminated, PageSize: p.limit})
			*rows = convertRows(r, func(r db.WalkSearchByNameRow) db.ListEmployeesByNameRow { return db.ListEmployeesByNameRow(r) })
		case byHireDate:
			var r []db.SearchEmployeesByHireDateRow
			r, err = q.SearchEmployeesByHireDate(ctx, db.SearchEmployeesByHireDateParams{Word: w.Word,
				AfterHireDate: hired, AfterID: hiredID, Filtered: rowFiltered || !s.Bare || p.exclude != 0, Phrase: s.Phrase,
				DepartmentID: f.Department, Status: f.Status,
				ExcludeID: p.exclude, HideTerminated: p.hideTerminated, PageSize: p.limit})
			*rows = convertRows(r, func(r db.SearchEmployeesByHireDateRow) db.ListEmployeesByNameRow { return db.ListEmployeesByNameRow(r) })
		default:
			var r []db.SearchEmployeesByNameRow
			r, err = q.SearchEmployeesByName(ctx, db.SearchEmployeesByNameParams{Word: w.Word, MaxWords: searchMaxWords,
				AfterLastName: lastName, AfterFirstName: firstName, AfterID: nameID, Filtered: rowFiltered, Phrase: phrase,
				DepartmentID: f.Department, Status: f.Status, ExcludeID: p.exclude, HideTerminated: p.hideTerminated, PageSize: p.limit})
			*rows = convertRows(r, func(r db.SearchEmployeesByNameRow) db.ListEmployeesByNameRow { return db.ListEmployeesByNameRow(r) })
		}
		return err
	})
}

// convertRows turns the rows of one list query into those of another: they
// all have the same columns.
func convertRows[T any](rows []T, conv func(T) db.ListEmployeesByNameRow) []db.ListEmployeesByNameRow {
	out := make([]db.ListEmployeesByNameRow, len(rows))
	for i, r := range rows {
		out[i] = conv(r)
	}
	return out
}

// employeeList is the list page and, for htmx, its results alone. Its cost
// is one page whatever the number of employees: the total comes from the
// kept counts (a search counts at most searchCountUpTo index entries) and
// the page from an index walk in the page's order. A page is two round
// trips after the session's: one batch with the total, the page and the
// filter form's departments; a search first learns how its word is spread
// (CountWordMatches), then asks for the page.
func (a *App) employeeList(w http.ResponseWriter, r *http.Request) {
	query := r.URL.Query()
	p := employeePage{f: employeeFilterFrom(query), limit: pageLimit}
	f := p.f
	var decoded employeeCursor
	// A cursor of the other sort order, or garbage, starts at the beginning.
	if decodeCursor(query.Get("after"), &decoded) && decoded.Sort == f.Sort {
		p.c = &decoded
	}
	partial := isPartial(r)
	search, searchable := newEmployeeSearch(f.Q)
	searching := f.Q != ""
	var (
		total  int64
		counts []db.CountWordMatchesRow
		rows   []db.ListEmployeesByNameRow
		depts  []db.DepartmentOptionsRow
	)
	err := a.db.Read(r.Context(), func(ctx context.Context, q *db.Queries) (err error) {
		depts = nil
		queueDepts := func(lb *db.ListBatch) {
			if !partial {
				lb.Queue(func(q *db.Queries) (err error) { depts, err = q.DepartmentOptions(ctx); return err })
			}
		}
		if searching {
			rows, counts, err = p.search(ctx, q, search, queueDepts)
			return err
		}
		lb := db.NewListBatch(f.listPlans())
		lb.Queue(func(q *db.Queries) (err error) {
			total, err = q.CountEmployees(ctx, db.CountEmployeesParams{DepartmentID: f.Department, Status: f.Status})
			return err
		})
		p.queueList(ctx, lb, &rows)
		queueDepts(lb)
		return q.SendListBatch(ctx, lb)
	})
	if err != nil {
		a.handleError(w, r, err)
		return
	}
	res := partials.EmployeeResults{Total: total, Filtered: f.active(), ExportURL: f.url("/employees.csv", ""),
		NoWords: searching && !searchable}
	if p.c != nil {
		res.FirstURL = f.url("/employees", "")
	}
	if len(rows) > employeePageSize {
		rows = rows[:employeePageSize]
		last := rows[len(rows)-1]
		next := employeeCursor{Sort: f.Sort, ID: last.ID}
		if f.Sort == "hire_date" {
			next.HireDate = last.HireDate.Format(time.DateOnly)
		} else {
			next.LastName, next.FirstName = last.LastName, last.FirstName
		}
		res.NextURL = f.url("/employees", encodeCursor(next))
	}
	if searching {
		res.Total, res.AtLeast = searchTotal(search, f, counts, p.c == nil, len(rows), res.NextURL != "")
	}
	res.Rows = make([]partials.EmployeeRow, 0, len(rows))
	for _, e := range rows {
		res.Rows = append(res.Rows, partials.EmployeeRow{
			ID: e.ID, Name: e.FirstName + " " + e.LastName, Email: e.Email, JobTitle: e.JobTitle,
			Department: e.DepartmentName, HireDate: e.HireDate, Status: e.Status,
		})
	}
	// The same URL answers with a fragment or a page: keep caches apart.
	w.Header().Add("Vary", "HX-Request")
	if partial {
		// The address bar shows the list as a link to it would, without
		// the empty and default fields the filter form sends along.
		after := ""
		if p.c != nil {
			after = query.Get("after")
		}
		w.Header().Set("HX-Push-Url", f.url("/employees", after))
		a.render(w, r, http.StatusOK, partials.EmployeeResultsTable(res))
		return
	}
	view := pages.EmployeeListView{
		Q: f.Q, Department: f.departmentValue(), Status: f.Status, Sort: f.Sort, Results: res,
		Departments: append(make([]components.Option, 0, len(depts)+1), components.Option{Value: "", Label: "All departments"}),
	}
	for _, d := range depts {
		view.Departments = append(view.Departments, components.Option{Value: strconv.FormatInt(d.ID, 10), Label: d.Name})
	}
	a.render(w, r, http.StatusOK, pages.EmployeeList(a.page(r, "Employees", "employees"), view))
}

// search reads the page of a search in two round trips: how its words are
// spread (with whatever extra queues, the list's department choices),
// then the page by the plan that suits them. It also returns the counts
// of the words, from which the total shown is taken.
func (p employeePage) search(ctx context.Context, q *db.Queries, s employeeSearch, extra func(*db.ListBatch)) ([]db.ListEmployeesByNameRow, []db.CountWordMatchesRow, error) {
	counts := make([]db.CountWordMatchesRow, len(s.Words))
	// The counts' plan is an index range whatever the word.
	lb := db.NewListBatch(db.GenericPlans)
	// A one-word search shows its count, up to searchCountUpTo; a search
	// of several words only needs to know which word is rarest, and
	// whether it is rare enough to read whole (searchFewEntries).
	upTo := int32(sortLimit(s) + 1)
	for i, w := range s.Words {
		lb.Queue(func(q *db.Queries) (err error) {
			counts[i], err = q.CountWordMatches(ctx, db.CountWordMatchesParams{
				Word: w.Word, UpTo: upTo, MaxWords: searchMaxWords})
			return err
		})
	}
	if extra != nil {
		extra(lb)
	}
	if err := q.SendListBatch(ctx, lb); err != nil || len(s.Words) == 0 {
		return nil, counts, err
	}
	plan := chooseSearchPlan(s, counts, p.f.Sort != "hire_date", p.f.Department != nil || p.f.Status != "")
	if plan.kind == searchNothing {
		return nil, counts, nil
	}
	var rows []db.ListEmployeesByNameRow
	gaveUp := false
	lb = db.NewListBatch(plan.plans(p.f))
	p.queueSearch(ctx, lb, s, plan, &rows, &gaveUp)
	if err := q.SendListBatch(ctx, lb); err != nil || !gaveUp {
		return rows, counts, err
	}
	merge := searchPlan{kind: searchMerge, driver: plan.driver}
	lb = db.NewListBatch(merge.plans(p.f))
	p.queueSearch(ctx, lb, s, merge, &rows, &gaveUp)
	return rows, counts, q.SendListBatch(ctx, lb)
}

// searchTotal is the count a search page shows, and whether it is a lower
// bound ("More than ..."). Every number shown is true:
//   - a one-word search without filters counts its word's index entries,
//     exactly up to searchCountUpTo;
//   - otherwise a first page that holds every match counts them, and any
//     other page says there are more than a page of them.
func searchTotal(s employeeSearch, f employeeFilter, counts []db.CountWordMatchesRow, firstPage bool, rows int, more bool) (int64, bool) {
	if s.Bare && f.Department == nil && f.Status == "" && counts[0].Words <= searchMaxWords {
		m := counts[0]
		switch {
		case m.Entries <= searchCountUpTo: // every entry read: the exact number
			return int64(m.Employees), false
		case m.Employees > searchCountUpTo: // as many different employees as entries read
			return searchCountUpTo, true
		}
		// More entries than read, and some employees among them twice
		// (two of their words start with the search): count as below.
	}
	if firstPage && !more {
		return int64(rows), false
	}
	return employeePageSize, true
}
