package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"strings"

	"golang.org/x/term"

	"hris/account"
	"hris/db"
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
		if !account.ValidRole(*role) {
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
		err := d.InTx(ctx, func(ctx context.Context, q *db.Queries) error {
			u, err := q.GetUserByEmail(ctx, *email)
			if err != nil {
				return err
			}
			_, err = account.SetActive(ctx, q, cliActor(), u, sub == "activate")
			return err
		})
		switch {
		case errors.Is(err, db.ErrNotFound):
			return fmt.Errorf("no user with email %s", *email)
		case errors.Is(err, account.ErrLastAdmin):
			return fmt.Errorf("%s is the last active administrator: activate or create another one first", *email)
		case err != nil:
			return err
		}
		fmt.Fprintf(std.out, "%sd %s\n", sub, *email)
	case "password":
		pw, err := readPassword(std)
		if err != nil {
			return err
		}
		if err := account.CheckPasswordRules(pw); err != nil {
			return fmt.Errorf("password: %w", err)
		}
		hash, err := account.HashPassword(pw)
		if err != nil {
			return err
		}
		err = d.InTx(ctx, func(ctx context.Context, q *db.Queries) error {
			u, err := q.GetUserByEmail(ctx, *email)
			if err != nil {
				return err
			}
			return account.SetPassword(ctx, q, cliActor(), u, hash)
		})
		if errors.Is(err, db.ErrNotFound) {
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

// createUser validates and adds a user, with its audit row.
func createUser(ctx context.Context, d *db.DB, email, name, role, password string) (db.User, error) {
	email, problem := account.ValidateEmail(email)
	if problem != "" {
		return db.User{}, fmt.Errorf("--email %q: %s", email, problem)
	}
	if err := account.CheckPasswordRules(password); err != nil {
		return db.User{}, fmt.Errorf("password: %w", err)
	}
	hash, err := account.HashPassword(password)
	if err != nil {
		return db.User{}, err
	}
	var u db.User
	err = d.InTx(ctx, func(ctx context.Context, q *db.Queries) (err error) {
		u, err = account.Create(ctx, q, cliActor(), db.CreateUserParams{Email: email, Name: name, PasswordHash: hash, Role: role})
		return err
	})
	if _, dup := db.IsUniqueViolation(err); dup {
		return db.User{}, fmt.Errorf("a user with email %s already exists", email)
	}
	return u, err
}

// cliActor is who the audit log names for a change made from the command
// line: the operating-system user who ran it.
func cliActor() account.Actor {
	if u, err := user.Current(); err == nil {
		return account.Actor{Email: "cli:" + u.Username}
	}
	return account.Actor{Email: "cli"}
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
