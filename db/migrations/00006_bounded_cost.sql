-- +goose Up
-- Bounded cost: every list page reads what it shows, not the table. Three
-- parts, each explained where it is made:
--   1. employee_counts: exact head counts by department and status, kept by
--      triggers, so no page counts employees row by row;
--   2. employee_words: the words of every name and email with the list's
--      sort keys, so a search reads its matches in page order;
--   3. indexes that serve each filter together with the keyset order.

-- 1. employee_counts holds, for each department (0: none) and status, the
-- number of employees. Statement-level triggers with transition tables keep
-- it exact in the same transaction as the change, one row update per
-- (department, status) a statement touches: a bulk insert of 5,000 rows is
-- a handful of updates. Two transactions that add employees to the same
-- department and status take turns on that row until they commit; HR writes
-- are rare and short, so that costs nothing measurable, and in exchange a
-- count is a read of a few rows at any size.
CREATE TABLE employee_counts (
    department_id bigint NOT NULL,
    status        text   NOT NULL,
    n             bigint NOT NULL,
    PRIMARY KEY (department_id, status)
);

INSERT INTO employee_counts (department_id, status, n)
SELECT coalesce(department_id, 0), status, count(*) FROM employees GROUP BY 1, 2;

-- employee_counts_add applies the counts of rows (a transition table) with
-- sign +1 or -1. Keys are written in order, so that two statements touching
-- the same keys lock them in the same order instead of deadlocking.
-- +goose StatementBegin
CREATE FUNCTION employee_counts_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO employee_counts AS c (department_id, status, n)
    SELECT coalesce(department_id, 0), status, count(*) FROM new_rows GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (department_id, status) DO UPDATE SET n = c.n + excluded.n;
    RETURN NULL;
END $$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION employee_counts_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE employee_counts c SET n = c.n - d.n
    FROM (SELECT coalesce(department_id, 0) AS department_id, status, count(*) AS n
          FROM old_rows GROUP BY 1, 2 ORDER BY 1, 2) d
    WHERE c.department_id = d.department_id AND c.status = d.status;
    RETURN NULL;
END $$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION employee_counts_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO employee_counts AS c (department_id, status, n)
    SELECT department_id, status, sum(n) FROM (
        SELECT coalesce(department_id, 0) AS department_id, status, -1 AS n FROM old_rows
        UNION ALL
        SELECT coalesce(department_id, 0), status, 1 FROM new_rows
    ) d
    GROUP BY 1, 2 HAVING sum(n) <> 0 ORDER BY 1, 2
    ON CONFLICT (department_id, status) DO UPDATE SET n = c.n + excluded.n;
    RETURN NULL;
END $$;
-- +goose StatementEnd

CREATE TRIGGER employees_counts_insert AFTER INSERT ON employees
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION employee_counts_insert();
CREATE TRIGGER employees_counts_delete AFTER DELETE ON employees
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION employee_counts_delete();
CREATE TRIGGER employees_counts_update AFTER UPDATE ON employees
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION employee_counts_update();

-- 2. employee_words is the search index. A search matches the employees one
-- of whose words (in the name or the email: runs of letters and digits)
-- starts with the longest word of the search, and whose "first last email"
-- contains the whole search (see queries/employees.sql). Each word is kept
-- with the list's sort keys, so the matches of one word come out of an
-- index already in page order: a search reads a page of them, however many
-- there are. (A trigram index answers the same searches, but it hands
-- every match over unsorted: 17,000 "garcia"s read and sorted to show 50.)
-- Pure numbers are left out: each email's number is its own word, and a
-- number alone is too little to search by.
-- +goose StatementBegin
CREATE FUNCTION employee_search_words(first_name text, last_name text, email text) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN (
    SELECT coalesce(array_agg(DISTINCT w ORDER BY w), '{}')
    FROM regexp_split_to_table(lower(first_name || ' ' || last_name || ' ' || email),
                               '[^0-9a-z\u0080-\U0010ffff]+') AS w
    WHERE w <> '' AND w !~ '^[0-9]+$'
);
-- +goose StatementEnd

-- The email is carried along (in the index, not as part of its key) so
-- that the rest of a search, "first last email" containing the whole of
-- it, is checked on the index entry too: a search reads no employee row
-- until it shows one.
CREATE TABLE employee_words (
    word        text COLLATE "C" NOT NULL,
    last_name   text   NOT NULL,
    first_name  text   NOT NULL,
    employee_id bigint NOT NULL,
    email       text   NOT NULL
);

INSERT INTO employee_words (word, last_name, first_name, employee_id, email)
SELECT w, e.last_name, e.first_name, e.id, e.email
FROM employees e, unnest(employee_search_words(e.first_name, e.last_name, e.email)) AS w;

-- In name order, the list's default. (A twin in hire-date order would
-- cost as much again to keep, for a rarer page: a search in hire-date
-- order sorts a rare word's matches, or walks the list for a common one.)
CREATE UNIQUE INDEX employee_words_name_idx ON employee_words (word, last_name, first_name, employee_id) INCLUDE (email);

-- +goose StatementBegin
CREATE FUNCTION employee_words_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO employee_words (word, last_name, first_name, employee_id, email)
    SELECT w, n.last_name, n.first_name, n.id, n.email
    FROM new_rows n, unnest(employee_search_words(n.first_name, n.last_name, n.email)) AS w;
    RETURN NULL;
END $$;
-- +goose StatementEnd

-- Rows are found by their whole unique key: no index on employee_id needed.
-- +goose StatementBegin
CREATE FUNCTION employee_words_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM employee_words w
    USING old_rows o, unnest(employee_search_words(o.first_name, o.last_name, o.email)) AS x(word)
    WHERE w.word = x.word AND w.last_name = o.last_name AND w.first_name = o.first_name
      AND w.employee_id = o.id;
    RETURN NULL;
END $$;
-- +goose StatementEnd

-- Row-level, only when a searched or sorted column changed: an edit of the
-- job title, the status or the hire date leaves the words alone.
-- +goose StatementBegin
CREATE FUNCTION employee_words_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM employee_words w
    WHERE w.word = ANY (employee_search_words(OLD.first_name, OLD.last_name, OLD.email))
      AND w.last_name = OLD.last_name AND w.first_name = OLD.first_name AND w.employee_id = OLD.id;
    INSERT INTO employee_words (word, last_name, first_name, employee_id, email)
    SELECT w, NEW.last_name, NEW.first_name, NEW.id, NEW.email
    FROM unnest(employee_search_words(NEW.first_name, NEW.last_name, NEW.email)) AS w;
    RETURN NULL;
END $$;
-- +goose StatementEnd

CREATE TRIGGER employees_words_insert AFTER INSERT ON employees
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION employee_words_insert();
CREATE TRIGGER employees_words_delete AFTER DELETE ON employees
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION employee_words_delete();
CREATE TRIGGER employees_words_update AFTER UPDATE OF first_name, last_name, email ON employees
    FOR EACH ROW
    WHEN (OLD.first_name IS DISTINCT FROM NEW.first_name OR OLD.last_name IS DISTINCT FROM NEW.last_name
          OR OLD.email IS DISTINCT FROM NEW.email)
    EXECUTE FUNCTION employee_words_update();

-- TRUNCATE fires no row or statement triggers of the kinds above.
-- +goose StatementBegin
CREATE FUNCTION employees_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE employee_words;
    DELETE FROM employee_counts;
    RETURN NULL;
END $$;
-- +goose StatementEnd
CREATE TRIGGER employees_truncate AFTER TRUNCATE ON employees
    FOR EACH STATEMENT EXECUTE FUNCTION employees_truncated();

-- The trigram index is replaced by employee_words.
DROP INDEX employees_search_idx;

-- 3. Indexes for the filters, each ending in a keyset order so that a
-- filtered page is read in order and stops after one page. A department's
-- employees in both orders (the first also serves the foreign key, and
-- replaces the plain department index):
CREATE INDEX employees_department_name_idx ON employees (department_id, last_name, first_name, id);
CREATE INDEX employees_department_hire_date_idx ON employees (department_id, hire_date, id);
DROP INDEX employees_department_idx;
-- The rarer statuses get small partial indexes, alone and with the
-- department. "active" is most of the table (or, in an old company, a good
-- share of it), so the plain indexes find a page of it after a few rows.
CREATE INDEX employees_on_leave_name_idx ON employees (last_name, first_name, id) WHERE status = 'on_leave';
CREATE INDEX employees_on_leave_hire_date_idx ON employees (hire_date, id) WHERE status = 'on_leave';
CREATE INDEX employees_on_leave_department_name_idx ON employees (department_id, last_name, first_name, id) WHERE status = 'on_leave';
CREATE INDEX employees_on_leave_department_hire_date_idx ON employees (department_id, hire_date, id) WHERE status = 'on_leave';
CREATE INDEX employees_terminated_name_idx ON employees (last_name, first_name, id) WHERE status = 'terminated';
CREATE INDEX employees_terminated_hire_date_idx ON employees (hire_date, id) WHERE status = 'terminated';
CREATE INDEX employees_terminated_department_name_idx ON employees (department_id, last_name, first_name, id) WHERE status = 'terminated';
CREATE INDEX employees_terminated_department_hire_date_idx ON employees (department_id, hire_date, id) WHERE status = 'terminated';
-- Direct reports in name order (the record page shows the first 25).
CREATE INDEX employees_manager_name_idx ON employees (manager_id, last_name, first_name, id);
DROP INDEX employees_manager_idx;

-- The audit log: each filter with the page order (newest first).
CREATE INDEX audit_log_entity_at_idx ON audit_log (entity, at DESC, id DESC);
CREATE INDEX audit_log_record_idx ON audit_log (entity, entity_id, at DESC, id DESC);
DROP INDEX audit_log_entity_idx;
CREATE INDEX audit_log_action_at_idx ON audit_log (action COLLATE "C", at DESC, id DESC);
CREATE INDEX audit_log_actor_at_idx ON audit_log ((lower(actor_email) COLLATE "C"), at DESC, id DESC);

-- +goose Down
DROP INDEX audit_log_actor_at_idx;
DROP INDEX audit_log_action_at_idx;
CREATE INDEX audit_log_entity_idx ON audit_log (entity, entity_id);
DROP INDEX audit_log_record_idx;
DROP INDEX audit_log_entity_at_idx;
CREATE INDEX employees_manager_idx ON employees (manager_id);
DROP INDEX employees_manager_name_idx;
DROP INDEX employees_terminated_department_hire_date_idx;
DROP INDEX employees_terminated_department_name_idx;
DROP INDEX employees_terminated_hire_date_idx;
DROP INDEX employees_terminated_name_idx;
DROP INDEX employees_on_leave_department_hire_date_idx;
DROP INDEX employees_on_leave_department_name_idx;
DROP INDEX employees_on_leave_hire_date_idx;
DROP INDEX employees_on_leave_name_idx;
CREATE INDEX employees_department_idx ON employees (department_id);
DROP INDEX employees_department_hire_date_idx;
DROP INDEX employees_department_name_idx;
CREATE INDEX employees_search_idx ON employees
    USING gin ((first_name || ' ' || last_name || ' ' || email) gin_trgm_ops);
DROP TRIGGER employees_truncate ON employees;
DROP FUNCTION employees_truncated();
DROP TRIGGER employees_words_update ON employees;
DROP TRIGGER employees_words_delete ON employees;
DROP TRIGGER employees_words_insert ON employees;
DROP FUNCTION employee_words_update();
DROP FUNCTION employee_words_delete();
DROP FUNCTION employee_words_insert();
DROP TABLE employee_words;
DROP FUNCTION employee_search_words(text, text, text);
DROP TRIGGER employees_counts_update ON employees;
DROP TRIGGER employees_counts_delete ON employees;
DROP TRIGGER employees_counts_insert ON employees;
DROP FUNCTION employee_counts_update();
DROP FUNCTION employee_counts_delete();
DROP FUNCTION employee_counts_insert();
DROP TABLE employee_counts;
