package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"hris/account"
	"hris/db"
	"hris/views/pages"
)

// auditEntry is one audit_log row: who did what to which record, with the
// record before and after.
type auditEntry struct {
	Action   string // login.success, employee.update, user.deactivate ...
	Entity   string // user, employee, department, session, backend
	EntityID int64
	Before   any
	After    any
	// ActorID and ActorEmail default to the logged-in user; login events
	// name the account being logged in to instead.
	ActorID    int64
	ActorEmail string
}

// actor is who makes the request's changes, for the audit log.
func (a *App) actor(r *http.Request) account.Actor {
	act := account.Actor{ClientIP: a.clientIP(r)}
	if u := currentUser(r.Context()); u != nil {
		act.ID, act.Email = u.ID, u.Email
	}
	return act
}

// audit writes e with q, which must be the transaction of the change it
// describes: the audit row commits or rolls back with the change.
func (a *App) audit(ctx context.Context, q *db.Queries, r *http.Request, e auditEntry) error {
	if e.ActorID == 0 && e.ActorEmail == "" {
		if u := currentUser(r.Context()); u != nil {
			e.ActorID, e.ActorEmail = u.ID, u.Email
		}
	}
	p := db.InsertAuditParams{
		ActorEmail: e.ActorEmail,
		Action:     e.Action,
		Entity:     e.Entity,
		ClientIp:   a.clientIP(r),
	}
	if e.ActorID != 0 {
		p.ActorID = &e.ActorID
	}
	if e.EntityID != 0 {
		p.EntityID = &e.EntityID
	}
	var err error
	if p.Before, err = auditJSON(e.Before); err != nil {
		return err
	}
	if p.After, err = auditJSON(e.After); err != nil {
		return err
	}
	if err := q.InsertAudit(ctx, p); err != nil {
		return fmt.Errorf("audit %s: %w", e.Action, err)
	}
	return nil
}

func auditJSON(v any) (json.RawMessage, error) {
	if v == nil {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("audit: encode: %w", err)
	}
	return b, nil
}

// toAuditRows prepares audit entries for display.
func toAuditRows(rows []db.AuditLog) []pages.AuditRow {
	out := make([]pages.AuditRow, 0, len(rows))
	for _, r := range rows {
		out = append(out, pages.AuditRow{
			ID: r.ID, At: r.At, ActorEmail: r.ActorEmail, Action: r.Action, Entity: r.Entity,
			EntityID: r.EntityID, Before: prettyJSON(r.Before), After: prettyJSON(r.After), ClientIP: r.ClientIp,
		})
	}
	return out
}

func prettyJSON(b json.RawMessage) string {
	if len(b) == 0 || string(b) == "null" {
		return ""
	}
	var out bytes.Buffer
	if json.Indent(&out, b, "", "  ") != nil {
		return string(b)
	}
	return out.String()
}
