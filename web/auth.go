package web

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	"hris/account"
	"hris/db"
	"hris/views/pages"
)

// Login throttling. Failures are counted per account and per client address
// in PostgreSQL, so the limits hold across every app instance. An account
// is locked after fewer failures than an address, because an office behind
// one NAT address shares the latter.
const (
	accountMaxFailures = 5
	addressMaxFailures = 30
	throttleWindow     = 15 * time.Minute
	throttleBlock      = 15 * time.Minute
)

// badCredentials is the one answer to a wrong password and to an unknown
// email alike, so the form cannot be used to find out who has an account.
const badCredentials = "Email or password is incorrect."

// throttleKeys are the login throttle's keys: the account's and the
// client address's.
func throttleKeys(email, ip string) (accountKey, addressKey string) {
	return account.ThrottleKey(email), "ip:" + ip
}

func (a *App) loginForm(w http.ResponseWriter, r *http.Request) {
	if currentUser(r.Context()) != nil {
		redirect(w, r, safeNext(r.URL.Query().Get("next")))
		return
	}
	a.render(w, r, http.StatusOK, pages.Login(a.page(r, "Log in", ""), pages.LoginForm{Next: r.URL.Query().Get("next")}))
}

func (a *App) loginPost(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	email := strings.TrimSpace(r.PostFormValue("email"))
	password := r.PostFormValue("password")
	form := pages.LoginForm{Email: email, Next: r.PostFormValue("next")}
	fail := func(status int, msg string) {
		form.Error = msg
		a.render(w, r, status, pages.Login(a.basePage(r, "Log in", ""), form))
	}
	if email == "" || password == "" {
		fail(http.StatusUnprocessableEntity, "Enter your email and password.")
		return
	}
	if unstorable(email) {
		// No account has such an address; nothing to look up or count.
		form.Email = cleanText(email)
		fail(http.StatusUnprocessableEntity, "Enter your email address without the characters that cannot be stored.")
		return
	}
	accountKey, addressKey := throttleKeys(email, a.clientIP(r))

	var blocked []db.ThrottleBlockedRow
	var user db.User
	found := true
	err := a.db.Read(ctx, func(ctx context.Context, q *db.Queries) (err error) {
		if blocked, err = q.ThrottleBlocked(ctx, []string{accountKey, addressKey}); err != nil {
			return err
		}
		user, err = q.GetUserByEmail(ctx, email)
		if errors.Is(err, db.ErrNotFound) {
			found, err = false, nil
		}
		return err
	})
	if err != nil {
		a.handleError(w, r, err)
		return
	}
	if len(blocked) > 0 {
		// Refused before the password is even checked: the right password
		// does not get in either until the block ends.
		w.Header().Set("Retry-After", fmt.Sprint(int(math.Ceil(time.Until(blocked[0].BlockedUntil).Seconds()))))
		fail(http.StatusTooManyRequests, tooManyAttempts(blocked[0].BlockedUntil))
		return
	}

	// Compare against a dummy hash when the email is unknown, so both cases
	// cost one argon2id computation and take about as long.
	hash := a.dummyHash
	if found {
		hash = user.PasswordHash
	}
	ok := account.CheckPassword(hash, password) && found

	if !ok {
		var lockedUntil *time.Time
		err := a.db.InTx(ctx, func(ctx context.Context, q *db.Queries) error {
			for _, k := range []struct {
				key string
				max int32
			}{{accountKey, accountMaxFailures}, {addressKey, addressMaxFailures}} {
				res, err := q.ThrottleFailure(ctx, db.ThrottleFailureParams{
					Key: k.key, MaxFailures: k.max,
					WindowSeconds: throttleWindow.Seconds(), BlockSeconds: throttleBlock.Seconds(),
				})
				if err != nil {
					return err
				}
				if res.BlockedUntil != nil && res.BlockedUntil.After(time.Now()) {
					lockedUntil = res.BlockedUntil
				}
			}
			if err := q.RecordLoginFailure(ctx, email); err != nil {
				return err
			}
			e := auditEntry{Action: "login.failure", Entity: "user", ActorEmail: email}
			if found {
				e.ActorID, e.EntityID = user.ID, user.ID
			}
			return a.audit(ctx, q, r, e)
		})
		if err != nil {
			a.handleError(w, r, err)
			return
		}
		if lockedUntil != nil {
			w.Header().Set("Retry-After", fmt.Sprint(int(throttleBlock.Seconds())))
			fail(http.StatusTooManyRequests, tooManyAttempts(*lockedUntil))
			return
		}
		fail(http.StatusUnauthorized, badCredentials)
		return
	}

	if !user.IsActive {
		// Only someone who knows the password learns the account is off.
		err := a.db.InTx(ctx, func(ctx context.Context, q *db.Queries) error {
			return a.audit(ctx, q, r, auditEntry{Action: "login.refused_inactive", Entity: "user", EntityID: user.ID, ActorID: user.ID, ActorEmail: user.Email})
		})
		if err != nil {
			a.handleError(w, r, err)
			return
		}
		fail(http.StatusForbidden, "This account has been deactivated. Ask an administrator to reactivate it.")
		return
	}

	// The record of the login first: if it cannot be written, the user is
	// not logged in (the session is only saved when the response starts).
	err = a.db.InTx(ctx, func(ctx context.Context, q *db.Queries) error {
		if err := q.ThrottleReset(ctx, accountKey); err != nil {
			return err
		}
		if err := q.RecordLoginSuccess(ctx, user.ID); err != nil {
			return err
		}
		return a.audit(ctx, q, r, auditEntry{Action: "login.success", Entity: "user", EntityID: user.ID, ActorID: user.ID, ActorEmail: user.Email})
	})
	if err != nil {
		a.handleError(w, r, err)
		return
	}
	// A new session token at login: a token planted before login (session
	// fixation) is worthless after it.
	if err := a.sessions.RenewToken(ctx); err != nil {
		a.handleError(w, r, err)
		return
	}
	a.sessions.Put(ctx, sessionUserID, user.ID)
	redirect(w, r, safeNext(form.Next))
}

func tooManyAttempts(until time.Time) string {
	minutes := int(math.Ceil(time.Until(until).Minutes()))
	if minutes <= 1 {
		return "Too many failed attempts. Try again in a minute."
	}
	return fmt.Sprintf("Too many failed attempts. Try again in %d minutes.", minutes)
}

// logoutPost ends the session on the server, not only in the browser: a
// copy of the cookie is worthless afterwards.
func (a *App) logoutPost(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if u := currentUser(ctx); u != nil {
		err := a.db.InTx(ctx, func(ctx context.Context, q *db.Queries) error {
			return a.audit(ctx, q, r, auditEntry{Action: "logout", Entity: "user", EntityID: u.ID})
		})
		if err != nil {
			a.handleError(w, r, err)
			return
		}
	}
	if err := a.sessions.Destroy(ctx); err != nil {
		a.handleError(w, r, err)
		return
	}
	a.flash(r, "success", "You have been logged out.")
	redirect(w, r, "/login")
}
