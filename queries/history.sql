-- History of the pool and the server (web/history.go writes it, /ops reads
-- it back in buckets for its charts).

-- name: InsertPoolHistory :exec
INSERT INTO pool_history (at, instance_id, seconds, max_conns, in_use_avg, in_use_max,
    acquires, waited, acquire_ms, wait_ms, canceled, unavailable)
VALUES (@at, @instance_id, @seconds, @max_conns, @in_use_avg, @in_use_max,
    @acquires, @waited, @acquire_ms, @wait_ms, @canceled, @unavailable)
ON CONFLICT (at, instance_id) DO NOTHING;

-- name: PoolHistory :many
-- Every instance's minutes since @since, folded into buckets of
-- @bucket_seconds: one row per bucket and instance.
SELECT
    date_bin(make_interval(secs => @bucket_seconds::float8), at, TIMESTAMPTZ '2000-01-01 00:00:00+00')::timestamptz AS bucket,
    instance_id,
    avg(in_use_avg)::float8 AS in_use_avg,
    max(in_use_max)::int4 AS in_use_max,
    max(max_conns)::int4 AS max_conns,
    sum(acquires)::int8 AS acquires,
    sum(waited)::int8 AS waited,
    sum(acquire_ms)::float8 AS acquire_ms,
    sum(wait_ms)::float8 AS wait_ms,
    sum(canceled)::int8 AS canceled,
    sum(unavailable)::int8 AS unavailable,
    sum(seconds)::float8 AS seconds
FROM pool_history
WHERE at >= @since
GROUP BY 1, 2
ORDER BY 1, 2;

-- name: ServerReading :one
-- The server now: this database's sessions by state, the server's client
-- connections, and this database's cumulative counters.
SELECT
    count(*) FILTER (WHERE a.datname = current_database() AND a.backend_type = 'client backend' AND a.state = 'active')::int4 AS active,
    count(*) FILTER (WHERE a.datname = current_database() AND a.backend_type = 'client backend' AND a.state = 'idle')::int4 AS idle,
    count(*) FILTER (WHERE a.datname = current_database() AND a.backend_type = 'client backend' AND a.state LIKE 'idle in transaction%')::int4 AS idle_in_tx,
    count(*) FILTER (WHERE a.datname = current_database() AND a.backend_type = 'client backend' AND a.wait_event_type = 'Lock')::int4 AS waiting,
    count(*) FILTER (WHERE a.backend_type = 'client backend')::int4 AS clients,
    (SELECT setting::int4 FROM pg_catalog.pg_settings WHERE name = 'max_connections') AS max_connections,
    (SELECT d.xact_commit FROM pg_catalog.pg_stat_database d WHERE d.datname = current_database())::int8 AS commits_total,
    (SELECT d.xact_rollback FROM pg_catalog.pg_stat_database d WHERE d.datname = current_database())::int8 AS rollbacks_total,
    (SELECT d.blks_hit FROM pg_catalog.pg_stat_database d WHERE d.datname = current_database())::int8 AS blks_hit_total,
    (SELECT d.blks_read FROM pg_catalog.pg_stat_database d WHERE d.datname = current_database())::int8 AS blks_read_total,
    (SELECT d.stats_reset FROM pg_catalog.pg_stat_database d WHERE d.datname = current_database()) AS stats_reset
FROM pg_catalog.pg_stat_activity a;

-- name: LastServerHistory :one
SELECT at, commits_total, rollbacks_total, blks_hit_total, blks_read_total, stats_reset
FROM server_history
ORDER BY at DESC
LIMIT 1;

-- name: InsertServerHistory :execrows
INSERT INTO server_history (at, instance_id, active, idle, idle_in_tx, waiting, clients, max_connections,
    seconds, commits, rollbacks, blks_hit, blks_read,
    commits_total, rollbacks_total, blks_hit_total, blks_read_total, stats_reset)
VALUES (@at, @instance_id, @active, @idle, @idle_in_tx, @waiting, @clients, @max_connections,
    sqlc.narg('seconds'), sqlc.narg('commits'), sqlc.narg('rollbacks'), sqlc.narg('blks_hit'), sqlc.narg('blks_read'),
    @commits_total, @rollbacks_total, @blks_hit_total, @blks_read_total, sqlc.narg('stats_reset'))
ON CONFLICT (at) DO NOTHING;

-- name: ServerHistory :many
-- The server's minutes since @since in buckets of @bucket_seconds. Rates
-- come from the minutes whose deltas are known.
SELECT
    date_bin(make_interval(secs => @bucket_seconds::float8), at, TIMESTAMPTZ '2000-01-01 00:00:00+00')::timestamptz AS bucket,
    avg(active)::float8 AS active,
    avg(idle_in_tx)::float8 AS idle_in_tx,
    max(waiting)::int4 AS waiting,
    avg(clients)::float8 AS clients,
    max(max_connections)::int4 AS max_connections,
    coalesce(sum(seconds) FILTER (WHERE commits IS NOT NULL), 0)::float8 AS seconds,
    coalesce(sum(commits), 0)::int8 AS commits,
    coalesce(sum(rollbacks), 0)::int8 AS rollbacks,
    coalesce(sum(blks_hit), 0)::int8 AS blks_hit,
    coalesce(sum(blks_read), 0)::int8 AS blks_read
FROM server_history
WHERE at >= @since
GROUP BY 1
ORDER BY 1;

-- Retention deletes a bounded batch at a time (the caller repeats while a
-- batch comes back full), so a shortened HRIS_HISTORY_RETENTION never
-- turns into one huge delete.

-- name: DeleteOldPoolHistory :execrows
DELETE FROM pool_history d WHERE d.ctid = ANY (ARRAY(
    SELECT o.ctid FROM pool_history o WHERE o.at < @before LIMIT @batch));

-- name: DeleteOldServerHistory :execrows
DELETE FROM server_history d WHERE d.ctid = ANY (ARRAY(
    SELECT o.ctid FROM server_history o WHERE o.at < @before LIMIT @batch));
