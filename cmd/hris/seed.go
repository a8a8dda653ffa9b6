package main

import (
	"context"
	"fmt"
	"time"

	"hris/db/seed"
)

func cmdSeed(ctx context.Context, e env, args []string, std stdio) error {
	fs := newFlags("seed", std.err)
	n := fs.Int("employees", 200, "how many demo employees to have")
	audit := fs.Int("audit", 0, "how many demo audit log entries to have")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *n < 0 || *n > 10_000_000 {
		return usageError{"seed: --employees must be between 0 and 10000000"}
	}
	if *audit < 0 || *audit > 100_000_000 {
		return usageError{"seed: --audit must be between 0 and 100000000"}
	}
	// A bulk load builds indexes over the whole table: longer than any
	// page may take, so the seed runs without the statement timeout.
	d, err := openDB(ctx, e, std, withoutStatementTimeout)
	if err != nil {
		return err
	}
	defer d.Close()
	start := time.Now()
	added, err := seed.Employees(ctx, d, *n)
	if err != nil {
		return err
	}
	fmt.Fprintf(std.out, "seeded: %d employees added (%d asked for) in %s\n", added, *n, time.Since(start).Round(time.Millisecond))
	if *audit > 0 {
		start = time.Now()
		added, err := seed.Audit(ctx, d, *audit, *n)
		if err != nil {
			return err
		}
		fmt.Fprintf(std.out, "seeded: %d audit entries added (%d asked for) in %s\n", added, *audit, time.Since(start).Round(time.Millisecond))
	}
	return nil
}
