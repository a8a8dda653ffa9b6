package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5"

	"hris/db"
	"hris/db/pglocal"
	"hris/db/seed"
)

// devState is what `hris dev` remembers between runs, in .data/hris-dev.json
// (mode 0600): the private server's password and the demo logins.
type devState struct {
	DBPassword    string `json:"db_password"`
	AdminEmail    string `json:"admin_email"`
	AdminPassword string `json:"admin_password"`
	HREmail       string `json:"hr_email"`
	HRPassword    string `json:"hr_password"`
}

// cmdDev runs everything a newcomer needs: a private PostgreSQL under
// ./.data (created on first run), migrations, demo data, an admin login,
// and the server. Ctrl-C stops the server, then PostgreSQL.
func cmdDev(ctx context.Context, e env, args []string, std stdio) (err error) {
	fs := newFlags("dev", std.err)
	dir := fs.String("dir", ".data", "where the private PostgreSQL and the demo logins live")
	employees := fs.Int("employees", 500, "demo employees to seed on first run")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := parseConfig(e, false)
	if err != nil {
		return err
	}
	if e.get("HRIS_COOKIE_SECURE") == "" {
		cfg.CookieSecure = false // plain http://localhost
	}
	log := newLogger(cfg, std.err)
	start := time.Now()

	if err := os.MkdirAll(*dir, 0o700); err != nil {
		return err
	}
	state, err := loadDevState(filepath.Join(*dir, "hris-dev.json"))
	if err != nil {
		return err
	}
	logPath := filepath.Join(*dir, "postgres.log")
	pgLog, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer pgLog.Close()
	fmt.Fprintf(std.out, "hris dev: starting PostgreSQL in %s (log: %s)\n", filepath.Join(*dir, "pg"), logPath)
	// pg_stat_statements is preloaded so /ops/queries has something to show.
	srv, err := pglocal.Start(ctx, pglocal.Options{
		Dir: filepath.Join(*dir, "pg"), Password: state.DBPassword, Log: pgLog,
		Settings: map[string]string{"shared_preload_libraries": "pg_stat_statements"},
	})
	if err != nil {
		return err
	}
	// Whatever happens next, the private server stops with us.
	defer func() {
		if stopErr := srv.Stop(30 * time.Second); stopErr != nil && err == nil {
			err = stopErr
		}
		fmt.Fprintln(std.out, "hris dev: PostgreSQL stopped")
	}()
	if err := ensureDatabase(ctx, srv.URL("postgres"), "hris"); err != nil {
		return err
	}
	if err := createExtension(ctx, srv.URL("hris"), "pg_stat_statements"); err != nil {
		return err
	}
	cfg.DB.URL = srv.URL("hris")
	cfg.DirectURL = ""
	if err := connect(ctx, cfg, log, true); err != nil {
		return err
	}
	if err := devData(ctx, cfg, state, *employees); err != nil {
		return err
	}
	return serve(ctx, cfg, log, false, func(addr string) {
		fmt.Fprintf(std.out, `
hris dev is ready (%s):
  open         %s
  admin login  %s  /  %s
  hr login     %s  /  %s
  database     %s  (private PostgreSQL, password in %s)
Ctrl-C stops the server and PostgreSQL.

`, time.Since(start).Round(time.Millisecond), localURL(addr), state.AdminEmail, state.AdminPassword,
			state.HREmail, state.HRPassword, redactURL(srv.URL("hris")), filepath.Join(*dir, "hris-dev.json"))
	})
}

func loadDevState(path string) (devState, error) {
	var s devState
	b, err := os.ReadFile(path)
	if err == nil {
		if err := json.Unmarshal(b, &s); err != nil {
			return s, fmt.Errorf("%s: %w (delete the file and the pg directory next to it to start afresh)", path, err)
		}
		return s, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return s, err
	}
	s = devState{
		DBPassword:    randomSecret(),
		AdminEmail:    "admin@hris.local",
		AdminPassword: randomSecret(),
		HREmail:       "hr@hris.local",
		HRPassword:    randomSecret(),
	}
	b, _ = json.MarshalIndent(s, "", "  ")
	return s, os.WriteFile(path, b, 0o600)
}

func randomSecret() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func ensureDatabase(ctx context.Context, adminURL, name string) error {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return err
	}
	if exists {
		return nil
	}
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	return err
}

// createExtension creates an extension (as the private server's superuser).
func createExtension(ctx context.Context, dbURL, name string) error {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE EXTENSION IF NOT EXISTS "+pgx.Identifier{name}.Sanitize()); err != nil {
		return fmt.Errorf("create extension %s: %w", name, err)
	}
	return nil
}

// devData seeds demo employees on first run and makes sure the demo
// logins exist with the remembered passwords.
func devData(ctx context.Context, cfg config, s devState, employees int) error {
	d, err := db.Open(ctx, cfg.DB, nil)
	if err != nil {
		return err
	}
	defer d.Close()
	var ids []int64
	if err := d.Read(ctx, func(ctx context.Context, q *db.Queries) (err error) {
		ids, err = q.DepartmentIDs(ctx)
		return err
	}); err != nil {
		return err
	}
	if len(ids) == 0 {
		if _, err := seed.Employees(ctx, d, employees); err != nil {
			return err
		}
	}
	for _, u := range []struct{ email, name, role, password string }{
		{s.AdminEmail, "Dev Admin", "admin", s.AdminPassword},
		{s.HREmail, "Dev HR", "hr", s.HRPassword},
	} {
		err := d.Read(ctx, func(ctx context.Context, q *db.Queries) error {
			_, err := q.GetUserByEmail(ctx, u.email)
			return err
		})
		if errors.Is(err, pgx.ErrNoRows) {
			_, err = createUser(ctx, d, u.email, u.name, u.role, u.password)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func redactURL(u string) string {
	cc, err := pgx.ParseConfig(u)
	if err != nil {
		return "(unparsable)"
	}
	return fmt.Sprintf("postgres://%s@%s:%d/%s", cc.User, cc.Host, cc.Port, cc.Database)
}
