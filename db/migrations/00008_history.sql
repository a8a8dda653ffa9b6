-- +goose Up
-- leases are named, expiring claims: the instance holding a lease does the
-- fleet-wide work its name stands for (taking the history snapshots, say),
-- so that however many instances run it happens once. A row, not a session
-- advisory lock: it takes one statement and no session state, so it works
-- behind PgBouncer in transaction mode. Times are the database's clock, so
-- instances with skewed clocks agree on who holds what.
CREATE TABLE leases (
    name        text        PRIMARY KEY,
    holder      text        NOT NULL, -- HRIS_INSTANCE_ID, for people
    token       uuid        NOT NULL, -- the holding process: two processes sharing an instance id stay apart
    acquired_at timestamptz NOT NULL,
    renewed_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL
);

-- pool_history is each instance's connection pool, one row per minute,
-- aggregated from its 1-second samples: what /ops shows for the last hour,
-- day or week. Counts are over the minute; in_use_* are connections in use.
CREATE TABLE pool_history (
    at          timestamptz      NOT NULL, -- start of the minute
    instance_id text             NOT NULL,
    seconds     double precision NOT NULL, -- time the row covers (less after a start)
    max_conns   integer          NOT NULL,
    in_use_avg  double precision NOT NULL,
    in_use_max  integer          NOT NULL,
    acquires    bigint           NOT NULL,
    waited      bigint           NOT NULL, -- acquires that found no idle connection
    acquire_ms  double precision NOT NULL, -- time all acquires took
    wait_ms     double precision NOT NULL, -- time the waiting ones waited
    canceled    bigint           NOT NULL, -- acquires given up
    unavailable bigint           NOT NULL, -- requests answered 503
    PRIMARY KEY (at, instance_id)
);

-- server_history is PostgreSQL seen once a minute by the instance holding
-- the "history" lease: sessions of this database by state, and its
-- transaction and block counters as deltas over the minute (NULL when no
-- earlier reading could be compared: the first one, or after a statistics
-- reset or a gap). The *_total columns are the cumulative counters the
-- next reading subtracts.
CREATE TABLE server_history (
    at              timestamptz PRIMARY KEY, -- start of the minute; sessions counted at its end
    instance_id     text             NOT NULL,
    active          integer          NOT NULL,
    idle            integer          NOT NULL,
    idle_in_tx      integer          NOT NULL,
    waiting         integer          NOT NULL, -- waiting for a lock
    clients         integer          NOT NULL, -- client connections to the whole server
    max_connections integer          NOT NULL,
    seconds         double precision,
    commits         bigint,
    rollbacks       bigint,
    blks_hit        bigint,
    blks_read       bigint,
    commits_total   bigint           NOT NULL,
    rollbacks_total bigint           NOT NULL,
    blks_hit_total  bigint           NOT NULL,
    blks_read_total bigint           NOT NULL,
    stats_reset     timestamptz
);

-- +goose Down
DROP TABLE server_history;
DROP TABLE pool_history;
DROP TABLE leases;
