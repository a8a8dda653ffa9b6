-- name: InsertAudit :exec
INSERT INTO audit_log (actor_id, actor_email, action, entity, entity_id, before, after, client_ip)
VALUES (sqlc.narg('actor_id'), @actor_email, @action, @entity, sqlc.narg('entity_id'),
        sqlc.narg('before'), sqlc.narg('after'), @client_ip);
