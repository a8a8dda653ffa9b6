-- pg_stat_statements, live and as stored snapshots (web/querystats.go).
-- Only this database's statements are read, summed over users by queryid.

-- name: StatStatementsStatus :one
-- Whether pg_stat_statements can be read here: the extension's files are
-- installed on the server, it is created in this database (and in which
-- schema). Whether the library is preloaded shows when reading it.
SELECT
    EXISTS (SELECT 1 FROM pg_catalog.pg_available_extensions WHERE name = 'pg_stat_statements')::bool AS available,
    coalesce((SELECT n.nspname::text FROM pg_catalog.pg_extension e
              JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
              WHERE e.extname = 'pg_stat_statements'), '')::text AS schema_name,
    current_database()::text AS database;

-- name: StatStatementsInfo :one
SELECT stats_reset, dealloc::int8 AS dealloc FROM pg_stat_statements_info;

-- name: StatStatementsCounters :many
-- Cumulative counters of every statement of this database, without their
-- texts (showtext false: the texts file is not read).
SELECT
    s.queryid::int8 AS queryid,
    sum(s.calls)::int8 AS calls,
    sum(s.total_exec_time + s.total_plan_time)::float8 AS total_ms,
    sum(s.rows)::int8 AS rows,
    sum(s.shared_blks_hit)::int8 AS blks_hit,
    sum(s.shared_blks_read)::int8 AS blks_read
FROM pg_stat_statements(false) s
WHERE s.dbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())
  AND s.queryid IS NOT NULL
GROUP BY s.queryid;

-- name: StatStatementsTexts :many
SELECT s.queryid::int8 AS queryid, min(s.query)::text AS query
FROM pg_stat_statements s
WHERE s.dbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())
  AND s.queryid = ANY (@queryids::int8[])
GROUP BY s.queryid;

-- name: LiveQueryStats :many
-- The top statements now, by @sort (total, mean or calls), with the sum
-- over all of this database's statements for their share.
WITH s AS (
    SELECT
        s.queryid::int8 AS queryid,
        min(s.query)::text AS query,
        sum(s.calls)::int8 AS calls,
        sum(s.total_exec_time + s.total_plan_time)::float8 AS total_ms,
        sum(s.rows)::int8 AS rows,
        sum(s.shared_blks_hit)::int8 AS blks_hit,
        sum(s.shared_blks_read)::int8 AS blks_read
    FROM pg_stat_statements s
    WHERE s.dbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())
      AND s.queryid IS NOT NULL
      AND s.calls > 0
    GROUP BY s.queryid
)
SELECT s.queryid, s.query, s.calls, s.total_ms, s.rows, s.blks_hit, s.blks_read,
    (sum(s.total_ms) OVER ())::float8 AS all_total_ms,
    (sum(s.calls) OVER ())::int8 AS all_calls,
    (count(*) OVER ())::int8 AS statements
FROM s
ORDER BY CASE @sort::text
        WHEN 'calls' THEN s.calls::float8
        WHEN 'mean' THEN s.total_ms / s.calls
        ELSE s.total_ms
    END DESC, s.queryid
LIMIT @max_rows;

-- name: LiveQueryStat :one
SELECT
    s.queryid::int8 AS queryid,
    min(s.query)::text AS query,
    sum(s.calls)::int8 AS calls,
    sum(s.total_exec_time + s.total_plan_time)::float8 AS total_ms,
    sum(s.rows)::int8 AS rows,
    sum(s.shared_blks_hit)::int8 AS blks_hit,
    sum(s.shared_blks_read)::int8 AS blks_read
FROM pg_stat_statements s
WHERE s.dbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())
  AND s.queryid = @queryid::int8
GROUP BY s.queryid;

-- name: ClaimQuerySnapshot :one
-- Claims the interval @at for a new snapshot. No row when it is taken, or
-- when a later one exists (an instance with a slow clock): the interval
-- key is what makes "one snapshot per interval" hold across the fleet even
-- if two instances think they hold the lease.
INSERT INTO query_snapshots (at, taken_at, since, instance_id, reset, stats_reset, calls, total_ms, statements, capture_ms)
SELECT @at, now(), NULL, @instance_id, false, NULL, 0, 0, 0, 0
WHERE NOT EXISTS (SELECT 1 FROM query_snapshots WHERE at >= @at)
ON CONFLICT (at) DO NOTHING
RETURNING taken_at;

-- name: PreviousQuerySnapshot :one
SELECT at, taken_at, stats_reset FROM query_snapshots
WHERE at < @at
ORDER BY at DESC
LIMIT 1;

-- name: QueryBaseline :many
SELECT queryid, calls, total_ms, rows, blks_hit, blks_read FROM query_baseline;

-- name: ClearQueryBaseline :exec
DELETE FROM query_baseline;

-- name: DeleteQueryBaseline :exec
-- Forgets statements pg_stat_statements no longer has (evicted or reset).
DELETE FROM query_baseline WHERE queryid = ANY (@queryids::int8[]);

-- name: UpsertQueryBaseline :exec
INSERT INTO query_baseline (queryid, calls, total_ms, rows, blks_hit, blks_read)
SELECT unnest(@queryids::int8[]), unnest(@calls::int8[]), unnest(@total_ms::float8[]),
    unnest(@rows::int8[]), unnest(@blks_hit::int8[]), unnest(@blks_read::int8[])
ON CONFLICT (queryid) DO UPDATE SET
    calls = EXCLUDED.calls, total_ms = EXCLUDED.total_ms, rows = EXCLUDED.rows,
    blks_hit = EXCLUDED.blks_hit, blks_read = EXCLUDED.blks_read;

-- name: InsertQueryStats :exec
INSERT INTO query_stats (at, queryid, calls, total_ms, rows, blks_hit, blks_read)
SELECT @at::timestamptz, unnest(@queryids::int8[]), unnest(@calls::int8[]), unnest(@total_ms::float8[]),
    unnest(@rows::int8[]), unnest(@blks_hit::int8[]), unnest(@blks_read::int8[]);

-- name: KnownQueryTexts :many
SELECT queryid FROM query_texts WHERE queryid = ANY (@queryids::int8[]);

-- name: InsertQueryTexts :exec
INSERT INTO query_texts (queryid, query, first_seen)
SELECT unnest(@queryids::int8[]), unnest(@queries::text[]), now()
ON CONFLICT (queryid) DO NOTHING;

-- name: FinishQuerySnapshot :exec
UPDATE query_snapshots SET
    since = sqlc.narg('since'), reset = @reset, stats_reset = sqlc.narg('stats_reset'),
    calls = @calls, total_ms = @total_ms, statements = @statements, capture_ms = @capture_ms
WHERE at = @at;

-- name: QuerySnapshotsSince :one
-- What the snapshots since @since cover: their number, the time span of
-- their deltas, resets among them, and the sums over all statements.
SELECT
    count(*)::int4 AS snapshots,
    count(*) FILTER (WHERE reset)::int4 AS resets,
    coalesce(min(since), now())::timestamptz AS first_since,
    coalesce(max(taken_at), now())::timestamptz AS last_taken,
    coalesce(sum(calls), 0)::int8 AS calls,
    coalesce(sum(total_ms), 0)::float8 AS total_ms,
    coalesce(avg(capture_ms), 0)::float8 AS avg_capture_ms
FROM query_snapshots
WHERE at >= @since AND since IS NOT NULL;

-- name: StoredQueryStats :many
-- The top statements over the snapshots since @since, by @sort.
WITH s AS (
    SELECT queryid, sum(calls)::int8 AS calls, sum(total_ms)::float8 AS total_ms, sum(rows)::int8 AS rows,
        sum(blks_hit)::int8 AS blks_hit, sum(blks_read)::int8 AS blks_read
    FROM query_stats
    WHERE at >= @since
    GROUP BY queryid
)
SELECT s.queryid, coalesce(t.query, '')::text AS query, s.calls, s.total_ms, s.rows, s.blks_hit, s.blks_read,
    (count(*) OVER ())::int8 AS statements
FROM s
LEFT JOIN query_texts t ON t.queryid = s.queryid
WHERE s.calls > 0
ORDER BY CASE @sort::text
        WHEN 'calls' THEN s.calls::float8
        WHEN 'mean' THEN s.total_ms / s.calls
        ELSE s.total_ms
    END DESC, s.queryid
LIMIT @max_rows;

-- name: QueryHistory :many
-- One statement's snapshots since @since, oldest first, with the span
-- each delta covers.
SELECT q.at, q.calls, q.total_ms, q.rows, q.blks_hit, q.blks_read,
    extract(epoch FROM s.taken_at - s.since)::float8 AS seconds, s.reset
FROM query_stats q
JOIN query_snapshots s ON s.at = q.at
WHERE q.queryid = @queryid AND q.at >= @since
ORDER BY q.at;

-- name: StoredQueryText :one
SELECT query FROM query_texts WHERE queryid = @queryid;

-- name: SnapshotTimes :many
-- The snapshots since @since with the span of their deltas, for charts
-- whose statement did not run in every interval.
SELECT at, extract(epoch FROM taken_at - since)::float8 AS seconds
FROM query_snapshots
WHERE at >= @since AND since IS NOT NULL
ORDER BY at;

-- name: DeleteOldQuerySnapshots :execrows
-- Their query_stats rows go with them (ON DELETE CASCADE).
DELETE FROM query_snapshots d WHERE d.at = ANY (ARRAY(
    SELECT o.at FROM query_snapshots o WHERE o.at < @before ORDER BY o.at LIMIT @batch));

-- name: DeleteUnusedQueryTexts :execrows
DELETE FROM query_texts t
WHERE NOT EXISTS (SELECT 1 FROM query_stats s WHERE s.queryid = t.queryid);
