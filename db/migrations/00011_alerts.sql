-- +goose Up
-- alerts are what the alert rules found (web/alerts.go): one row per
-- episode of one rule firing about one subject, from the moment it fired
-- until it resolved. At most one episode of a rule and subject is open at
-- a time (alerts_open), so however many instances evaluate, a condition
-- fires once.
CREATE TABLE alerts (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    rule        text        NOT NULL,
    subject     text        NOT NULL, -- '' for the database as a whole; an instance id for the rules about one instance
    severity    text        NOT NULL CHECK (severity IN ('warning', 'critical')), -- the highest the episode reached
    summary     text        NOT NULL,
    details     jsonb       NOT NULL, -- what and who: pid, query, blocker, standby, instance...
    instance    text        NOT NULL, -- the instance it is about, or the one that saw it
    started_at  timestamptz NOT NULL, -- the condition was first seen
    fired_at    timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL, -- summary and details last refreshed
    resolved_at timestamptz,
    -- local_key names an episode an instance evaluated about itself
    -- (database_unreachable, pool_saturation): it may be written after the
    -- fact, once the database answers again, and more than once.
    local_key   uuid        UNIQUE
);
CREATE UNIQUE INDEX alerts_open ON alerts (rule, subject) WHERE resolved_at IS NULL;
CREATE INDEX alerts_resolved ON alerts (resolved_at) WHERE resolved_at IS NOT NULL;

-- alert_transitions are the episodes' transitions — firing (as a warning,
-- then critical) and resolved — each stored once (the unique indexes), and
-- the webhook's outbox: the instance holding the "alerts" lease sends them
-- in order and records each attempt. body is the JSON sent.
CREATE TABLE alert_transitions (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_id        bigint      NOT NULL REFERENCES alerts ON DELETE CASCADE,
    status          text        NOT NULL CHECK (status IN ('firing', 'resolved')),
    severity        text        NOT NULL CHECK (severity IN ('warning', 'critical')),
    at              timestamptz NOT NULL,
    body            jsonb       NOT NULL,
    -- pending: to send; sent; failed: given up (the receiver refused it,
    -- or kept failing for a day); unsent: no webhook was configured.
    delivery        text        NOT NULL DEFAULT 'pending' CHECK (delivery IN ('pending', 'sent', 'failed', 'unsent')),
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    claimed_by      text,        -- the instance sending it now
    claimed_until   timestamptz, -- after this another sender may try (the first one died)
    last_attempt_at timestamptz,
    last_error      text,
    sent_at         timestamptz,
    sent_by         text
);
CREATE UNIQUE INDEX alert_transitions_firing ON alert_transitions (alert_id, severity) WHERE status = 'firing';
CREATE UNIQUE INDEX alert_transitions_resolved ON alert_transitions (alert_id) WHERE status = 'resolved';
CREATE INDEX alert_transitions_alert ON alert_transitions (alert_id);
CREATE INDEX alert_transitions_pending ON alert_transitions (id) WHERE delivery = 'pending';
CREATE INDEX alert_transitions_attempted ON alert_transitions (last_attempt_at DESC) WHERE last_attempt_at IS NOT NULL;

-- +goose Down
DROP TABLE alert_transitions;
DROP TABLE alerts;
