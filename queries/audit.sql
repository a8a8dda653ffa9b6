-- name: InsertAudit :exec
INSERT INTO audit_log (actor_id, actor_email, action, entity, entity_id, before, after, client_ip)
VALUES (sqlc.narg('actor_id'), @actor_email, @action, @entity, sqlc.narg('entity_id'),
        sqlc.narg('before'), sqlc.narg('after'), @client_ip);

-- ListAudit is one page of the audit log, newest first, after the keyset
-- cursor (@before_at, @before_id); the first page passes a cursor past any
-- row. Empty filters match everything; @action is a prefix ("employee."),
-- @actor a part of the actor's email, @from_at/@to_at bound the time.
-- name: ListAudit :many
SELECT id, at, actor_id, actor_email, action, entity, entity_id, before, after, client_ip
FROM audit_log
WHERE (at, id) < (@before_at::timestamptz, @before_id::bigint)
  AND (@entity::text = '' OR entity = @entity)
  AND (@action::text = '' OR action LIKE @action || '%')
  AND (@actor::text = '' OR actor_email ILIKE '%' || @actor || '%')
  AND (sqlc.narg('from_at')::timestamptz IS NULL OR at >= sqlc.narg('from_at'))
  AND (sqlc.narg('to_at')::timestamptz IS NULL OR at < sqlc.narg('to_at'))
ORDER BY at DESC, id DESC
LIMIT @page_size;

-- RecordAudit is the latest history of one record, for its page.
-- name: RecordAudit :many
SELECT id, at, actor_id, actor_email, action, entity, entity_id, before, after, client_ip
FROM audit_log
WHERE entity = @entity AND entity_id = @entity_id
ORDER BY at DESC, id DESC
LIMIT @max_rows;
