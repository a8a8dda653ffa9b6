-- name: MissingTables :many
SELECT name::text FROM unnest(@names::text[]) AS name
WHERE to_regclass(name) IS NULL;

-- name: SchemaVersion :one
SELECT coalesce(max(version_id), 0)::bigint AS version
FROM goose_db_version WHERE is_applied;
