// Package account holds the rules of user accounts in one place, for the
// web pages (/users) and the `hris user` command alike: what a valid email
// address and password are, how passwords are hashed, and the changes to
// an account with everything that must go with them: a password reset ends
// the account's sessions and lifts its login lockout; reactivating an
// account does not bring its old sessions back; the last active
// administrator cannot be deactivated; every change writes its audit row.
//
// The changes run on the caller's transaction (a *db.Queries), so that the
// caller decides what else commits with them. Hash passwords before the
// transaction: hashing takes tens of milliseconds and 19 MiB on purpose.
package account

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"unicode/utf8"

	"hris/db"
)

// Actor is who makes a change, for the audit log: a logged-in user (ID,
// Email, ClientIP) or the command line (Email "cli:<os user>").
type Actor struct {
	ID       int64
	Email    string
	ClientIP string
}

// ErrLastAdmin refuses to deactivate the last active administrator: nobody
// could manage accounts afterwards.
var ErrLastAdmin = errors.New("that is the last active administrator")

// Roles are the roles an account can have.
var Roles = []string{"admin", "hr"}

// ValidRole reports whether role is one of Roles.
func ValidRole(role string) bool { return role == "admin" || role == "hr" }

// ValidateEmail trims an email address and says what is wrong with it, if
// anything ("" when it is fine).
func ValidateEmail(s string) (string, string) {
	s = strings.TrimSpace(s)
	if s == "" {
		return s, "Enter an email address."
	}
	if strings.IndexByte(s, 0) >= 0 || !utf8.ValidString(s) {
		return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", ""), "Enter an email address like name@example.com."
	}
	addr, err := mail.ParseAddress(s)
	if err != nil || addr.Address != s || !strings.Contains(s[strings.IndexByte(s, '@')+1:], ".") {
		return s, "Enter an email address like name@example.com."
	}
	if len(s) > 254 {
		return s, "Use at most 254 characters."
	}
	return s, ""
}

// ThrottleKey is the login throttle's key for an account (the address's
// key is "ip:" and the client address).
func ThrottleKey(email string) string {
	return "email:" + strings.ToLower(strings.TrimSpace(email))
}

// Create adds an account (its email, name and role checked by the caller)
// with a password hashed by HashPassword. A taken email is the unique
// violation of users_email_key.
func Create(ctx context.Context, q *db.Queries, by Actor, p db.CreateUserParams) (db.User, error) {
	u, err := q.CreateUser(ctx, p)
	if err != nil {
		return u, err
	}
	return u, audit(ctx, q, by, "user.create", u.ID, nil, auditUser(u))
}

// SetPassword replaces u's password with hash. Whoever held the old one is
// logged out everywhere, and a lockout of the account after failed logins
// is lifted.
func SetPassword(ctx context.Context, q *db.Queries, by Actor, u db.User, hash string) error {
	if _, err := q.SetUserPassword(ctx, db.SetUserPasswordParams{ID: u.ID, PasswordHash: hash}); err != nil {
		return err
	}
	if _, err := q.DeleteUserSessions(ctx, &u.ID); err != nil {
		return err
	}
	if err := q.ThrottleReset(ctx, ThrottleKey(u.Email)); err != nil {
		return err
	}
	return audit(ctx, q, by, "user.password_reset", u.ID, nil, nil)
}

// SetActive activates or deactivates u. A deactivated user's sessions are
// refused on their next request (the web loads the user on every one,
// which also tells them why); on reactivation those sessions are ended, so
// they do not come back with the account. (Activating an active account
// changes nothing.) Deactivating the last active
// administrator is ErrLastAdmin, checked under a lock every such change
// takes, so two administrators deactivating each other cannot both pass.
func SetActive(ctx context.Context, q *db.Queries, by Actor, u db.User, active bool) (db.User, error) {
	admin := !active && u.Role == "admin"
	if admin {
		if err := q.LockAdminChanges(ctx); err != nil {
			return u, err
		}
	}
	after, err := q.SetUserActive(ctx, db.SetUserActiveParams{ID: u.ID, IsActive: active})
	if err != nil {
		return u, err
	}
	if admin {
		if n, err := q.CountActiveAdmins(ctx); err != nil {
			return u, err
		} else if n == 0 {
			return u, ErrLastAdmin
		}
	}
	if active && !u.IsActive {
		if _, err := q.DeleteUserSessions(ctx, &u.ID); err != nil {
			return u, err
		}
	}
	action := "user.deactivate"
	if active {
		action = "user.activate"
	}
	return after, audit(ctx, q, by, action, u.ID, auditUser(u), auditUser(after))
}

// userRecord is what the audit log keeps of an account: never the hash.
type userRecord struct {
	ID       int64  `json:"id"`
	Email    string `json:"email"`
	Name     string `json:"name"`
	Role     string `json:"role"`
	IsActive bool   `json:"is_active"`
}

func auditUser(u db.User) *userRecord {
	return &userRecord{ID: u.ID, Email: u.Email, Name: u.Name, Role: u.Role, IsActive: u.IsActive}
}

func audit(ctx context.Context, q *db.Queries, by Actor, action string, userID int64, before, after *userRecord) error {
	p := db.InsertAuditParams{ActorEmail: by.Email, Action: action, Entity: "user", EntityID: &userID, ClientIp: by.ClientIP}
	if by.ID != 0 {
		p.ActorID = &by.ID
	}
	var err error
	if p.Before, err = jsonOrNil(before); err != nil {
		return err
	}
	if p.After, err = jsonOrNil(after); err != nil {
		return err
	}
	if err := q.InsertAudit(ctx, p); err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	return nil
}

func jsonOrNil(r *userRecord) (json.RawMessage, error) {
	if r == nil {
		return nil, nil
	}
	return json.Marshal(r)
}
