-- Alerts (web/alerts*.go). The readings run on the small ops pool within
-- the dashboard's limits and read system views, schema-qualified for sqlc;
-- each returns at most @max_rows rows however busy the server is.

-- name: AlertLongQueries :many
-- Statements of this database running now, longest first, with how many
-- have run for longer than @threshold_seconds. A session waiting for a
-- lock is the blocked_query rule's, not this one's.
SELECT
    a.pid::int4 AS pid,
    coalesce(a.usename::text, '')::text AS usename,
    coalesce(a.application_name, '')::text AS application_name,
    coalesce(host(a.client_addr), '')::text AS client_addr,
    coalesce(a.query, '')::text AS query,
    coalesce(extract(epoch FROM now() - a.query_start), 0)::float8 AS seconds,
    (count(*) FILTER (WHERE a.query_start < now() - make_interval(secs => @threshold_seconds::float8)) OVER ())::int4 AS over_threshold
FROM pg_catalog.pg_stat_activity a
WHERE a.datname = current_database()
  AND a.backend_type = 'client backend'
  AND a.pid <> pg_catalog.pg_backend_pid()
  AND a.state = 'active'
  AND a.wait_event_type IS DISTINCT FROM 'Lock'
  AND a.query_start IS NOT NULL
ORDER BY a.query_start, a.pid
LIMIT @max_rows;

-- name: AlertIdleInTransaction :many
-- Sessions of this database idle inside a transaction, longest idle first
-- (since their last statement ended), with how many have been for longer
-- than @threshold_seconds.
SELECT
    a.pid::int4 AS pid,
    coalesce(a.usename::text, '')::text AS usename,
    coalesce(a.application_name, '')::text AS application_name,
    coalesce(host(a.client_addr), '')::text AS client_addr,
    coalesce(a.state, '')::text AS state,
    coalesce(a.query, '')::text AS query,
    coalesce(extract(epoch FROM now() - a.state_change), 0)::float8 AS seconds,
    coalesce(extract(epoch FROM now() - a.xact_start), 0)::float8 AS xact_seconds,
    (count(*) FILTER (WHERE a.state_change < now() - make_interval(secs => @threshold_seconds::float8)) OVER ())::int4 AS over_threshold
FROM pg_catalog.pg_stat_activity a
WHERE a.datname = current_database()
  AND a.backend_type = 'client backend'
  AND a.state IN ('idle in transaction', 'idle in transaction (aborted)')
  AND a.state_change IS NOT NULL
ORDER BY a.state_change, a.pid
LIMIT @max_rows;

-- name: AlertLockWaits :many
-- Sessions of this database waiting for a lock, one row per session
-- blocking each, longest waits first.
SELECT
    w.pid::int4 AS pid,
    coalesce(w.usename::text, '')::text AS usename,
    coalesce(w.application_name, '')::text AS application_name,
    coalesce(w.query, '')::text AS query,
    coalesce(extract(epoch FROM now() - coalesce(wl.waitstart, w.query_start)), 0)::float8 AS seconds,
    coalesce(wl.mode, '')::text AS lock_mode,
    coalesce(wl.locktype, '')::text AS lock_type,
    coalesce(wl.relation::regclass::text, '')::text AS lock_relation,
    bp.pid::int4 AS blocker_pid,
    coalesce(b.usename::text, '')::text AS blocker_user,
    coalesce(b.application_name, '')::text AS blocker_application,
    coalesce(host(b.client_addr), '')::text AS blocker_client,
    coalesce(b.state, '')::text AS blocker_state,
    coalesce(b.query, '')::text AS blocker_query,
    coalesce(extract(epoch FROM now() - b.xact_start), 0)::float8 AS blocker_xact_seconds,
    (b.wait_event_type IS NOT DISTINCT FROM 'Lock')::bool AS blocker_waiting
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
ORDER BY seconds DESC, w.pid, bp.pid
LIMIT @max_rows;

-- name: OpenAlerts :many
-- Episodes firing now, critical first.
SELECT id, rule, subject, severity, summary, details, instance, started_at, fired_at, updated_at, local_key
FROM alerts
WHERE resolved_at IS NULL
ORDER BY severity = 'critical' DESC, fired_at, id
LIMIT @max_rows;

-- name: OpenAlert :one
-- Opens an episode; no row when one of this rule and subject is open
-- already (another evaluator fired it).
INSERT INTO alerts (rule, subject, severity, summary, details, instance, started_at, fired_at, updated_at)
VALUES (@rule, @subject, @severity, @summary, @details, @instance, @started_at, @fired_at, @fired_at)
ON CONFLICT (rule, subject) WHERE resolved_at IS NULL DO NOTHING
RETURNING id;

-- name: EscalateAlert :one
-- A firing warning becomes critical; no row when it is critical already
-- or no longer open.
UPDATE alerts
SET severity = 'critical', summary = @summary, details = @details, updated_at = @at
WHERE id = @id AND resolved_at IS NULL AND severity = 'warning'
RETURNING id;

-- name: RefreshAlert :exec
-- The latest summary and details of a firing episode (no transition).
UPDATE alerts
SET summary = @summary, details = @details, updated_at = @at
WHERE id = @id AND resolved_at IS NULL;

-- name: ResolveAlert :one
-- Ends an episode; no row when it has ended already.
UPDATE alerts
SET resolved_at = @at::timestamptz, updated_at = @at::timestamptz
WHERE id = @id AND resolved_at IS NULL
RETURNING id, rule, subject, severity, summary, details, instance, started_at, fired_at;

-- name: InsertAlertTransition :execrows
-- Stores a transition once: a second firing of one severity, or a second
-- resolved, of the same episode is a no-op (the unique indexes).
INSERT INTO alert_transitions (alert_id, status, severity, at, body, delivery, attempts, last_attempt_at, sent_at, sent_by, last_error)
VALUES (@alert_id, @status, @severity, @at, @body, @delivery, @attempts,
        sqlc.narg('last_attempt_at'), sqlc.narg('sent_at'), sqlc.narg('sent_by'), sqlc.narg('last_error'))
ON CONFLICT DO NOTHING;

-- name: SupersedeAlerts :many
-- Ends the open episode of a rule and subject that an earlier process of
-- the same instance left behind (it crashed while firing), before this
-- process records its own.
UPDATE alerts
SET resolved_at = @at::timestamptz, updated_at = @at::timestamptz
WHERE rule = @rule AND subject = @subject AND resolved_at IS NULL
  AND local_key IS DISTINCT FROM @local_key::uuid
RETURNING id, rule, subject, severity, summary, details, instance, started_at, fired_at;

-- name: RecordLocalAlert :one
-- An episode an instance evaluated about itself, written (again) from
-- what the instance knows: idempotent by local_key.
INSERT INTO alerts AS a (rule, subject, severity, summary, details, instance, started_at, fired_at, updated_at, resolved_at, local_key)
VALUES (@rule, @subject, @severity, @summary, @details, @instance, @started_at, @fired_at, @updated_at,
        sqlc.narg('resolved_at'), @local_key::uuid)
ON CONFLICT (local_key) DO UPDATE SET
    severity = CASE WHEN a.severity = 'critical' THEN 'critical' ELSE EXCLUDED.severity END,
    summary = EXCLUDED.summary,
    details = EXCLUDED.details,
    updated_at = EXCLUDED.updated_at,
    resolved_at = coalesce(a.resolved_at, EXCLUDED.resolved_at)
RETURNING a.id;

-- name: ClaimAlertTransition :one
-- The oldest transition still to send, claimed by @instance for one
-- attempt, when it is due and nobody else is sending it. Transitions go
-- out in order: while the oldest waits for its next attempt, the later
-- ones (for the same receiver) wait too.
UPDATE alert_transitions t
SET claimed_by = @instance::text,
    claimed_until = now() + make_interval(secs => @claim_seconds::float8),
    attempts = t.attempts + 1,
    last_attempt_at = now()
WHERE t.id = (SELECT p.id FROM alert_transitions p WHERE p.delivery = 'pending' ORDER BY p.id LIMIT 1)
  AND t.delivery = 'pending'
  AND t.next_attempt_at <= now()
  AND (t.claimed_until IS NULL OR t.claimed_until < now())
RETURNING t.id, t.alert_id, t.status, t.severity, t.at, t.body, t.attempts,
    extract(epoch FROM now() - t.at)::float8 AS age_seconds;

-- name: NextAlertTransition :one
-- The head of the outbox: when it may be tried next.
SELECT p.id, p.next_attempt_at, p.claimed_until, p.attempts,
    extract(epoch FROM greatest(p.next_attempt_at, coalesce(p.claimed_until, p.next_attempt_at)) - now())::float8 AS wait_seconds
FROM alert_transitions p
WHERE p.delivery = 'pending'
ORDER BY p.id
LIMIT 1;

-- name: MarkAlertSent :exec
UPDATE alert_transitions
SET delivery = 'sent', sent_at = now(), sent_by = @instance::text, last_error = NULL,
    claimed_by = NULL, claimed_until = NULL
WHERE id = @id AND delivery = 'pending';

-- name: MarkAlertAttemptFailed :exec
-- A failed attempt: tried again after @retry_seconds, or given up when
-- @delivery is 'failed'.
UPDATE alert_transitions
SET delivery = @delivery::text, last_error = @last_error::text,
    next_attempt_at = now() + make_interval(secs => @retry_seconds::float8),
    claimed_by = NULL, claimed_until = NULL
WHERE id = @id AND delivery = 'pending';

-- name: MarkAlertsUnsent :execrows
-- With no webhook configured, what is pending is kept as history only, so
-- that configuring one later does not send old news.
UPDATE alert_transitions
SET delivery = 'unsent', last_error = @reason::text
WHERE id = ANY (ARRAY(SELECT p.id FROM alert_transitions p WHERE p.delivery = 'pending' ORDER BY p.id LIMIT 100));

-- name: AlertOutboxPending :one
-- How many transitions wait to be sent (counted up to 1000).
SELECT count(*)::int4 FROM (SELECT 1 FROM alert_transitions p WHERE p.delivery = 'pending' LIMIT 1000) n;

-- name: AlertOutboxHead :one
-- The oldest transition waiting to be sent, and how its attempts went.
SELECT p.id, p.at, p.attempts, p.next_attempt_at, coalesce(p.last_error, '')::text AS last_error
FROM alert_transitions p
WHERE p.delivery = 'pending'
ORDER BY p.id
LIMIT 1;

-- name: LastAlertDelivery :one
-- The latest attempt to send a transition, whatever its outcome.
SELECT t.id, t.status, t.severity, t.delivery, t.attempts, t.last_attempt_at, coalesce(t.last_error, '')::text AS last_error,
    t.sent_at, coalesce(t.sent_by, '')::text AS sent_by, a.rule, a.subject
FROM alert_transitions t
JOIN alerts a ON a.id = t.alert_id
WHERE t.last_attempt_at IS NOT NULL
ORDER BY t.last_attempt_at DESC
LIMIT 1;

-- name: ResolvedAlerts :many
-- The latest episodes that ended (alerts_resolved).
SELECT id, rule, subject, severity, summary, details, instance, started_at, fired_at, updated_at, resolved_at
FROM alerts
WHERE resolved_at IS NOT NULL
ORDER BY resolved_at DESC
LIMIT @max_rows;

-- name: AlertTransitionsOf :many
SELECT id, alert_id, status, severity, at, delivery, attempts, last_attempt_at,
    coalesce(last_error, '')::text AS last_error, sent_at, coalesce(sent_by, '')::text AS sent_by
FROM alert_transitions
WHERE alert_id = ANY (@alert_ids::int8[])
ORDER BY id;

-- name: DeleteOldAlerts :execrows
-- Retention: resolved episodes (and their transitions) older than @before,
-- a bounded batch at a time.
DELETE FROM alerts d WHERE d.id = ANY (ARRAY(
    SELECT o.id FROM alerts o WHERE o.resolved_at < @before::timestamptz ORDER BY o.resolved_at LIMIT @batch));
