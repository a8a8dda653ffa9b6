package web

import (
	"context"
	"math"
	"net/http"
	"net/url"
	"strings"
	"time"

	"hris/db"
	"hris/views/components"
	"hris/views/pages"
)

// auditPageSize is how many audit entries one page shows.
const auditPageSize = 50

// auditCursor is the position after the last entry of a page.
type auditCursor struct {
	At time.Time `json:"a"`
	ID int64     `json:"i"`
}

// auditEnd is after every entry: the cursor of the first page.
var auditEnd = auditCursor{At: time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC), ID: math.MaxInt64}

func (a *App) auditList(w http.ResponseWriter, r *http.Request) {
	query := r.URL.Query()
	v := pages.AuditListView{
		Entity: strings.TrimSpace(query.Get("entity")),
		Action: strings.TrimSpace(query.Get("action")),
		Actor:  strings.TrimSpace(query.Get("actor")),
		From:   strings.TrimSpace(query.Get("from")),
		To:     strings.TrimSpace(query.Get("to")),
		Errors: components.Errors{},
	}
	p := db.ListAuditParams{
		BeforeAt: auditEnd.At, BeforeID: auditEnd.ID,
		Entity: v.Entity, Action: likeEscape(v.Action), Actor: likeEscape(v.Actor),
		PageSize: auditPageSize + 1,
	}
	// Dates are whole days in the server's time zone, both ends included.
	if v.From != "" {
		if t, ok := parseDate(v.From); ok {
			t = time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.Local)
			p.FromAt = &t
		} else {
			v.Errors["from"] = "Use YYYY-MM-DD."
		}
	}
	if v.To != "" {
		if t, ok := parseDate(v.To); ok {
			t = time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, time.Local)
			p.ToAt = &t
		} else {
			v.Errors["to"] = "Use YYYY-MM-DD."
		}
	}
	var c auditCursor
	after := decodeCursor(query.Get("after"), &c)
	if after {
		p.BeforeAt, p.BeforeID = c.At, c.ID
	}
	var rows []db.AuditLog
	err := a.readPlanned(r.Context(), func(ctx context.Context, q *db.Queries) (err error) {
		rows, err = q.ListAudit(ctx, p)
		return err
	})
	if err != nil {
		a.handleError(w, r, err)
		return
	}
	link := func(after string) string {
		u := url.Values{}
		for k, val := range map[string]string{"entity": v.Entity, "action": v.Action, "actor": v.Actor, "from": v.From, "to": v.To, "after": after} {
			if val != "" {
				u.Set(k, val)
			}
		}
		if len(u) == 0 {
			return "/audit"
		}
		return "/audit?" + u.Encode()
	}
	if after {
		v.FirstURL = link("")
	}
	if len(rows) > auditPageSize {
		rows = rows[:auditPageSize]
		last := rows[len(rows)-1]
		v.NextURL = link(encodeCursor(auditCursor{At: last.At, ID: last.ID}))
	}
	v.Rows = toAuditRows(rows)
	status := http.StatusOK
	if v.Errors.Any() {
		status = http.StatusUnprocessableEntity
	}
	a.render(w, r, status, pages.AuditList(a.page(r, "Audit log", "audit"), v))
}
