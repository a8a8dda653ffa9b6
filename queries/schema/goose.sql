-- goose_db_version is created by goose itself, not by a migration; sqlc
-- needs its shape to check the health query that reads it.
CREATE TABLE goose_db_version (
    id         integer PRIMARY KEY,
    version_id bigint    NOT NULL,
    is_applied boolean   NOT NULL,
    tstamp     timestamp NOT NULL DEFAULT now()
);
