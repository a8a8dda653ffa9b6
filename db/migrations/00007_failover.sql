-- +goose Up
-- failover_events keeps each change of primary or timeline that an hris
-- instance noticed (the replication panel on /ops lists them). Every
-- instance notices the same failover; the unique key keeps one row for it.
-- The app keeps the newest 100 rows.
CREATE TABLE failover_events (
    id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    detected_at   timestamptz NOT NULL,
    detected_by   text        NOT NULL,
    from_host     text        NOT NULL,
    to_host       text        NOT NULL,
    from_timeline integer     NOT NULL,
    to_timeline   integer     NOT NULL,
    UNIQUE (to_host, to_timeline)
);

-- +goose Down
DROP TABLE failover_events;
