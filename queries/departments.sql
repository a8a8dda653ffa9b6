-- name: DepartmentOptions :many
SELECT id, name FROM departments ORDER BY lower(name), id;

-- ListDepartments is every department with its number of employees
-- (terminated ones included: they still belong to it), from the counts the
-- triggers keep (migration 00006): a few rows per department, not its
-- employees.
-- name: ListDepartments :many
SELECT d.id, d.name, d.description, d.version,
       (SELECT coalesce(sum(c.n), 0) FROM employee_counts c WHERE c.department_id = d.id)::bigint AS employee_count
FROM departments d
ORDER BY lower(d.name), d.id;

-- name: GetDepartment :one
SELECT * FROM departments WHERE id = $1;

-- GetDepartmentForUpdate locks the row until the transaction ends. FOR
-- UPDATE also makes an employee insert naming this department wait (its
-- foreign key check takes KEY SHARE), so a delete sees a stable count.
-- name: GetDepartmentForUpdate :one
SELECT * FROM departments WHERE id = $1 FOR UPDATE;

-- name: GetDepartmentByCreateKey :one
SELECT * FROM departments WHERE create_key = $1;

-- CountDepartmentEmployees is exact inside a transaction too: the counts
-- change in the transactions that change employees.
-- name: CountDepartmentEmployees :one
SELECT coalesce(sum(n), 0)::bigint FROM employee_counts WHERE department_id = @department_id::bigint;

-- CreateDepartment inserts unless the form's idempotency key was used
-- already; then it returns no row and the caller loads the earlier one.
-- name: CreateDepartment :one
INSERT INTO departments (name, description, create_key)
VALUES (@name, @description, @create_key)
ON CONFLICT (create_key) DO NOTHING
RETURNING *;

-- name: UpdateDepartment :one
UPDATE departments SET name = @name, description = @description,
    version = version + 1, updated_at = now()
WHERE id = @id AND version = @version
RETURNING *;

-- name: DeleteDepartment :execrows
DELETE FROM departments WHERE id = $1;
