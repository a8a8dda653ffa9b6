package web

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"hris/account"
	"hris/db"
	"hris/views/components"
	"hris/views/pages"
)

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

func (a *App) userCreatePost(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	f := pages.UserForm{
		Name:         strings.TrimSpace(r.PostFormValue("name")),
		Role:         r.PostFormValue("role"),
		DepartmentID: r.PostFormValue("department_id"),
		Errors:       components.Errors{},
	}
	var emailErr string
	f.Email, emailErr = account.ValidateEmail(r.PostFormValue("email"))
	if emailErr != "" {
		f.Errors["email"] = emailErr
	}
	password := r.PostFormValue("password")
	if f.Name == "" {
		f.Errors["name"] = "Enter the person's name."
	} else if len([]rune(f.Name)) > 200 {
		f.Errors["name"] = "Use at most 200 characters."
	}
	if !account.ValidRole(f.Role) {
		f.Errors["role"] = "Choose HR staff or Administrator."
	}
	if err := account.CheckPasswordRules(password); err != nil {
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
	hash, err := account.HashPassword(password)
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	var created db.User
	err = a.db.InTx(ctx, func(ctx context.Context, q *db.Queries) (err error) {
		created, err = account.Create(ctx, q, a.actor(r), db.CreateUserParams{Email: f.Email, Name: f.Name, PasswordHash: hash, Role: f.Role, DepartmentID: deptID})
		return err
	})
	if c, ok := db.IsUniqueViolation(err); ok && c == "users_email_key" {
		f.Errors["email"] = "A user with this email already exists."
		rerender()
		return
	}
	if _, ok := db.IsForeignKeyViolation(err); ok {
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
		_, err := account.SetActive(ctx, q, a.actor(r), before, active)
		return err
	})
	switch {
	case errors.Is(err, account.ErrLastAdmin):
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
	if err := account.CheckPasswordRules(password); err != nil {
		a.render(w, r, http.StatusUnprocessableEntity, pages.UserPassword(a.page(r, "Reset password", "users"),
			pages.PasswordForm{UserID: u.ID, Name: u.Name, Email: u.Email, Error: "Password: " + err.Error() + "."}))
		return
	}
	hash, err := account.HashPassword(password)
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	err = a.db.InTx(ctx, func(ctx context.Context, q *db.Queries) error {
		return account.SetPassword(ctx, q, a.actor(r), u, hash)
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
