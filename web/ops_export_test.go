package web

// OpsLoads reports how often each /ops panel read PostgreSQL, and how many
// statements those reads ran, for the dashboard's cost test.
func OpsLoads(a *App) (activity, locks, database, statements int64) {
	return a.ops.activity.loads.Load(), a.ops.locks.loads.Load(), a.ops.database.loads.Load(), a.ops.statements.Load()
}
