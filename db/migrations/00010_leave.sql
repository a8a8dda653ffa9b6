-- +goose Up
-- btree_gist lets one exclusion constraint compare employee_id (=) and the
-- leave period (&&). Trusted since PostgreSQL 13: the database owner may
-- create it without superuser rights.
CREATE EXTENSION IF NOT EXISTS btree_gist;

-- leave_allowances holds the annual leave days HR set for an employee and
-- a year. Without a row the allowance is HRIS_LEAVE_ANNUAL_DAYS, so
-- changing the default reaches everyone who was not adjusted.
CREATE TABLE leave_allowances (
    employee_id bigint      NOT NULL REFERENCES employees (id) ON DELETE CASCADE,
    year        integer     NOT NULL CHECK (year BETWEEN 1900 AND 9999),
    days        integer     NOT NULL CHECK (days BETWEEN 0 AND 366),
    version     integer     NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (employee_id, year)
);

CREATE TABLE leave_requests (
    id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    employee_id   bigint      NOT NULL REFERENCES employees (id) ON DELETE CASCADE,
    -- department_id is the employee's department, copied so that the list
    -- can filter by department in its own index order; the trigger below
    -- keeps it equal to employees.department_id.
    department_id bigint      REFERENCES departments (id) ON DELETE SET NULL,
    kind          text        NOT NULL CHECK (kind IN ('annual', 'sick', 'unpaid')),
    start_date    date        NOT NULL,
    end_date      date        NOT NULL,
    -- days is the number of working days in the period, counted when the
    -- request is made (web/leave_days.go: Monday to Friday, less holidays).
    days          integer     NOT NULL CHECK (days BETWEEN 1 AND 366),
    status        text        NOT NULL DEFAULT 'pending'
                              CHECK (status IN ('pending', 'approved', 'rejected', 'cancelled')),
    note          text        NOT NULL DEFAULT '' CHECK (length(note) <= 1000),
    -- create_key is the form's idempotency_key (see employees.create_key).
    create_key    uuid        UNIQUE,
    requested_by  bigint      REFERENCES users (id) ON DELETE SET NULL,
    decided_by    bigint      REFERENCES users (id) ON DELETE SET NULL,
    decided_at    timestamptz,
    version       integer     NOT NULL DEFAULT 1,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CHECK (end_date >= start_date),
    -- A request stays inside one calendar year: each year's days come out
    -- of that year's allowance, and the list's date filter relies on it.
    CHECK (extract(year FROM start_date) = extract(year FROM end_date)),
    -- Whoever approved, rejected or cancelled it, and when.
    CHECK ((status = 'pending') = (decided_at IS NULL)),
    -- No two live requests of one employee share a day, even when two are
    -- made at the same moment.
    CONSTRAINT leave_requests_no_overlap EXCLUDE USING gist (
        employee_id WITH =, daterange(start_date, end_date, '[]') WITH &&
    ) WHERE (status IN ('pending', 'approved'))
);
-- The list is newest first (start_date DESC, id DESC) in keyset pages;
-- each filter that narrows it a lot has an index in that order.
CREATE INDEX leave_requests_start_idx ON leave_requests (start_date, id);
CREATE INDEX leave_requests_status_idx ON leave_requests (status, start_date, id);
CREATE INDEX leave_requests_employee_idx ON leave_requests (employee_id, start_date, id);
CREATE INDEX leave_requests_department_idx ON leave_requests (department_id, start_date, id);
-- "Pending in my department": the two filters HR combines most.
CREATE INDEX leave_requests_department_status_idx ON leave_requests (department_id, status, start_date, id);
-- The longest request bounds how far before a date filter's start the list
-- must look for periods still running then: max() of this is one index probe.
CREATE INDEX leave_requests_length_idx ON leave_requests ((end_date - start_date));

-- +goose StatementBegin
CREATE FUNCTION leave_requests_follow_department() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE leave_requests SET department_id = NEW.department_id
    WHERE employee_id = NEW.id AND department_id IS DISTINCT FROM NEW.department_id;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- A trigger rather than application code: the copy stays true whichever
-- path moves an employee (the form, the CLI, SQL by hand).
CREATE TRIGGER employees_department_to_leave
    AFTER UPDATE OF department_id ON employees
    FOR EACH ROW WHEN (OLD.department_id IS DISTINCT FROM NEW.department_id)
    EXECUTE FUNCTION leave_requests_follow_department();

-- +goose Down
DROP TRIGGER employees_department_to_leave ON employees;
DROP FUNCTION leave_requests_follow_department();
DROP TABLE leave_requests;
DROP TABLE leave_allowances;
