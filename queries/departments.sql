-- name: DepartmentOptions :many
SELECT id, name FROM departments ORDER BY lower(name), id;
