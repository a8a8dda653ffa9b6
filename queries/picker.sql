-- The employee picker: type part of a name, choose from the matches (the
-- manager field of the employee form, the employee of a leave request).

-- PickEmployees is the first @max_rows employees whose "first last email"
-- contains @search (escaped for LIKE), by name. The expression is the one
-- employees_search_idx is built on; it runs with custom plans
-- (App.readPlanned) so the trigram index serves it. Terminated employees
-- come along only when @include_terminated.
-- name: PickEmployees :many
SELECT e.id, e.first_name, e.last_name, e.job_title, e.status, coalesce(d.name, '')::text AS department_name
FROM employees e
LEFT JOIN departments d ON d.id = e.department_id
WHERE (e.first_name || ' ' || e.last_name || ' ' || e.email) ILIKE '%' || @search::text || '%'
  AND (@include_terminated::boolean OR e.status <> 'terminated')
  AND e.id <> @exclude_id::bigint
ORDER BY e.last_name, e.first_name, e.id
LIMIT @max_rows;

-- PickedEmployee is one employee as the picker shows a choice.
-- name: PickedEmployee :one
SELECT e.id, e.first_name, e.last_name, e.job_title, e.status, coalesce(d.name, '')::text AS department_name
FROM employees e
LEFT JOIN departments d ON d.id = e.department_id
WHERE e.id = $1;
