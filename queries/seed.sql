-- Demo data for `hris seed` and `hris dev`. Both inserts skip rows that
-- exist already, so seeding twice changes nothing. Several unnest() calls in
-- one select list walk their arrays in step (one row per index).

-- name: SeedDepartments :execrows
INSERT INTO departments (name, description)
SELECT unnest(@names::text[]), unnest(@descriptions::text[])
ON CONFLICT ((lower(name))) DO NOTHING;

-- name: DepartmentIDs :many
SELECT id FROM departments ORDER BY id;

-- SeedEmployees inserts demo employees and returns the emails it added.
-- name: SeedEmployees :many
INSERT INTO employees (first_name, last_name, email, job_title, department_id, hire_date, status, termination_date)
SELECT x.f, x.l, x.e, x.j, x.d, x.h, x.s,
       CASE WHEN x.s = 'terminated' THEN x.h + 400 END
FROM (SELECT unnest(@first_names::text[]) AS f, unnest(@last_names::text[]) AS l,
             unnest(@emails::text[]) AS e, unnest(@job_titles::text[]) AS j,
             unnest(@department_ids::bigint[]) AS d, unnest(@hire_dates::date[]) AS h,
             unnest(@statuses::text[]) AS s) AS x
ON CONFLICT ((lower(email))) DO NOTHING
RETURNING lower(email)::text;

-- SeedManagers sets the managers of demo employees just added, by email:
-- in a statement of their own, which sees the managers added with them.
-- name: SeedManagers :execrows
UPDATE employees e SET manager_id = m.id
FROM (SELECT unnest(@emails::text[]) AS email, unnest(@manager_emails::text[]) AS manager) AS x
JOIN employees m ON lower(m.email) = x.manager
WHERE lower(e.email) = x.email AND e.manager_id IS NULL;

-- SeedAudit adds demo audit entries number first_n..last_n, spread over
-- the last two years in the order of their numbers (the log is appended to
-- in time order): mostly employee edits by 25 HR accounts, logins and
-- logouts, and failed logins from many different addresses, as a log that
-- has seen some password guessing looks. Entries are marked by their
-- client address in 192.0.2.0/24 (TEST-NET-1: no real client has one).
-- name: SeedAudit :execrows
INSERT INTO audit_log (at, actor_id, actor_email, action, entity, entity_id, before, after, client_ip)
SELECT date_trunc('day', now()) - interval '730 days' + g * (interval '730 days' / @total::int),
       NULL,
       CASE WHEN k.action = 'login.failure' THEN 'guess' || (hashint8(g) & 65535) || '@example.net'
            ELSE 'hr' || lpad((g % 25 + 1)::text, 2, '0') || '@hris.local' END,
       k.action, k.entity,
       CASE WHEN k.entity = 'employee' THEN (hashint8(g * 7) & 2147483647) % greatest(@employees::bigint, 1) + 1 END,
       CASE WHEN k.action = 'employee.update' THEN jsonb_build_object('job_title', 'Analyst', 'version', g % 7 + 1) END,
       CASE WHEN k.action IN ('employee.update', 'employee.create')
            THEN jsonb_build_object('job_title', 'Lead', 'version', g % 7 + 2) END,
       '192.0.2.' || (g % 250 + 1)
FROM generate_series(@first_n::bigint, @last_n::bigint) AS g
CROSS JOIN LATERAL (
    SELECT (ARRAY['employee.update', 'employee.update', 'employee.update', 'employee.update', 'employee.update',
                  'employee.update', 'employee.update', 'employee.update', 'employee.create', 'employee.create',
                  'login.success', 'login.success', 'login.success', 'login.success', 'logout', 'logout',
                  'login.failure', 'department.update', 'employee.terminate', 'user.create'])[g % 20 + 1] AS action
) a
CROSS JOIN LATERAL (
    SELECT a.action, CASE WHEN a.action LIKE 'employee.%' THEN 'employee'
                          WHEN a.action LIKE 'department.%' THEN 'department' ELSE 'user' END AS entity
) k;

-- CountSeededAudit counts the demo audit entries (a scan of the log: the
-- seed runs it once).
-- name: CountSeededAudit :one
SELECT count(*) FROM audit_log WHERE client_ip LIKE '192.0.2.%';
