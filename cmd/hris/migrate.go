package main

import (
	"context"
	"fmt"

	"hris/db"
)

func cmdMigrate(ctx context.Context, e env, args []string, std stdio) error {
	if err := parseFlags(newFlags("migrate", std.err), args); err != nil {
		return err
	}
	cfg, err := parseConfig(e, true)
	if err != nil {
		return err
	}
	log := newLogger(cfg, std.err)
	direct := cfg.directDB()
	if err := db.Verify(ctx, direct, cfg.StartupTimeout, log); err != nil {
		return err
	}
	m, err := db.NewMigrator(direct, nil)
	if err != nil {
		return err
	}
	defer m.Close()
	n, err := m.Up(ctx)
	if err != nil {
		return err
	}
	st, err := m.Status(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(std.out, "applied %d migration(s); schema at version %d\n", n, st.Current)
	return nil
}
