-- +goose Up
-- app_instances is the fleet: every hris process writes a heartbeat row
-- every few seconds with its pool figures, so /ops can show all instances
-- side by side and add up their connection limits against the server's.
CREATE TABLE app_instances (
    instance_id            text        PRIMARY KEY,
    host                   text        NOT NULL,
    version                text        NOT NULL,
    exec_mode              text        NOT NULL,
    started_at             timestamptz NOT NULL,
    last_seen              timestamptz NOT NULL,
    stopped_at             timestamptz,
    max_conns              integer     NOT NULL,
    ops_max_conns          integer     NOT NULL,
    total_conns            integer     NOT NULL,
    acquired_conns         integer     NOT NULL,
    idle_conns             integer     NOT NULL,
    acquire_count          bigint      NOT NULL,
    empty_acquire_count    bigint      NOT NULL,
    canceled_acquire_count bigint      NOT NULL,
    empty_acquire_wait_ms  double precision NOT NULL,
    retries                bigint      NOT NULL
);

-- +goose Down
DROP TABLE app_instances;
