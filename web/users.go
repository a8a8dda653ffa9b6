package web

import (
	"context"
	"errors"
	"net/http"
	"net/mail"
	"strconv"
	"strings"

	"hris/db"
	"hris/views/components"
	"hris/views/pages"
)

// auditUser is what the audit log keeps of an account: never the hash.
type auditUser struct {
	ID       int64  `json:"id"`
	Email    string `json:"email"`
	Name     string `json:"name"`
	Role     string `json:"role"`
	IsActive bool   `json:"is_active"`
}

func toAuditUser(u db.User) auditUser {
	return auditUser{ID: u.ID, Email: u.Email, Name: u.Name, Role: u.Role, IsActive: u.IsActive}
}

func (a *App) userList(w http.ResponseWriter, r *http.Request) {
	var rows []db.ListUsersRow
	err := a.db.Read(r.Context(), func(ctx context.Context, q *db.Queries) (err error) {
		rows, err = q.ListUsers(ctx)
		return err
	})
	if err != nil {
		a.handleError(w, r, err)
		return
	}
	me := currentUser(r.Context())
	view := make([]pages.UserRow, 0, len(rows))
	for _, u := range rows {
		view = append(view, pages.UserRow{
			ID: u.ID, Name: u.Name, Email: u.Email, Role: u.Role, Department: u.DepartmentName,
			Active: u.IsActive, LastLoginAt: u.LastLoginAt, FailedLogins: u.FailedLoginCount,
			IsCurrentUser: me != nil && me.ID == u.ID,
		})
	}
	a.render(w, r, http.StatusOK, pages.UserList(a.page(r, "Users", "users"), view))
}

func (a *App) departmentOptions(ctx context.Context) ([]components.Option, error) {
	var rows []db.DepartmentOptionsRow
	err := a.db.Read(ctx, func(ctx context.Context, q *db.Queries) (err error) {
		rows, err = q.DepartmentOptions(ctx)
		return err
	})
	opts := []components.Option{{Value: "", Label: "None"}}
	for _, d := range rows {
		opts = append(opts, components.Option{Value: strconv.FormatInt(d.ID, 10), Label: d.Name})
	}
	return opts, err
}

func (a *App) userNew(w http.ResponseWriter, r *http.Request) {
	depts, err := a.departmentOptions(r.Context())
	if err != nil {
		a.handleError(w, r, err)
		return
	}
	a.render(w, r, http.StatusOK, pages.UserNew(a.page(r, "New user", "users"), pages.UserForm{Role: "hr", Departments: depts}))
}

// ValidateEmail trims an email address and says what is wrong with it, if
// anything ("" when it is fine); the web forms and the CLI share it.
func ValidateEmail(s string) (string, string) {
	s = strings.TrimSpace(s)
	if s == "" {
		return s, "Enter an email address."
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

func (a *App) userCreatePost(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	f := pages.UserForm{
		Name:         strings.TrimSpace(r.PostFormValue("name")),
		Role:         r.PostFormValue("role"),
		DepartmentID: r.PostFormValue("department_id"),
		Errors:       components.Errors{},
	}
	var emailErr string
	f.Email, emailErr = ValidateEmail(r.PostFormValue("email"))
	if emailErr != "" {
		f.Errors["email"] = emailErr
	}
	password := r.PostFormValue("password")
	if f.Name == "" {
		f.Errors["name"] = "Enter the person's name."
	} else if len([]rune(f.Name)) > 200 {
		f.Errors["name"] = "Use at most 200 characters."
	}
	if f.Role != "admin" && f.Role != "hr" {
		f.Errors["role"] = "Choose HR staff or Administrator."
	}
	if err := CheckPasswordRules(password); err != nil {
		f.Errors["password"] = "Password: " + err.Error() + "."
	}
	var deptID *int64
	if f.DepartmentID != "" {
		id, err := strconv.ParseInt(f.DepartmentID, 10, 64)
		if err != nil || id <= 0 {
			f.Errors["department_id"] = "Choose a department from the list."
		} else {
			deptID = &id
		}
	}
	rerender := func() {
		depts, err := a.departmentOptions(ctx)
		if err != nil {
			a.handleError(w, r, err)
			return
		}
		f.Departments = depts
		a.render(w, r, http.StatusUnprocessableEntity, pages.UserNew(a.page(r, "New user", "users"), f))
	}
	if f.Errors.Any() {
		rerender()
		return
	}
	hash, err := HashPassword(password)
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	var created db.User
	err = a.db.InTx(ctx, func(ctx context.Context, q *db.Queries) (err error) {
		created, err = q.CreateUser(ctx, db.CreateUserParams{Email: f.Email, Name: f.Name, PasswordHash: hash, Role: f.Role, DepartmentID: deptID})
		if err != nil {
			return err
		}
		return a.audit(ctx, q, r, auditEntry{Action: "user.create", Entity: "user", EntityID: created.ID, After: toAuditUser(created)})
	})
	if c, ok := db.IsUniqueViolation(err); ok && c == "users_email_key" {
		f.Errors["email"] = "A user with this email already exists."
		rerender()
		return
	}
	if db.SQLState(err) == "23503" {
		f.Errors["department_id"] = "That department no longer exists."
		rerender()
		return
	}
	if err != nil {
		a.handleError(w, r, err)
		return
	}
	a.flash(r, "success", "User "+created.Email+" created.")
	redirect(w, r, "/users")
}

// userFromURL loads the user named by the {id} path parameter.
func (a *App) userFromURL(r *http.Request) (db.User, error) {
	id, err := idFromURL(r)
	if err != nil {
		return db.User{}, err
	}
	var u db.User
	err = a.db.Read(r.Context(), func(ctx context.Context, q *db.Queries) (err error) {
		u, err = q.GetUser(ctx, id)
		return err
	})
	return u, err
}

func (a *App) userDeactivateConfirm(w http.ResponseWriter, r *http.Request) {
	u, err := a.userFromURL(r)
	if err != nil {
		a.handleError(w, r, err)
		return
	}
	a.render(w, r, http.StatusOK, pages.Confirm(a.page(r, "Deactivate user", "users"), pages.ConfirmView{
		Heading: "Deactivate " + u.Name + "?",
		Message: u.Email + " will be logged out on their next click and cannot log in until an administrator activates the account again. Nothing they entered is deleted.",
		Action:  "/users/" + strconv.FormatInt(u.ID, 10) + "/deactivate",
		Button:  "Deactivate",
		Danger:  true,
		Cancel:  "/users",
	}))
}

func (a *App) userDeactivatePost(w http.ResponseWriter, r *http.Request) {
	a.setUserActive(w, r, false)
}
func (a *App) userActivatePost(w http.ResponseWriter, r *http.Request) { a.setUserActive(w, r, true) }

// errLastAdmin refuses to lock every administrator out.
var errLastAdmin = errors.New("last active administrator")

func (a *App) setUserActive(w http.ResponseWriter, r *http.Request, active bool) {
	ctx := r.Context()
	before, err := a.userFromURL(r)
	if err != nil {
		a.handleError(w, r, err)
		return
	}
	if me := currentUser(ctx); !active && me != nil && me.ID == before.ID {
		a.flash(r, "error", "You cannot deactivate your own account.")
		redirect(w, r, "/users")
		return
	}
	err = a.db.InTx(ctx, func(ctx context.Context, q *db.Queries) error {
		if !active && before.Role == "admin" {
			if err := q.LockAdminChanges(ctx); err != nil {
				return err
			}
		}
		after, err := q.SetUserActive(ctx, db.SetUserActiveParams{ID: before.ID, IsActive: active})
		if err != nil {
			return err
		}
		if !active && before.Role == "admin" {
			if n, err := q.CountActiveAdmins(ctx); err != nil {
				return err
			} else if n == 0 {
				return errLastAdmin
			}
		}
		if active {
			// A deactivated user's sessions are refused on their next click
			// (loadUser), which also tells them why. Sessions they still had
			// at deactivation must not come back with the account: end them.
			if _, err := q.DeleteUserSessions(ctx, &before.ID); err != nil {
				return err
			}
		}
		action := "user.deactivate"
		if active {
			action = "user.activate"
		}
		return a.audit(ctx, q, r, auditEntry{Action: action, Entity: "user", EntityID: before.ID, Before: toAuditUser(before), After: toAuditUser(after)})
	})
	switch {
	case errors.Is(err, errLastAdmin):
		a.flash(r, "error", "That is the last active administrator; activate or create another one first.")
	case err != nil:
		a.handleError(w, r, err)
		return
	case active:
		a.flash(r, "success", before.Email+" can log in again.")
	default:
		a.flash(r, "success", before.Email+" is deactivated and has been logged out.")
	}
	redirect(w, r, "/users")
}

func (a *App) userPasswordForm(w http.ResponseWriter, r *http.Request) {
	u, err := a.userFromURL(r)
	if err != nil {
		a.handleError(w, r, err)
		return
	}
	a.render(w, r, http.StatusOK, pages.UserPassword(a.page(r, "Reset password", "users"), pages.PasswordForm{UserID: u.ID, Name: u.Name, Email: u.Email}))
}

func (a *App) userPasswordPost(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	u, err := a.userFromURL(r)
	if err != nil {
		a.handleError(w, r, err)
		return
	}
	password := r.PostFormValue("password")
	if err := CheckPasswordRules(password); err != nil {
		a.render(w, r, http.StatusUnprocessableEntity, pages.UserPassword(a.page(r, "Reset password", "users"),
			pages.PasswordForm{UserID: u.ID, Name: u.Name, Email: u.Email, Error: "Password: " + err.Error() + "."}))
		return
	}
	hash, err := HashPassword(password)
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	err = a.db.InTx(ctx, func(ctx context.Context, q *db.Queries) error {
		if _, err := q.SetUserPassword(ctx, db.SetUserPasswordParams{ID: u.ID, PasswordHash: hash}); err != nil {
			return err
		}
		// Whoever held the old password is logged out everywhere.
		if _, err := q.DeleteUserSessions(ctx, &u.ID); err != nil {
			return err
		}
		// A reset also lifts a lockout on the account.
		accountKey, _ := throttleKeys(u.Email, "")
		if err := q.ThrottleReset(ctx, accountKey); err != nil {
			return err
		}
		return a.audit(ctx, q, r, auditEntry{Action: "user.password_reset", Entity: "user", EntityID: u.ID})
	})
	if err != nil {
		a.handleError(w, r, err)
		return
	}
	if me := currentUser(ctx); me != nil && me.ID == u.ID {
		// Their own password: this session was deleted with the others;
		// keep them logged in here under a new token.
		if err := a.sessions.RenewToken(ctx); err != nil {
			a.handleError(w, r, err)
			return
		}
	}
	a.flash(r, "success", "Password for "+u.Email+" changed; their other sessions are logged out.")
	redirect(w, r, "/users")
}
