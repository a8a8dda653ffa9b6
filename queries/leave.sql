-- Leave: requests, their decisions, allowances and balances.
--
-- Every write locks the employee's row first (LockEmployeeForLeave) and
-- only then reads what it checks: see web/leave.go for why row locks and
-- not SERIALIZABLE.

-- LeaveLockTimeout bounds how long the rest of the transaction waits for a
-- lock (local to the transaction, so it is safe behind PgBouncer).
-- name: LeaveLockTimeout :exec
SELECT set_config('lock_timeout', @timeout::text, true);

-- LockEmployeeForLeave locks the employee for the rest of the transaction:
-- the one lock all leave writes of an employee queue on. NO KEY UPDATE, so
-- foreign-key checks of rows naming them (KEY SHARE) never wait on it.
-- name: LockEmployeeForLeave :one
SELECT id, first_name, last_name, department_id, hire_date, status, termination_date
FROM employees
WHERE id = $1
FOR NO KEY UPDATE;

-- name: GetLeaveRequest :one
SELECT id, employee_id, department_id, kind, start_date, end_date, days, status, note, create_key, requested_by, decided_by, decided_at, version, created_at, updated_at FROM leave_requests WHERE id = $1;

-- name: GetLeaveRequestByCreateKey :one
SELECT id, employee_id, department_id, kind, start_date, end_date, days, status, note, create_key, requested_by, decided_by, decided_at, version, created_at, updated_at FROM leave_requests WHERE create_key = $1;

-- LeaveRequestDetail is the request page: the row with the names around it.
-- name: LeaveRequestDetail :one
SELECT l.id, l.employee_id, l.department_id, l.kind, l.start_date, l.end_date, l.days, l.status,
       l.note, l.requested_by, l.decided_by, l.decided_at, l.version, l.created_at, l.updated_at,
       e.first_name, e.last_name, e.job_title,
       coalesce(d.name, '')::text AS department_name,
       coalesce(ru.name, '')::text AS requested_by_name,
       coalesce(du.name, '')::text AS decided_by_name
FROM leave_requests l
JOIN employees e ON e.id = l.employee_id
LEFT JOIN departments d ON d.id = l.department_id
LEFT JOIN users ru ON ru.id = l.requested_by
LEFT JOIN users du ON du.id = l.decided_by
WHERE l.id = $1;

-- OverlappingLeave is the employee's first live request sharing a day with
-- the period, for the form's message (leave_requests_no_overlap is the
-- guarantee).
-- name: OverlappingLeave :one
SELECT id, kind, start_date, end_date, status
FROM leave_requests
WHERE employee_id = @employee_id
  AND status IN ('pending', 'approved')
  AND start_date <= @end_date::date
  AND end_date >= @start_date::date
ORDER BY start_date, id
LIMIT 1;

-- LeaveBalance is an employee's annual leave in a year: the allowance (HR's
-- or the default), the days approved and the days waiting for a decision.
-- allowance_version is 0 while the default applies.
-- name: LeaveBalance :one
SELECT coalesce(a.days, @default_days::int)::int AS allowance,
       coalesce(a.version, 0)::int AS allowance_version,
       coalesce(t.taken, 0)::int AS taken,
       coalesce(t.pending, 0)::int AS pending
FROM (SELECT 1) AS one
LEFT JOIN leave_allowances a ON a.employee_id = @employee_id::bigint AND a.year = @year::int
CROSS JOIN LATERAL (
    SELECT sum(l.days) FILTER (WHERE l.status = 'approved') AS taken,
           sum(l.days) FILTER (WHERE l.status = 'pending') AS pending
    FROM leave_requests l
    WHERE l.employee_id = @employee_id::bigint
      AND l.kind = 'annual'
      AND l.start_date >= make_date(@year::int, 1, 1)
      AND l.start_date <= make_date(@year::int, 12, 31)
) AS t;

-- CreateLeaveRequest inserts unless the form's idempotency key was used
-- already; then it returns no row and the caller loads the earlier one.
-- name: CreateLeaveRequest :one
INSERT INTO leave_requests (employee_id, department_id, kind, start_date, end_date, days, note, create_key, requested_by)
VALUES (@employee_id, sqlc.narg('department_id'), @kind, @start_date, @end_date, @days, @note, @create_key, sqlc.narg('requested_by'))
ON CONFLICT (create_key) DO NOTHING
RETURNING id, employee_id, department_id, kind, start_date, end_date, days, status, note, create_key, requested_by, decided_by, decided_at, version, created_at, updated_at;

-- DecideLeaveRequest moves a request from @from_status to @to_status; no
-- row means it is not in @from_status (any more).
-- name: DecideLeaveRequest :one
UPDATE leave_requests
SET status = @to_status, decided_by = sqlc.narg('decided_by'), decided_at = now(),
    version = version + 1, updated_at = now()
WHERE id = @id AND status = @from_status
RETURNING id, employee_id, department_id, kind, start_date, end_date, days, status, note, create_key, requested_by, decided_by, decided_at, version, created_at, updated_at;

-- EmployeeLeave is an employee's latest requests, for their page.
-- name: EmployeeLeave :many
SELECT id, kind, start_date, end_date, days, status
FROM leave_requests
WHERE employee_id = @employee_id
ORDER BY start_date DESC, id DESC
LIMIT @max_rows;

-- ListLeaveRequests is one page of the leave list, newest start first,
-- after the keyset cursor (@before_start, @before_id). Empty filters match
-- everything; it runs with custom plans (App.readPlanned), so they fold
-- away and each filter's index walks in the list's order (see
-- db/migrations/00010_leave.sql).
--
-- The dates select periods that overlap [from, to]. The caller folds "to"
-- into the cursor (a period starting on or before "to" is before
-- (to + 1 day, 0)): one upper bound, which the index scan starts from; as
-- a second condition PostgreSQL may start at the cursor instead and walk
-- every row after "to" (measured 2 s instead of 1 ms at 4.7M requests).
-- @start_from is @from_date less the longest period (LongestLeave): no
-- period starting earlier reaches @from_date, so the walk down the start
-- order stops there instead of at the oldest request.
-- name: ListLeaveRequests :many
SELECT l.id, l.employee_id, l.kind, l.start_date, l.end_date, l.days, l.status,
       e.first_name, e.last_name, coalesce(d.name, '')::text AS department_name
FROM leave_requests l
JOIN employees e ON e.id = l.employee_id
LEFT JOIN departments d ON d.id = l.department_id
WHERE (l.start_date, l.id) < (@before_start::date, @before_id::bigint)
  AND (@status::text = '' OR l.status = @status)
  AND (@kind::text = '' OR l.kind = @kind)
  AND (sqlc.narg('employee_id')::bigint IS NULL OR l.employee_id = sqlc.narg('employee_id'))
  AND (sqlc.narg('department_id')::bigint IS NULL OR l.department_id = sqlc.narg('department_id'))
  AND l.end_date >= @from_date::date
  AND l.start_date >= @start_from::date
ORDER BY l.start_date DESC, l.id DESC
LIMIT @page_size;

-- LongestLeave is the most days between a request's start and end: one
-- probe of leave_requests_length_idx.
-- name: LongestLeave :one
SELECT coalesce(max(end_date - start_date), 0)::int AS days FROM leave_requests;

-- name: GetLeaveAllowance :one
SELECT employee_id, year, days, version, created_at, updated_at FROM leave_allowances WHERE employee_id = @employee_id AND year = @year;

-- SetLeaveAllowance writes HR's allowance for an employee and year; the
-- caller has checked the version under the employee's lock.
-- name: SetLeaveAllowance :one
INSERT INTO leave_allowances (employee_id, year, days)
VALUES (@employee_id, @year, @days)
ON CONFLICT (employee_id, year) DO UPDATE
SET days = excluded.days, version = leave_allowances.version + 1, updated_at = now()
RETURNING employee_id, year, days, version, created_at, updated_at;

-- SeedLeave gives the employees with ids in [@first_id, @last_id] demo leave
-- in the years @first_year to @last_year: in about half of five slots a
-- year (nine weeks apart, so they never overlap) a Monday-to-Wednesday or
-- Monday-to-Friday period, mostly annual leave, decided when it is past.
-- The rows are the same every time (create_key comes from employee, year
-- and slot), so seeding again adds nothing.
-- name: SeedLeave :execrows
INSERT INTO leave_requests (employee_id, department_id, kind, start_date, end_date, days, status, create_key, decided_at)
SELECT p.employee_id, p.department_id, p.kind, p.start_date, p.start_date + p.days - 1, p.days,
       p.status, p.create_key, CASE WHEN p.status <> 'pending' THEN now() END
FROM (
    SELECT s.employee_id, s.department_id, s.kind, s.start_date, s.days, s.create_key,
           CASE WHEN s.start_date > current_date AND s.h % 4 <> 0 THEN 'pending'
                WHEN (s.h / 7) % 10 = 0 THEN 'rejected'
                WHEN (s.h / 7) % 10 = 1 THEN 'cancelled'
                ELSE 'approved' END AS status
    FROM (
        SELECT e.id AS employee_id, e.department_id, hh.h,
               md5(e.id::text || '/' || y || '/' || slot)::uuid AS create_key,
               CASE WHEN hh.h % 10 < 7 THEN 'annual' WHEN hh.h % 10 < 9 THEN 'sick' ELSE 'unpaid' END AS kind,
               (date_trunc('week', make_date(y, 1, 10))::date + 7 * (9 * slot + ((hh.h / 10) % 6)::int))::date AS start_date,
               CASE WHEN (hh.h / 100) % 3 = 0 THEN 5 ELSE 3 END AS days
        FROM employees e
        CROSS JOIN generate_series(@first_year::int, @last_year::int) AS y
        CROSS JOIN generate_series(0, 4) AS slot
        CROSS JOIN LATERAL (SELECT abs(hashtext(e.id::text || '/' || y || '/' || slot)::bigint) AS h) AS hh
        WHERE e.id BETWEEN @first_id::bigint AND @last_id::bigint
          AND e.status <> 'terminated'
          AND (hh.h / 10000) % 2 = 0
    ) AS s
) AS p
ON CONFLICT DO NOTHING;

-- AnalyzeLeave refreshes the planner's statistics after a bulk load.
-- name: AnalyzeLeave :exec
ANALYZE leave_requests, leave_allowances;

-- LastEmployeeID is the highest employee id, the end of SeedLeave's batches.
-- name: LastEmployeeID :one
SELECT coalesce(max(id), 0)::bigint AS id FROM employees;
