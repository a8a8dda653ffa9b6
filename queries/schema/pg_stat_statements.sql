-- pg_stat_statements is an extension's view and function, not part of our
-- migrations (creating the extension needs a superuser; see README). sqlc
-- needs their shape to check the queries that read them. Only the columns
-- hris reads are declared; they exist from PostgreSQL 13 on.
CREATE TABLE pg_stat_statements (
    userid           oid,
    dbid             oid,
    toplevel         boolean,
    queryid          bigint,
    query            text,
    calls            bigint,
    total_plan_time  double precision,
    total_exec_time  double precision,
    rows             bigint,
    shared_blks_hit  bigint,
    shared_blks_read bigint
);

CREATE TABLE pg_stat_statements_info (
    dealloc     bigint,
    stats_reset timestamptz
);
