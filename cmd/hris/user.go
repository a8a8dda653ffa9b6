package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"strings"

	"github.com/jackc/pgx/v5"
	"golang.org/x/term"

	"hris/db"
	"hris/web"
)

func cmdUser(ctx context.Context, e env, args []string, std stdio) error {
	if len(args) == 0 {
		return usageError{"user: want create, activate, deactivate or password"}
	}
	sub, args := args[0], args[1:]
	fs := newFlags("user "+sub, std.err)
	email := fs.String("email", "", "the user's email (login)")
	var name, role *string
	if sub == "create" {
		name = fs.String("name", "", "the user's name")
		role = fs.String("role", "hr", "admin or hr")
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *email == "" {
		return usageError{"user " + sub + ": --email is required"}
	}
	d, err := openDB(ctx, e, std)
	if err != nil {
		return err
	}
	defer d.Close()

	switch sub {
	case "create":
		if *name == "" {
			return usageError{"user create: --name is required"}
		}
		if *role != "admin" && *role != "hr" {
			return usageError{fmt.Sprintf("user create: --role must be admin or hr, not %q", *role)}
		}
		pw, err := readPassword(std)
		if err != nil {
			return err
		}
		u, err := createUser(ctx, d, *email, *name, *role, pw)
		if err != nil {
			return err
		}
		fmt.Fprintf(std.out, "created %s user %s (id %d)\n", u.Role, u.Email, u.ID)
	case "activate", "deactivate":
		active := sub == "activate"
		err := d.InTx(ctx, func(ctx context.Context, q *db.Queries) error {
			u, err := q.SetUserActiveByEmail(ctx, db.SetUserActiveByEmailParams{Email: *email, IsActive: active})
			if err != nil {
				return err
			}
			if active {
				// Sessions from before the deactivation do not come back.
				if _, err := q.DeleteUserSessions(ctx, &u.ID); err != nil {
					return err
				}
			}
			return cliAudit(ctx, q, "user."+sub, u.ID, map[string]any{"email": u.Email, "is_active": active})
		})
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("no user with email %s", *email)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(std.out, "%sd %s\n", sub, *email)
	case "password":
		pw, err := readPassword(std)
		if err != nil {
			return err
		}
		hash, err := web.HashPassword(pw)
		if err != nil {
			return err
		}
		err = d.InTx(ctx, func(ctx context.Context, q *db.Queries) error {
			u, err := q.SetUserPasswordByEmail(ctx, db.SetUserPasswordByEmailParams{Email: *email, PasswordHash: hash})
			if err != nil {
				return err
			}
			if _, err := q.DeleteUserSessions(ctx, &u.ID); err != nil {
				return err
			}
			if err := q.ThrottleReset(ctx, "email:"+strings.ToLower(u.Email)); err != nil {
				return err
			}
			return cliAudit(ctx, q, "user.password_reset", u.ID, nil)
		})
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("no user with email %s", *email)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(std.out, "password changed for %s\n", *email)
	default:
		return usageError{fmt.Sprintf("user: unknown subcommand %q (want create, activate, deactivate or password)", sub)}
	}
	return nil
}

// createUser validates and inserts a user, with its audit row.
func createUser(ctx context.Context, d *db.DB, email, name, role, password string) (db.User, error) {
	email, problem := web.ValidateEmail(email)
	if problem != "" {
		return db.User{}, fmt.Errorf("--email %q: %s", email, problem)
	}
	if err := web.CheckPasswordRules(password); err != nil {
		return db.User{}, fmt.Errorf("password: %w", err)
	}
	hash, err := web.HashPassword(password)
	if err != nil {
		return db.User{}, err
	}
	var u db.User
	err = d.InTx(ctx, func(ctx context.Context, q *db.Queries) (err error) {
		u, err = q.CreateUser(ctx, db.CreateUserParams{Email: email, Name: name, PasswordHash: hash, Role: role})
		if err != nil {
			return err
		}
		return cliAudit(ctx, q, "user.create", u.ID, map[string]any{"email": u.Email, "name": u.Name, "role": u.Role})
	})
	if _, dup := db.IsUniqueViolation(err); dup {
		return db.User{}, fmt.Errorf("a user with email %s already exists", email)
	}
	return u, err
}

// cliAudit records a change made from the command line; the actor is the
// operating-system user who ran it.
func cliAudit(ctx context.Context, q *db.Queries, action string, userID int64, after any) error {
	actor := "cli"
	if u, err := user.Current(); err == nil {
		actor = "cli:" + u.Username
	}
	var raw json.RawMessage
	if after != nil {
		b, err := json.Marshal(after)
		if err != nil {
			return err
		}
		raw = b
	}
	return q.InsertAudit(ctx, db.InsertAuditParams{ActorEmail: actor, Action: action, Entity: "user", EntityID: &userID, After: raw})
}

// readPassword reads the password: prompted without echo (twice) on a
// terminal, otherwise the first line of stdin.
func readPassword(std stdio) (string, error) {
	if f, ok := std.in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(std.err, "Password: ")
		a, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(std.err)
		if err != nil {
			return "", err
		}
		fmt.Fprint(std.err, "Again: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(std.err)
		if err != nil {
			return "", err
		}
		if string(a) != string(b) {
			return "", errors.New("the two passwords differ")
		}
		return string(a), nil
	}
	line, err := bufio.NewReader(std.in).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password from stdin: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("no password on stdin: pipe it in, e.g. echo \"$PASSWORD\" | hris user create ...")
	}
	return line, nil
}
