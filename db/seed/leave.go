package seed

import (
	"context"
	"fmt"
	"time"

	"hris/db"
)

const (
	// leaveEmployees is how many of a run's new employees get demo
	// leave. Enough for the leave pages to look lived in; all of a million
	// would be 7M requests, ten minutes of inserting (the overlap
	// constraint and six indexes), and `hris seed` must stay fast.
	leaveEmployees = 1_000
	// leaveBatch is how many employees' leave one insert makes (about
	// seven requests each).
	leaveBatch = 1_000
)

// Leave gives leaveEmployees employees from id firstID on (the
// ones this seed added) demo leave last year, this year and next year
// (queries/leave.sql SeedLeave: a few periods a year, decided when past,
// mostly pending when ahead). Rows that exist are skipped, so running it
// again adds nothing.
func Leave(ctx context.Context, d *db.DB, firstID int64) (int64, error) {
	year := int32(time.Now().Year())
	var lastID, added int64
	err := d.Read(ctx, func(ctx context.Context, q *db.Queries) (err error) {
		lastID, err = q.LastEmployeeID(ctx)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("seed leave: %w", err)
	}
	lastID = min(lastID, firstID+leaveEmployees-1)
	for lo := firstID; lo <= lastID; lo += leaveBatch {
		var k int64
		err := d.InTx(ctx, func(ctx context.Context, q *db.Queries) (err error) {
			k, err = q.SeedLeave(ctx, db.SeedLeaveParams{FirstYear: year - 1, LastYear: year + 1, FirstID: lo, LastID: min(lo+leaveBatch-1, lastID)})
			return err
		})
		if err != nil {
			return added, fmt.Errorf("seed leave of employees %d-%d: %w", lo, lo+leaveBatch-1, err)
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
