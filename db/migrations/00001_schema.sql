-- +goose Up
-- pg_trgm backs the employee search (ILIKE '%term%' over names and email).
-- It is a trusted extension since PostgreSQL 13, so the database owner may
-- create it without superuser rights.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE departments (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text        NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 100),
    description text        NOT NULL DEFAULT '',
    -- create_key makes a retried create form a no-op (see employees.create_key).
    create_key  uuid        UNIQUE,
    version     integer     NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX departments_name_key ON departments (lower(name));

CREATE TABLE users (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email                text        NOT NULL CHECK (position('@' in email) > 1),
    name                 text        NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    password_hash        text        NOT NULL,
    role                 text        NOT NULL CHECK (role IN ('admin', 'hr')),
    department_id        bigint      REFERENCES departments (id) ON DELETE SET NULL,
    is_active            boolean     NOT NULL DEFAULT true,
    last_login_at        timestamptz,
    failed_login_count   integer     NOT NULL DEFAULT 0,
    last_failed_login_at timestamptz,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);
-- Emails are unique regardless of case: "Ann@x.org" and "ann@x.org" are one person.
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

-- sessions is the schema of github.com/alexedwards/scs/pgxstore; the token
-- column holds the SHA-256 of the cookie value (scs HashTokenInStore).
CREATE TABLE sessions (
    token  text        PRIMARY KEY,
    data   bytea       NOT NULL,
    expiry timestamptz NOT NULL
);
CREATE INDEX sessions_expiry_idx ON sessions (expiry);

-- login_throttle counts failed logins per account ('email:...') and per
-- client address ('ip:...'). It lives in PostgreSQL so that every app
-- instance sees the same counts.
CREATE TABLE login_throttle (
    key           text        PRIMARY KEY,
    failures      integer     NOT NULL,
    window_start  timestamptz NOT NULL,
    blocked_until timestamptz
);

CREATE TABLE employees (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    first_name       text        NOT NULL CHECK (length(btrim(first_name)) BETWEEN 1 AND 100),
    last_name        text        NOT NULL CHECK (length(btrim(last_name)) BETWEEN 1 AND 100),
    email            text        NOT NULL CHECK (position('@' in email) > 1),
    job_title        text        NOT NULL DEFAULT '',
    department_id    bigint      REFERENCES departments (id) ON DELETE RESTRICT,
    manager_id       bigint      REFERENCES employees (id) ON DELETE SET NULL,
    hire_date        date        NOT NULL,
    status           text        NOT NULL DEFAULT 'active'
                                 CHECK (status IN ('active', 'on_leave', 'terminated')),
    termination_date date,
    -- create_key is the hidden idempotency_key of the create form: posting the
    -- same form twice finds the row made the first time instead of a second one.
    create_key       uuid        UNIQUE,
    version          integer     NOT NULL DEFAULT 1,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CHECK (manager_id <> id),
    CHECK ((status = 'terminated') = (termination_date IS NOT NULL))
);
CREATE UNIQUE INDEX employees_email_key ON employees (lower(email));
-- Keyset pagination in the two sort orders of the list page.
CREATE INDEX employees_name_idx ON employees (last_name, first_name, id);
CREATE INDEX employees_hire_date_idx ON employees (hire_date, id);
CREATE INDEX employees_department_idx ON employees (department_id);
CREATE INDEX employees_manager_idx ON employees (manager_id);
-- The search box matches any part of "first last email".
CREATE INDEX employees_search_idx ON employees
    USING gin ((first_name || ' ' || last_name || ' ' || email) gin_trgm_ops);

CREATE TABLE audit_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    actor_id    bigint      REFERENCES users (id) ON DELETE SET NULL,
    actor_email text        NOT NULL DEFAULT '',
    action      text        NOT NULL,
    entity      text        NOT NULL,
    entity_id   bigint,
    before      jsonb,
    after       jsonb,
    client_ip   text        NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_at_idx ON audit_log (at DESC, id DESC);
CREATE INDEX audit_log_entity_idx ON audit_log (entity, entity_id);
CREATE INDEX audit_log_actor_idx ON audit_log (actor_id);

-- +goose Down
DROP TABLE audit_log;
DROP TABLE employees;
DROP TABLE login_throttle;
DROP TABLE sessions;
DROP TABLE users;
DROP TABLE departments;
