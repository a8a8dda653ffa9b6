package main

import (
	"context"
	"fmt"
	"time"

	"hris/db"
)

// seedLeaveBatch is how many employees' leave one insert makes (about
// five requests each).
const seedLeaveBatch = 20_000

// seedLeave gives the employees from id firstID on (the ones this seed
// added) demo leave last year and this year (queries/leave.sql SeedLeave: a few periods each,
// decided when past, pending when ahead). Rows that exist are skipped,
// so running it again adds nothing.
func seedLeave(ctx context.Context, d *db.DB, firstID int64) (int64, error) {
	year := int32(time.Now().Year())
	var lastID, added int64
	err := d.Read(ctx, func(ctx context.Context, q *db.Queries) (err error) {
		lastID, err = q.LastEmployeeID(ctx)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("seed leave: %w", err)
	}
	for lo := firstID; lo <= lastID; lo += seedLeaveBatch {
		var k int64
		err := d.InTx(ctx, func(ctx context.Context, q *db.Queries) (err error) {
			k, err = q.SeedLeave(ctx, db.SeedLeaveParams{FirstYear: year - 1, LastYear: year, FirstID: lo, LastID: lo + seedLeaveBatch - 1})
			return err
		})
		if err != nil {
			return added, fmt.Errorf("seed leave of employees %d-%d: %w", lo, lo+seedLeaveBatch-1, err)
		}
		added += k
	}
	if added > 0 {
		if err := d.InTx(ctx, func(ctx context.Context, q *db.Queries) error { return q.AnalyzeLeave(ctx) }); err != nil {
			return added, fmt.Errorf("seed leave: analyze: %w", err)
		}
	}
	return added, nil
}
