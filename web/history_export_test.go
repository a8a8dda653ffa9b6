package web

import (
	"context"
	"time"
)

// Hooks into the history capture for the tests, which drive it at chosen
// moments instead of waiting for wall-clock boundaries.

// CaptureQueryStats takes the query statistics snapshot of interval at.
func CaptureQueryStats(a *App, ctx context.Context, at time.Time) (taken, baseline, reset bool, statements int, took time.Duration, err error) {
	r, err := a.captureQueryStats(ctx, at)
	return r.taken, r.baseline, r.reset, r.statements, r.took, err
}

// CaptureServer writes the server history row of step at.
func CaptureServer(a *App, ctx context.Context, at time.Time) error { return a.captureServer(ctx, at) }

// CaptureSizes records the relation sizes of day.
func CaptureSizes(a *App, ctx context.Context, day time.Time) error { return a.captureSizes(ctx, day) }

// PruneHistory deletes history older than the retention before now.
func PruneHistory(a *App, ctx context.Context, now time.Time) (int64, error) {
	return a.pruneHistory(ctx, now)
}

// SnapshotsTaken is how many query statistics snapshots this app took in
// its background loop.
func SnapshotsTaken(a *App) int64 {
	a.history.mu.Lock()
	defer a.history.mu.Unlock()
	return a.history.snapshots
}
