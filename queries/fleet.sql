-- name: Heartbeat :exec
INSERT INTO app_instances (instance_id, host, version, exec_mode, started_at, last_seen, stopped_at,
    max_conns, ops_max_conns, total_conns, acquired_conns, idle_conns,
    acquire_count, empty_acquire_count, canceled_acquire_count, empty_acquire_wait_ms, retries)
VALUES (@instance_id, @host, @version, @exec_mode, @started_at, now(), sqlc.narg('stopped_at'),
    @max_conns, @ops_max_conns, @total_conns, @acquired_conns, @idle_conns,
    @acquire_count, @empty_acquire_count, @canceled_acquire_count, @empty_acquire_wait_ms, @retries)
ON CONFLICT (instance_id) DO UPDATE SET
    host = EXCLUDED.host, version = EXCLUDED.version, exec_mode = EXCLUDED.exec_mode,
    started_at = EXCLUDED.started_at, last_seen = now(), stopped_at = EXCLUDED.stopped_at,
    max_conns = EXCLUDED.max_conns, ops_max_conns = EXCLUDED.ops_max_conns,
    total_conns = EXCLUDED.total_conns, acquired_conns = EXCLUDED.acquired_conns,
    idle_conns = EXCLUDED.idle_conns, acquire_count = EXCLUDED.acquire_count,
    empty_acquire_count = EXCLUDED.empty_acquire_count,
    canceled_acquire_count = EXCLUDED.canceled_acquire_count,
    empty_acquire_wait_ms = EXCLUDED.empty_acquire_wait_ms, retries = EXCLUDED.retries;

-- FleetInstances lists instances seen in the last day, live ones first;
-- seconds_since_seen lets the page mark stale ones.
-- name: FleetInstances :many
SELECT instance_id, host, version, exec_mode, started_at, last_seen, stopped_at,
       max_conns, ops_max_conns, total_conns, acquired_conns, idle_conns,
       acquire_count, empty_acquire_count, canceled_acquire_count, empty_acquire_wait_ms, retries,
       extract(epoch from now() - last_seen)::float8 AS seconds_since_seen
FROM app_instances
WHERE last_seen > now() - interval '1 day'
ORDER BY (stopped_at IS NULL AND last_seen > now() - interval '15 seconds') DESC, instance_id;

-- name: ForgetOldInstances :execrows
DELETE FROM app_instances WHERE last_seen < now() - interval '1 day';
