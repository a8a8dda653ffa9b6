-- name: InsertAudit :exec
INSERT INTO audit_log (actor_id, actor_email, action, entity, entity_id, before, after, client_ip)
VALUES (sqlc.narg('actor_id'), @actor_email, @action, @entity, sqlc.narg('entity_id'),
        sqlc.narg('before'), sqlc.narg('after'), @client_ip);

-- The audit log page, newest first, one page after the keyset cursor
-- (before_at, before_id; the first page passes a cursor past any row).
-- Filters: entity exact; action a prefix of the action ("employee.");
-- actor a prefix of the actor's email, any case; from_at/to_at bound
-- the time. Empty filters match everything.
--
-- The log grows without end, so each page reads one page of it: the query
-- is chosen by its filters (web/auditlog.go), each walks an index that
-- ends in (at, id), newest first, and the time range is a condition of
-- that walk. The filters the index does not serve are checked on the rows
-- it hands over.

-- ListAudit walks the whole log by time: no filter, or only entity-free
-- ones the rows are checked against.
-- name: ListAudit :many
SELECT id, at, actor_id, actor_email, action, entity, entity_id, before, after, client_ip
FROM audit_log
WHERE (at, id) < (@before_at::timestamptz, @before_id::bigint)
  AND at >= @from_at::timestamptz AND at < @to_at::timestamptz
  AND (@entity::text = '' OR entity = @entity)
  AND (@action::text = '' OR action LIKE @action || '%')
  AND (@actor::text = '' OR lower(actor_email) LIKE @actor || '%')
ORDER BY at DESC, id DESC
LIMIT @page_size;

-- ListAuditByEntity walks one kind of record's entries.
-- name: ListAuditByEntity :many
SELECT id, at, actor_id, actor_email, action, entity, entity_id, before, after, client_ip
FROM audit_log
WHERE entity = @entity::text
  AND (at, id) < (@before_at::timestamptz, @before_id::bigint)
  AND at >= @from_at::timestamptz AND at < @to_at::timestamptz
  AND (@action::text = '' OR action LIKE @action || '%')
  AND (@actor::text = '' OR lower(actor_email) LIKE @actor || '%')
ORDER BY entity, at DESC, id DESC
LIMIT @page_size;

-- ListAuditByAction finds the distinct actions starting with action (a
-- few: the app writes a couple of dozen kinds), reads a page of each in
-- time order and merges them. action_end is action followed by the
-- highest character. At most max_values actions are merged; CountAuditValues
-- says when a prefix covers more.
-- name: ListAuditByAction :many
WITH RECURSIVE actions (action, n) AS (
    (SELECT l.action COLLATE "C", 1 FROM audit_log l
     WHERE l.action COLLATE "C" >= @action::text AND l.action COLLATE "C" < @action_end::text
     ORDER BY l.action COLLATE "C" LIMIT 1)
    UNION ALL
    SELECT (SELECT l.action COLLATE "C" FROM audit_log l
            WHERE l.action COLLATE "C" > actions.action AND l.action COLLATE "C" < @action_end::text
            ORDER BY l.action COLLATE "C" LIMIT 1), actions.n + 1
    FROM actions
    WHERE actions.action IS NOT NULL AND actions.n < @max_values::int
)
SELECT p.id, p.at, p.actor_id, p.actor_email, p.action, p.entity, p.entity_id, p.before, p.after, p.client_ip
FROM actions CROSS JOIN LATERAL (
    SELECT l.id, l.at, l.actor_id, l.actor_email, l.action, l.entity, l.entity_id, l.before, l.after, l.client_ip
    FROM audit_log l
    WHERE l.action COLLATE "C" = actions.action
      AND (l.at, l.id) < (@before_at::timestamptz, @before_id::bigint)
      AND l.at >= @from_at::timestamptz AND l.at < @to_at::timestamptz
      AND (@entity::text = '' OR l.entity = @entity)
      AND (@actor::text = '' OR lower(l.actor_email) LIKE @actor || '%')
    ORDER BY l.action COLLATE "C", l.at DESC, l.id DESC
    LIMIT @page_size
) p
WHERE actions.action IS NOT NULL
ORDER BY p.at DESC, p.id DESC
LIMIT @page_size;

-- ListAuditByActor is ListAuditByAction for the actor's email: the
-- distinct emails starting with actor (lowercase), a page of each, merged.
-- name: ListAuditByActor :many
WITH RECURSIVE actors (email, n) AS (
    (SELECT lower(l.actor_email) COLLATE "C", 1 FROM audit_log l
     WHERE lower(l.actor_email) COLLATE "C" >= @actor::text AND lower(l.actor_email) COLLATE "C" < @actor_end::text
     ORDER BY lower(l.actor_email) COLLATE "C" LIMIT 1)
    UNION ALL
    SELECT (SELECT lower(l.actor_email) COLLATE "C" FROM audit_log l
            WHERE lower(l.actor_email) COLLATE "C" > actors.email AND lower(l.actor_email) COLLATE "C" < @actor_end::text
            ORDER BY lower(l.actor_email) COLLATE "C" LIMIT 1), actors.n + 1
    FROM actors
    WHERE actors.email IS NOT NULL AND actors.n < @max_values::int
)
SELECT p.id, p.at, p.actor_id, p.actor_email, p.action, p.entity, p.entity_id, p.before, p.after, p.client_ip
FROM actors CROSS JOIN LATERAL (
    SELECT l.id, l.at, l.actor_id, l.actor_email, l.action, l.entity, l.entity_id, l.before, l.after, l.client_ip
    FROM audit_log l
    WHERE lower(l.actor_email) COLLATE "C" = actors.email
      AND (l.at, l.id) < (@before_at::timestamptz, @before_id::bigint)
      AND l.at >= @from_at::timestamptz AND l.at < @to_at::timestamptz
      AND (@entity::text = '' OR l.entity = @entity)
      AND (@action::text = '' OR l.action LIKE @action || '%')
    ORDER BY lower(l.actor_email) COLLATE "C", l.at DESC, l.id DESC
    LIMIT @page_size
) p
WHERE actors.email IS NOT NULL
ORDER BY p.at DESC, p.id DESC
LIMIT @page_size;

-- CountAuditActions says how many distinct actions start with prefix, up
-- to max_values + 1: more than max_values means a prefix too short to
-- merge, and the page walks the log by time instead (such a prefix
-- matches a large share of it). CountAuditActors is the same for emails.
-- name: CountAuditActions :one
WITH RECURSIVE vals (v, n) AS (
    (SELECT l.action COLLATE "C", 1 FROM audit_log l
     WHERE l.action COLLATE "C" >= @prefix::text AND l.action COLLATE "C" < @prefix_end::text
     ORDER BY l.action COLLATE "C" LIMIT 1)
    UNION ALL
    SELECT (SELECT l.action COLLATE "C" FROM audit_log l
            WHERE l.action COLLATE "C" > vals.v AND l.action COLLATE "C" < @prefix_end::text
            ORDER BY l.action COLLATE "C" LIMIT 1), vals.n + 1
    FROM vals
    WHERE vals.v IS NOT NULL AND vals.n <= @max_values::int
)
SELECT count(v)::int FROM vals;

-- name: CountAuditActors :one
WITH RECURSIVE vals (v, n) AS (
    (SELECT lower(l.actor_email) COLLATE "C", 1 FROM audit_log l
     WHERE lower(l.actor_email) COLLATE "C" >= @prefix::text AND lower(l.actor_email) COLLATE "C" < @prefix_end::text
     ORDER BY lower(l.actor_email) COLLATE "C" LIMIT 1)
    UNION ALL
    SELECT (SELECT lower(l.actor_email) COLLATE "C" FROM audit_log l
            WHERE lower(l.actor_email) COLLATE "C" > vals.v AND lower(l.actor_email) COLLATE "C" < @prefix_end::text
            ORDER BY lower(l.actor_email) COLLATE "C" LIMIT 1), vals.n + 1
    FROM vals
    WHERE vals.v IS NOT NULL AND vals.n <= @max_values::int
)
SELECT count(v)::int FROM vals;

-- RecordAudit is the latest history of one record, for its page.
-- name: RecordAudit :many
SELECT id, at, actor_id, actor_email, action, entity, entity_id, before, after, client_ip
FROM audit_log
WHERE entity = @entity AND entity_id = @entity_id
ORDER BY at DESC, id DESC
LIMIT @max_rows;
