-- Queries of the ops dashboard. They run on the small ops pool and read
-- only system views, schema-qualified so sqlc finds them. Durations are
-- seconds as float8 (sqlc would infer an interval wrongly otherwise).

-- name: OpsServer :one
-- The server's connection limits and how many client sessions use them.
SELECT
    current_database()::text AS database,
    (SELECT setting::int4 FROM pg_catalog.pg_settings WHERE name = 'max_connections') AS max_connections,
    (SELECT setting::int4 FROM pg_catalog.pg_settings WHERE name = 'superuser_reserved_connections') AS reserved_connections,
    count(*) FILTER (WHERE a.backend_type = 'client backend')::int4 AS client_connections,
    count(*) FILTER (WHERE a.backend_type = 'client backend' AND a.datname IS DISTINCT FROM current_database())::int4 AS other_database_connections
FROM pg_catalog.pg_stat_activity a;

-- name: OpsActivity :many
-- Client sessions of this database, longest running first; the caller's
-- own session is left out.
SELECT
    a.pid::int4 AS pid,
    coalesce(a.usename::text, '')::text AS usename,
    coalesce(a.application_name, '')::text AS application_name,
    coalesce(host(a.client_addr), '')::text AS client_addr,
    coalesce(a.state, '')::text AS state,
    coalesce(a.wait_event_type, '')::text AS wait_event_type,
    coalesce(a.wait_event, '')::text AS wait_event,
    coalesce(a.query, '')::text AS query,
    coalesce(extract(epoch FROM now() - a.query_start), 0)::float8 AS query_seconds,
    coalesce(extract(epoch FROM now() - a.xact_start), 0)::float8 AS xact_seconds,
    coalesce(extract(epoch FROM now() - a.state_change), 0)::float8 AS state_seconds,
    coalesce(extract(epoch FROM now() - a.backend_start), 0)::float8 AS backend_seconds
FROM pg_catalog.pg_stat_activity a
WHERE a.datname = current_database()
  AND a.backend_type = 'client backend'
  AND a.pid <> pg_catalog.pg_backend_pid()
ORDER BY a.query_start NULLS LAST, a.pid;

-- name: OpsBlocked :many
-- Sessions waiting for a lock, one row per session blocking them.
-- pg_blocking_pids is only asked about sessions that wait on a lock: it
-- takes the lock manager's locks briefly.
SELECT
    w.pid::int4 AS blocked_pid,
    coalesce(w.usename::text, '')::text AS blocked_user,
    coalesce(w.application_name, '')::text AS blocked_application,
    coalesce(w.query, '')::text AS blocked_query,
    coalesce(extract(epoch FROM now() - coalesce(wl.waitstart, w.query_start)), 0)::float8 AS wait_seconds,
    coalesce(wl.locktype, '')::text AS lock_type,
    coalesce(wl.mode, '')::text AS lock_mode,
    coalesce(wl.relation::regclass::text, '')::text AS lock_relation,
    bp.pid::int4 AS blocker_pid,
    coalesce(b.usename::text, '')::text AS blocker_user,
    coalesce(b.application_name, '')::text AS blocker_application,
    coalesce(b.state, '')::text AS blocker_state,
    coalesce(b.query, '')::text AS blocker_query,
    coalesce(extract(epoch FROM now() - b.xact_start), 0)::float8 AS blocker_xact_seconds,
    coalesce(extract(epoch FROM now() - b.query_start), 0)::float8 AS blocker_query_seconds,
    coalesce(b.datname = current_database(), false)::bool AS blocker_here
FROM pg_catalog.pg_stat_activity w
CROSS JOIN LATERAL unnest(pg_catalog.pg_blocking_pids(w.pid)) AS bp(pid)
LEFT JOIN pg_catalog.pg_stat_activity b ON b.pid = bp.pid
LEFT JOIN LATERAL (
    SELECT l.locktype, l.mode, l.relation, l.waitstart
    FROM pg_catalog.pg_locks l
    WHERE l.pid = w.pid AND NOT l.granted
    LIMIT 1
) wl ON true
WHERE w.datname = current_database()
  AND w.wait_event_type = 'Lock'
ORDER BY wait_seconds DESC, w.pid, bp.pid;

-- name: OpsDatabase :one
-- This database's cumulative statistics; the dashboard turns the counters
-- into rates between two samples.
SELECT
    d.datname::text AS database,
    pg_catalog.pg_database_size(d.datid)::int8 AS size_bytes,
    d.numbackends::int4 AS backends,
    d.xact_commit::int8 AS xact_commit,
    d.xact_rollback::int8 AS xact_rollback,
    d.blks_read::int8 AS blks_read,
    d.blks_hit::int8 AS blks_hit,
    d.deadlocks::int8 AS deadlocks,
    d.temp_files::int8 AS temp_files,
    d.temp_bytes::int8 AS temp_bytes,
    d.conflicts::int8 AS conflicts,
    d.stats_reset AS stats_reset
FROM pg_catalog.pg_stat_database d
WHERE d.datname = current_database();

-- name: OpsBackend :one
-- One session, wherever it is, for the cancel and terminate actions.
SELECT
    a.pid::int4 AS pid,
    coalesce(a.datname::text, '')::text AS datname,
    coalesce(a.datname = current_database(), false)::bool AS here,
    coalesce(a.backend_type, '')::text AS backend_type,
    (a.pid = pg_catalog.pg_backend_pid())::bool AS is_self,
    coalesce(a.usename::text, '')::text AS usename,
    coalesce(a.application_name, '')::text AS application_name,
    coalesce(host(a.client_addr), '')::text AS client_addr,
    coalesce(a.state, '')::text AS state,
    coalesce(a.wait_event_type, '')::text AS wait_event_type,
    coalesce(a.wait_event, '')::text AS wait_event,
    coalesce(a.query, '')::text AS query,
    coalesce(extract(epoch FROM now() - a.query_start), 0)::float8 AS query_seconds,
    coalesce(extract(epoch FROM now() - a.xact_start), 0)::float8 AS xact_seconds
FROM pg_catalog.pg_stat_activity a
WHERE a.pid = @pid::int4;

-- name: CancelBackend :one
SELECT pg_catalog.pg_cancel_backend(@pid::int4)::bool AS signalled;

-- name: TerminateBackend :one
SELECT pg_catalog.pg_terminate_backend(@pid::int4)::bool AS signalled;
