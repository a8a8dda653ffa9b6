-- /ops/tables: space and maintenance, read from the catalogs and the
-- statistics views (after PgHero's checks; our own SQL). User schemas
-- only. Every list is capped by @max_rows: the page shows the worst ones.

-- name: OpsTableSizes :many
-- Sizes lock each table (ACCESS SHARE) for an instant: a table held by a
-- migration makes this wait, which the dashboard's lock_timeout ends.
SELECT
    n.nspname::text AS schema_name,
    c.relname::text AS name,
    pg_catalog.pg_total_relation_size(c.oid)::int8 AS total_bytes,
    pg_catalog.pg_table_size(c.oid)::int8 AS table_bytes,
    pg_catalog.pg_indexes_size(c.oid)::int8 AS index_bytes,
    -- reltuples is -1 until the first VACUUM or ANALYZE: the statistics' count then.
    (CASE WHEN c.reltuples >= 0 THEN c.reltuples ELSE pg_catalog.pg_stat_get_live_tuples(c.oid) END)::float8 AS rows_estimate
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'm', 'p')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname !~ '^pg_(toast|temp_)'
ORDER BY total_bytes DESC, n.nspname, c.relname
LIMIT @max_rows;

-- name: OpsIndexSizes :many
SELECT
    n.nspname::text AS schema_name,
    c.relname::text AS name,
    t.relname::text AS table_name,
    pg_catalog.pg_relation_size(c.oid)::int8 AS bytes
FROM pg_catalog.pg_index x
JOIN pg_catalog.pg_class c ON c.oid = x.indexrelid
JOIN pg_catalog.pg_class t ON t.oid = x.indrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname !~ '^pg_(toast|temp_)'
ORDER BY bytes DESC, n.nspname, c.relname
LIMIT @max_rows;

-- name: CaptureRelationSizes :execrows
-- Today's sizes of every table (with its indexes and TOAST) and index.
INSERT INTO relation_sizes (day, schema_name, name, kind, table_name, bytes)
SELECT
    @day::date,
    n.nspname,
    c.relname,
    CASE WHEN c.relkind IN ('i', 'I') THEN 'index' ELSE 'table' END,
    coalesce(t.relname, c.relname),
    CASE WHEN c.relkind IN ('i', 'I') THEN pg_catalog.pg_relation_size(c.oid)
         ELSE pg_catalog.pg_total_relation_size(c.oid) END
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_catalog.pg_index x ON x.indexrelid = c.oid
LEFT JOIN pg_catalog.pg_class t ON t.oid = x.indrelid
WHERE c.relkind IN ('r', 'm', 'p', 'i', 'I')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname !~ '^pg_(toast|temp_)'
ON CONFLICT (day, schema_name, name) DO NOTHING;

-- name: HaveRelationSizes :one
SELECT EXISTS (SELECT 1 FROM relation_sizes WHERE day = @day::date)::bool;

-- name: RelationSizesSince :many
-- Each relation's oldest daily size since @since: what growth is measured from.
SELECT DISTINCT ON (schema_name, name) schema_name, name, day, bytes
FROM relation_sizes
WHERE day >= @since::date
ORDER BY schema_name, name, day;

-- name: DeleteOldRelationSizes :execrows
DELETE FROM relation_sizes WHERE day < @before::date;

-- name: OpsTableMaintenance :many
-- Rows, scans, dead rows and the last vacuum and analyze of each table,
-- biggest first.
SELECT
    s.schemaname::text AS schema_name,
    s.relname::text AS name,
    (CASE WHEN c.reltuples >= 0 THEN c.reltuples ELSE s.n_live_tup END)::float8 AS rows_estimate,
    s.n_live_tup::int8 AS live_rows,
    s.n_dead_tup::int8 AS dead_rows,
    coalesce(s.seq_scan, 0)::int8 AS seq_scans,
    coalesce(s.idx_scan, 0)::int8 AS idx_scans,
    s.n_mod_since_analyze::int8 AS modified_since_analyze,
    s.last_vacuum,
    s.last_autovacuum,
    s.last_analyze,
    s.last_autoanalyze
FROM pg_catalog.pg_stat_user_tables s
JOIN pg_catalog.pg_class c ON c.oid = s.relid
ORDER BY s.n_live_tup + s.n_dead_tup DESC, s.schemaname, s.relname
LIMIT @max_rows;

-- name: OpsDatabaseXidAge :one
-- How far this database's oldest unfrozen transaction id is behind: at
-- about 2^31 PostgreSQL stops accepting writes to avoid wraparound.
SELECT
    d.datname::text AS database,
    age(d.datfrozenxid)::int8 AS xid_age,
    current_setting('autovacuum_freeze_max_age')::int8 AS freeze_max_age,
    (SELECT s.stats_reset FROM pg_catalog.pg_stat_database s WHERE s.datname = current_database()) AS stats_reset
FROM pg_catalog.pg_database d
WHERE d.datname = current_database();

-- name: OpsTableXidAges :many
SELECT
    n.nspname::text AS schema_name,
    c.relname::text AS name,
    greatest(age(c.relfrozenxid), coalesce(age(t.relfrozenxid), 0))::int8 AS xid_age
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_catalog.pg_class t ON t.oid = c.reltoastrelid
WHERE c.relkind IN ('r', 'm')
  AND n.nspname !~ '^pg_temp_'
ORDER BY xid_age DESC, n.nspname IN ('pg_catalog', 'information_schema'), n.nspname, c.relname
LIMIT @max_rows;

-- name: OpsUnusedIndexes :many
-- Indexes never scanned since the statistics were reset. Unique and
-- primary-key indexes enforce constraints, so they are never "unused".
SELECT
    ui.schemaname::text AS schema_name,
    ui.relname::text AS table_name,
    ui.indexrelname::text AS index_name,
    pg_catalog.pg_relation_size(ui.indexrelid)::int8 AS bytes,
    format('DROP INDEX CONCURRENTLY %I.%I;', ui.schemaname, ui.indexrelname)::text AS drop_sql
FROM pg_catalog.pg_stat_user_indexes ui
JOIN pg_catalog.pg_index i ON i.indexrelid = ui.indexrelid
WHERE ui.idx_scan = 0
  AND i.indisvalid
  AND NOT i.indisunique
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k WHERE k.conindid = i.indexrelid)
ORDER BY bytes DESC, schema_name, index_name
LIMIT @max_rows;

-- name: OpsDuplicateIndexes :many
-- Indexes whose key columns (same method, operator classes, expressions
-- and predicate) lead another valid index: every query they serve, the
-- other serves too. Of two identical ones the later name is listed.
SELECT
    n.nspname::text AS schema_name,
    t.relname::text AS table_name,
    ci.relname::text AS index_name,
    cc.relname::text AS covering_index,
    pg_catalog.pg_get_indexdef(a.indexrelid)::text AS definition,
    pg_catalog.pg_get_indexdef(b.indexrelid)::text AS covering_definition,
    pg_catalog.pg_relation_size(a.indexrelid)::int8 AS bytes,
    format('DROP INDEX CONCURRENTLY %I.%I;', n.nspname, ci.relname)::text AS drop_sql
FROM pg_catalog.pg_index a
JOIN pg_catalog.pg_index b ON b.indrelid = a.indrelid AND b.indexrelid <> a.indexrelid
JOIN pg_catalog.pg_class ci ON ci.oid = a.indexrelid
JOIN pg_catalog.pg_class cc ON cc.oid = b.indexrelid
JOIN pg_catalog.pg_class t ON t.oid = a.indrelid
JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace
WHERE a.indisvalid AND b.indisvalid
  AND NOT a.indisunique
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k WHERE k.conindid = a.indexrelid)
  AND ci.relam = cc.relam
  AND a.indnkeyatts <= b.indnkeyatts
  AND (b.indkey::int2[])[0:a.indnkeyatts - 1] = (a.indkey::int2[])[0:a.indnkeyatts - 1]
  AND (b.indclass::oid[])[0:a.indnkeyatts - 1] = (a.indclass::oid[])[0:a.indnkeyatts - 1]
  -- Expressions and predicates compared as stored trees (without the
  -- positions in the statements that made them), not deparsed: deparsing
  -- needs a lock on the table, which a migration may hold.
  AND coalesce(regexp_replace(a.indexprs::text, ':location -?[0-9]+', '', 'g'), '')
    = coalesce(regexp_replace(b.indexprs::text, ':location -?[0-9]+', '', 'g'), '')
  AND coalesce(regexp_replace(a.indpred::text, ':location -?[0-9]+', '', 'g'), '')
    = coalesce(regexp_replace(b.indpred::text, ':location -?[0-9]+', '', 'g'), '')
  AND (a.indnkeyatts < b.indnkeyatts OR b.indisunique OR ci.relname > cc.relname)
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname !~ '^pg_(toast|temp_)'
ORDER BY n.nspname, t.relname, ci.relname, cc.relname
LIMIT @max_rows;

-- name: OpsInvalidIndexes :many
-- Indexes left invalid by a failed CREATE INDEX CONCURRENTLY: written to
-- on every change, never used by a query.
SELECT
    n.nspname::text AS schema_name,
    t.relname::text AS table_name,
    c.relname::text AS index_name,
    pg_catalog.pg_get_indexdef(i.indexrelid)::text AS definition,
    pg_catalog.pg_relation_size(i.indexrelid)::int8 AS bytes,
    EXISTS (SELECT 1 FROM pg_catalog.pg_stat_progress_create_index p WHERE p.index_relid = i.indexrelid)::bool AS being_built,
    format('DROP INDEX CONCURRENTLY %I.%I;', n.nspname, c.relname)::text AS drop_sql
FROM pg_catalog.pg_index i
JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid
JOIN pg_catalog.pg_class t ON t.oid = i.indrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE NOT i.indisvalid
  AND n.nspname !~ '^pg_temp_'
ORDER BY n.nspname, t.relname, c.relname
LIMIT @max_rows;

-- name: OpsSequences :many
-- Sequences past @threshold of what they (or the column they feed, if
-- narrower) can hold.
WITH s AS (
    SELECT
        c.oid,
        q.schemaname::text AS schema_name,
        q.sequencename::text AS name,
        q.last_value,
        q.max_value,
        q.increment_by
    FROM pg_catalog.pg_sequences q
    JOIN pg_catalog.pg_namespace n ON n.nspname = q.schemaname
    JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = q.sequencename
    WHERE q.last_value IS NOT NULL AND q.increment_by > 0
), owned AS (
    SELECT
        s.*,
        coalesce(tc.relname::text, '')::text AS table_name,
        coalesce(a.attname::text, '')::text AS column_name,
        least(s.max_value, CASE a.atttypid
            WHEN 'int2'::regtype THEN 32767
            WHEN 'int4'::regtype THEN 2147483647
            ELSE 9223372036854775807 END)::int8 AS max_value_used
    FROM s
    LEFT JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = s.oid
        AND d.refclassid = 'pg_catalog.pg_class'::regclass AND d.refobjsubid > 0 AND d.deptype IN ('a', 'i')
    LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
    LEFT JOIN pg_catalog.pg_class tc ON tc.oid = d.refobjid
)
SELECT schema_name, name, table_name, column_name, last_value::int8 AS last_value, max_value_used,
    (last_value::float8 / max_value_used::float8)::float8 AS used
FROM owned
WHERE last_value::float8 / max_value_used::float8 >= @threshold::float8
ORDER BY used DESC, schema_name, name
LIMIT @max_rows;
