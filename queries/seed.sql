-- Demo data for `hris seed` and `hris dev`. Both inserts skip rows that
-- exist already, so seeding twice changes nothing. Several unnest() calls in
-- one select list walk their arrays in step (one row per index).

-- name: SeedDepartments :execrows
INSERT INTO departments (name, description)
SELECT unnest(@names::text[]), unnest(@descriptions::text[])
ON CONFLICT ((lower(name))) DO NOTHING;

-- name: DepartmentIDs :many
SELECT id FROM departments ORDER BY id;

-- name: SeedEmployees :execrows
INSERT INTO employees (first_name, last_name, email, job_title, department_id, hire_date, status, termination_date)
SELECT x.f, x.l, x.e, x.j, x.d, x.h, x.s,
       CASE WHEN x.s = 'terminated' THEN x.h + 400 END
FROM (SELECT unnest(@first_names::text[]) AS f, unnest(@last_names::text[]) AS l,
             unnest(@emails::text[]) AS e, unnest(@job_titles::text[]) AS j,
             unnest(@department_ids::bigint[]) AS d, unnest(@hire_dates::date[]) AS h,
             unnest(@statuses::text[]) AS s) AS x
ON CONFLICT ((lower(email))) DO NOTHING;

-- AnalyzeEmployees refreshes the planner's statistics after a bulk load, so
-- searches use the trigram index right away instead of after autovacuum.
-- name: AnalyzeEmployees :exec
ANALYZE employees, departments;
