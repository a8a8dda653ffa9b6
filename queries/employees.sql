-- Employees: the list (browse and search), the record, and its writes.
--
-- The list queries run with plan_cache_mode = force_custom_plan (see
-- UseCustomPlans, which db.ListBatch sends ahead of them in the same round
-- trip): their optional filters ("@status = '' OR ...") fold away
-- only when the planner sees the values, and a generic plan cannot use the
-- trigram index for the search at all (measured 240 ms instead of 9 ms).
--
-- Keyset cursors are never NULL: the first page starts after ('', '', 0) in
-- name order and after (0001-01-01, 0) in hire-date order, so the cursor is
-- always an index condition, on every plan.
--
-- The search expression is exactly the one employees_search_idx is built
-- on; @search arrives with % and _ escaped (see web/employees.go).

-- UseCustomPlans makes the rest of the transaction (or of the pipeline, an
-- implicit transaction) plan each statement for its actual parameters.
-- name: UseCustomPlans :exec
SELECT set_config('plan_cache_mode', 'force_custom_plan', true);

-- CountEmployees is the size of the filtered list.
-- name: CountEmployees :one
SELECT count(*) FROM employees e
WHERE (@search::text = '' OR (e.first_name || ' ' || e.last_name || ' ' || e.email) ILIKE '%' || @search || '%')
  AND (sqlc.narg('department_id')::bigint IS NULL OR e.department_id = sqlc.narg('department_id'))
  AND (@status::text = '' OR e.status = @status);

-- CountMatchesUpTo counts a search's matches but stops at up_to: a search
-- that matches nearly everyone shows "more than 10,000" instead of reading
-- every match only to count it (100 ms at 100k rows for "example").
-- name: CountMatchesUpTo :one
SELECT count(*) FROM (
    SELECT 1 FROM employees e
    WHERE (e.first_name || ' ' || e.last_name || ' ' || e.email) ILIKE '%' || @search::text || '%'
      AND (sqlc.narg('department_id')::bigint IS NULL OR e.department_id = sqlc.narg('department_id'))
      AND (@status::text = '' OR e.status = @status)
    LIMIT @up_to::bigint
) AS m;

-- ListEmployeesByName walks employees_name_idx from the cursor and stops
-- after one page: fast at any depth, and the right plan for a search that
-- matches a large share of the table (matches come along every few rows).
-- name: ListEmployeesByName :many
SELECT e.id, e.first_name, e.last_name, e.email, e.job_title, e.hire_date, e.status,
       e.department_id, coalesce(d.name, '')::text AS department_name
FROM employees e
LEFT JOIN departments d ON d.id = e.department_id
WHERE (e.last_name, e.first_name, e.id) > (@after_last_name::text, @after_first_name::text, @after_id::bigint)
  AND (@search::text = '' OR (e.first_name || ' ' || e.last_name || ' ' || e.email) ILIKE '%' || @search || '%')
  AND (sqlc.narg('department_id')::bigint IS NULL OR e.department_id = sqlc.narg('department_id'))
  AND (@status::text = '' OR e.status = @status)
ORDER BY e.last_name, e.first_name, e.id
LIMIT @page_size;

-- name: ListEmployeesByHireDate :many
SELECT e.id, e.first_name, e.last_name, e.email, e.job_title, e.hire_date, e.status,
       e.department_id, coalesce(d.name, '')::text AS department_name
FROM employees e
LEFT JOIN departments d ON d.id = e.department_id
WHERE (e.hire_date, e.id) > (@after_hire_date::date, @after_id::bigint)
  AND (@search::text = '' OR (e.first_name || ' ' || e.last_name || ' ' || e.email) ILIKE '%' || @search || '%')
  AND (sqlc.narg('department_id')::bigint IS NULL OR e.department_id = sqlc.narg('department_id'))
  AND (@status::text = '' OR e.status = @status)
ORDER BY e.hire_date, e.id
LIMIT @page_size;

-- SearchEmployeesByName is the plan for a search with few matches: take
-- them all from the trigram index, then sort. Walking the name index
-- instead would read up to the whole table when the matches sit late in
-- name order, as every last-name search's do. MATERIALIZED keeps the
-- planner from merging the two steps back into that walk.
-- name: SearchEmployeesByName :many
WITH m AS MATERIALIZED (
    SELECT e.id, e.first_name, e.last_name, e.email, e.job_title, e.hire_date, e.status, e.department_id
    FROM employees e
    WHERE (e.first_name || ' ' || e.last_name || ' ' || e.email) ILIKE '%' || @search::text || '%'
      AND (e.last_name, e.first_name, e.id) > (@after_last_name::text, @after_first_name::text, @after_id::bigint)
      AND (sqlc.narg('department_id')::bigint IS NULL OR e.department_id = sqlc.narg('department_id'))
      AND (@status::text = '' OR e.status = @status)
)
SELECT m.id, m.first_name, m.last_name, m.email, m.job_title, m.hire_date, m.status,
       m.department_id, coalesce(d.name, '')::text AS department_name
FROM m
LEFT JOIN departments d ON d.id = m.department_id
ORDER BY m.last_name, m.first_name, m.id
LIMIT @page_size;

-- name: SearchEmployeesByHireDate :many
WITH m AS MATERIALIZED (
    SELECT e.id, e.first_name, e.last_name, e.email, e.job_title, e.hire_date, e.status, e.department_id
    FROM employees e
    WHERE (e.first_name || ' ' || e.last_name || ' ' || e.email) ILIKE '%' || @search::text || '%'
      AND (e.hire_date, e.id) > (@after_hire_date::date, @after_id::bigint)
      AND (sqlc.narg('department_id')::bigint IS NULL OR e.department_id = sqlc.narg('department_id'))
      AND (@status::text = '' OR e.status = @status)
)
SELECT m.id, m.first_name, m.last_name, m.email, m.job_title, m.hire_date, m.status,
       m.department_id, coalesce(d.name, '')::text AS department_name
FROM m
LEFT JOIN departments d ON d.id = m.department_id
ORDER BY m.hire_date, m.id
LIMIT @page_size;

-- ExportEmployees is the whole filtered list for the CSV download. The
-- handler streams it row by row (db.Queries.EachExportEmployee) rather
-- than through the generated method, which collects every row first.
-- name: ExportEmployees :many
SELECT e.id, e.first_name, e.last_name, e.email, e.job_title,
       coalesce(d.name, '')::text AS department_name, e.manager_id,
       e.hire_date, e.status, e.termination_date, e.created_at, e.updated_at
FROM employees e
LEFT JOIN departments d ON d.id = e.department_id
WHERE (@search::text = '' OR (e.first_name || ' ' || e.last_name || ' ' || e.email) ILIKE '%' || @search || '%')
  AND (sqlc.narg('department_id')::bigint IS NULL OR e.department_id = sqlc.narg('department_id'))
  AND (@status::text = '' OR e.status = @status)
ORDER BY e.last_name, e.first_name, e.id;

-- name: GetEmployee :one
SELECT * FROM employees WHERE id = $1;

-- GetEmployeeForUpdate locks the row for the rest of the transaction.
-- NO KEY UPDATE, not UPDATE: an insert or update elsewhere that names this
-- employee as manager takes KEY SHARE for its foreign key and must not wait.
-- name: GetEmployeeForUpdate :one
SELECT * FROM employees WHERE id = $1 FOR NO KEY UPDATE;

-- name: GetEmployeeByCreateKey :one
SELECT * FROM employees WHERE create_key = $1;

-- EmployeeDetail is the record page: the row with its department's and
-- manager's names.
-- name: EmployeeDetail :one
SELECT e.*, coalesce(d.name, '')::text AS department_name,
       coalesce(m.first_name || ' ' || m.last_name, '')::text AS manager_name
FROM employees e
LEFT JOIN departments d ON d.id = e.department_id
LEFT JOIN employees m ON m.id = e.manager_id
WHERE e.id = $1;

-- name: DirectReports :many
SELECT id, first_name, last_name, job_title, status
FROM employees
WHERE manager_id = $1
ORDER BY last_name, first_name, id
LIMIT @max_rows;

-- CreateEmployee inserts unless the form's idempotency key was used
-- already; then it returns no row and the caller loads the earlier one.
-- name: CreateEmployee :one
INSERT INTO employees (first_name, last_name, email, job_title, department_id, manager_id,
                       hire_date, status, termination_date, create_key)
VALUES (@first_name, @last_name, @email, @job_title, sqlc.narg('department_id'), sqlc.narg('manager_id'),
        @hire_date, @status, sqlc.narg('termination_date'), @create_key)
ON CONFLICT (create_key) DO NOTHING
RETURNING *;

-- UpdateEmployee applies an edit made on version @version; no row means
-- someone else saved in between (or the employee is gone).
-- name: UpdateEmployee :one
UPDATE employees SET
    first_name = @first_name, last_name = @last_name, email = @email, job_title = @job_title,
    department_id = sqlc.narg('department_id'), manager_id = sqlc.narg('manager_id'),
    hire_date = @hire_date, status = @status, termination_date = sqlc.narg('termination_date'),
    version = version + 1, updated_at = now()
WHERE id = @id AND version = @version
RETURNING *;

-- name: TerminateEmployee :one
UPDATE employees SET status = 'terminated', termination_date = @termination_date,
    version = version + 1, updated_at = now()
WHERE id = @id AND version = @version
RETURNING *;

-- LockManagerChanges serialises changes of reporting lines, so that two
-- edits cannot each pass the cycle check and together make a loop (A under
-- B in one, B under A in the other). Held until the transaction ends.
-- name: LockManagerChanges :exec
SELECT pg_advisory_xact_lock(hashtext('hris.employees.manager_id'));

-- ManagerCreatesCycle reports whether @manager_id is @employee_id or
-- reports to them, directly or through any chain of managers. It walks up
-- from the proposed manager; UNION (not UNION ALL) ends the walk should the
-- data already hold a loop.
-- name: ManagerCreatesCycle :one
WITH RECURSIVE chain (id, manager_id) AS (
    SELECT e.id, e.manager_id FROM employees e WHERE e.id = @manager_id::bigint
    UNION
    SELECT e.id, e.manager_id FROM employees e JOIN chain c ON e.id = c.manager_id
)
SELECT EXISTS (SELECT 1 FROM chain WHERE chain.id = @employee_id::bigint);

-- DetachReports clears the manager of everyone reporting to @id before it
-- is deleted, bumping their version so open edit forms notice.
-- name: DetachReports :execrows
UPDATE employees SET manager_id = NULL, version = version + 1, updated_at = now()
WHERE manager_id = @id;

-- name: DeleteEmployee :execrows
DELETE FROM employees WHERE id = $1;
