-- +goose Up
-- Query statistics history from pg_stat_statements, as deltas: one
-- query_snapshots row per HRIS_QUERY_STATS_INTERVAL (its key is the
-- interval, so two instances can never both take it), and one query_stats
-- row per statement that ran in it. Texts are pg_stat_statements'
-- normalised ones ($1 for every constant), scrubbed once more before they
-- are stored (db.ScrubQuery): no parameter value is ever kept.
CREATE TABLE query_snapshots (
    at          timestamptz      PRIMARY KEY, -- the interval boundary it was taken at
    taken_at    timestamptz      NOT NULL,
    since       timestamptz,                   -- previous snapshot; NULL: a baseline, no deltas
    instance_id text             NOT NULL,
    reset       boolean          NOT NULL,     -- statistics were reset since the previous one
    stats_reset timestamptz,                   -- pg_stat_statements_info.stats_reset when taken
    calls       bigint           NOT NULL,     -- every statement of this database, in the interval
    total_ms    double precision NOT NULL,
    statements  integer          NOT NULL,     -- query_stats rows
    capture_ms  double precision NOT NULL      -- what taking it cost
);

CREATE TABLE query_stats (
    at        timestamptz      NOT NULL REFERENCES query_snapshots (at) ON DELETE CASCADE,
    queryid   bigint           NOT NULL,
    calls     bigint           NOT NULL,
    total_ms  double precision NOT NULL, -- planning and execution
    rows      bigint           NOT NULL,
    blks_hit  bigint           NOT NULL,
    blks_read bigint           NOT NULL,
    PRIMARY KEY (queryid, at)
);
CREATE INDEX query_stats_at_idx ON query_stats (at);

-- query_texts is each statement's text, kept while query_stats refers to it.
CREATE TABLE query_texts (
    queryid    bigint      PRIMARY KEY,
    query      text        NOT NULL,
    first_seen timestamptz NOT NULL
);

-- query_baseline holds pg_stat_statements' cumulative counters as of the
-- last snapshot, so the next one stores only what happened since. It lives
-- here, not in memory, so any instance can take the next snapshot.
CREATE TABLE query_baseline (
    queryid   bigint           PRIMARY KEY,
    calls     bigint           NOT NULL,
    total_ms  double precision NOT NULL,
    rows      bigint           NOT NULL,
    blks_hit  bigint           NOT NULL,
    blks_read bigint           NOT NULL
);

-- relation_sizes is a daily capture of every table's and index's size, for
-- the growth column of /ops/tables.
CREATE TABLE relation_sizes (
    day         date   NOT NULL,
    schema_name text   NOT NULL,
    name        text   NOT NULL,
    kind        text   NOT NULL CHECK (kind IN ('table', 'index')),
    table_name  text   NOT NULL,
    bytes       bigint NOT NULL,
    PRIMARY KEY (day, schema_name, name)
);

-- +goose Down
DROP TABLE relation_sizes;
DROP TABLE query_baseline;
DROP TABLE query_texts;
DROP TABLE query_stats;
DROP TABLE query_snapshots;
