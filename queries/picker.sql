-- The employee picker: type part of a name, choose from the matches (the
-- manager field of the employee form, the employee of a leave request).

-- PickedEmployee is one employee as the picker shows a choice.
-- name: PickedEmployee :one
SELECT e.id, e.first_name, e.last_name, e.job_title, e.status, coalesce(d.name, '')::text AS department_name
FROM employees e
LEFT JOIN departments d ON d.id = e.department_id
WHERE e.id = $1;
