-- Queries of the replication panel (GET /ops/replication) and the
-- failover watcher. System views schema-qualified for sqlc; LSN distances
-- as int8 bytes, intervals as float8 seconds.

-- name: ReplicationServer :one
-- The server hris is connected to: its role and its timeline. On a
-- primary the timeline is the current WAL file's; on a standby, the one
-- it receives (or replays, with no WAL receiver running).
SELECT
    pg_catalog.pg_is_in_recovery()::bool AS in_recovery,
    (CASE WHEN pg_catalog.pg_is_in_recovery()
        THEN coalesce((SELECT r.received_tli FROM pg_catalog.pg_stat_wal_receiver r),
                      (SELECT c.timeline_id FROM pg_catalog.pg_control_checkpoint() c))
        ELSE ('x' || substr(pg_catalog.pg_walfile_name(pg_catalog.pg_current_wal_lsn()), 1, 8))::bit(32)::int4
    END)::int4 AS timeline,
    coalesce(host(pg_catalog.inet_server_addr()), '')::text AS server_addr,
    coalesce(pg_catalog.inet_server_port(), 0)::int4 AS server_port,
    pg_catalog.current_setting('synchronous_standby_names')::text AS synchronous_standby_names,
    pg_catalog.current_setting('synchronous_commit')::text AS synchronous_commit;

-- name: ReplicationStandbys :many
-- The primary's standbys: how far behind each one writes, flushes and
-- replays, in bytes of WAL and in time. Run on a primary only.
SELECT
    coalesce(r.application_name, '')::text AS application_name,
    coalesce(host(r.client_addr), '')::text AS client_addr,
    coalesce(r.state, '')::text AS state,
    coalesce(r.sync_state, '')::text AS sync_state,
    coalesce(pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), r.write_lsn), 0)::int8 AS write_lag_bytes,
    coalesce(pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), r.flush_lsn), 0)::int8 AS flush_lag_bytes,
    coalesce(pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), r.replay_lsn), 0)::int8 AS replay_lag_bytes,
    coalesce(extract(epoch FROM r.write_lag), 0)::float8 AS write_lag_seconds,
    coalesce(extract(epoch FROM r.flush_lag), 0)::float8 AS flush_lag_seconds,
    coalesce(extract(epoch FROM r.replay_lag), 0)::float8 AS replay_lag_seconds,
    (r.write_lsn IS NOT NULL)::bool AS have_lsns
FROM pg_catalog.pg_stat_replication r
ORDER BY r.application_name, r.pid;

-- name: ReplicationSlots :many
-- Replication slots and the WAL each one holds back on this server.
SELECT
    s.slot_name::text AS slot_name,
    s.slot_type::text AS slot_type,
    s.active::bool AS active,
    coalesce(s.wal_status, '')::text AS wal_status,
    coalesce(pg_catalog.pg_wal_lsn_diff(
        CASE WHEN pg_catalog.pg_is_in_recovery() THEN pg_catalog.pg_last_wal_replay_lsn() ELSE pg_catalog.pg_current_wal_lsn() END,
        s.restart_lsn), 0)::int8 AS retained_bytes
FROM pg_catalog.pg_replication_slots s
ORDER BY s.slot_name;

-- name: ReplicationReceiver :one
-- A standby's own view: where it streams from, how much WAL the primary
-- has that it has not flushed yet (receive lag), and how much it has not
-- replayed (replay lag, in bytes and as the age of the last replayed
-- transaction while there is WAL left to replay).
SELECT
    coalesce(w.status, '')::text AS status,
    coalesce(w.sender_host, '')::text AS sender_host,
    coalesce(w.sender_port, 0)::int4 AS sender_port,
    coalesce(pg_catalog.pg_wal_lsn_diff(w.latest_end_lsn, w.flushed_lsn), 0)::int8 AS receive_lag_bytes,
    coalesce(extract(epoch FROM now() - w.last_msg_receipt_time), 0)::float8 AS last_message_seconds,
    coalesce(pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_last_wal_receive_lsn(), pg_catalog.pg_last_wal_replay_lsn()), 0)::int8 AS replay_lag_bytes,
    coalesce(CASE WHEN pg_catalog.pg_last_wal_receive_lsn() IS DISTINCT FROM pg_catalog.pg_last_wal_replay_lsn()
        THEN extract(epoch FROM now() - pg_catalog.pg_last_xact_replay_timestamp()) END, 0)::float8 AS replay_lag_seconds,
    (w.pid IS NOT NULL)::bool AS streaming
FROM (SELECT 1) one
LEFT JOIN pg_catalog.pg_stat_wal_receiver w ON true;

-- name: RecordFailover :execrows
-- One row per failover however many instances see it (see the table).
INSERT INTO failover_events (detected_at, detected_by, from_host, to_host, from_timeline, to_timeline)
VALUES (@detected_at, @detected_by, @from_host, @to_host, @from_timeline, @to_timeline)
ON CONFLICT (to_host, to_timeline) DO NOTHING;

-- name: PruneFailovers :exec
-- Keeps the newest 100 events.
DELETE FROM failover_events
WHERE id < (SELECT min(k.id) FROM (SELECT f.id FROM failover_events f ORDER BY f.id DESC LIMIT 100) k);

-- name: RecentFailovers :many
SELECT id, detected_at, detected_by, from_host, to_host, from_timeline, to_timeline
FROM failover_events
ORDER BY detected_at DESC, id DESC
LIMIT 5;
