-- name: CreateUser :one
INSERT INTO users (email, name, password_hash, role, department_id)
VALUES (@email, @name, @password_hash, @role, sqlc.narg('department_id'))
RETURNING *;

-- name: GetUser :one
SELECT * FROM users WHERE id = $1;

-- name: GetUserByEmail :one
SELECT * FROM users WHERE lower(email) = lower(@email);

-- SessionUser loads, in one query, everything a request needs to know about
-- the logged-in user. It runs on every request, so deactivation and role
-- changes take effect on the next click.
-- name: SessionUser :one
SELECT u.id, u.email, u.name, u.role, u.is_active, u.department_id,
       coalesce(d.name, '')::text AS department_name
FROM users u
LEFT JOIN departments d ON d.id = u.department_id
WHERE u.id = $1;

-- name: ListUsers :many
SELECT u.*, coalesce(d.name, '')::text AS department_name
FROM users u
LEFT JOIN departments d ON d.id = u.department_id
ORDER BY u.is_active DESC, lower(u.name), u.id;

-- name: SetUserActive :one
UPDATE users SET is_active = @is_active, updated_at = now()
WHERE id = @id
RETURNING *;

-- name: SetUserActiveByEmail :one
UPDATE users SET is_active = @is_active, updated_at = now()
WHERE lower(email) = lower(@email)
RETURNING *;

-- name: SetUserPassword :one
UPDATE users SET password_hash = @password_hash, failed_login_count = 0, updated_at = now()
WHERE id = @id
RETURNING *;

-- name: SetUserPasswordByEmail :one
UPDATE users SET password_hash = @password_hash, failed_login_count = 0, updated_at = now()
WHERE lower(email) = lower(@email)
RETURNING *;

-- name: RecordLoginSuccess :exec
UPDATE users SET last_login_at = now(), failed_login_count = 0 WHERE id = $1;

-- name: RecordLoginFailure :exec
UPDATE users SET failed_login_count = failed_login_count + 1, last_failed_login_at = now()
WHERE lower(email) = lower(@email);

-- name: CountActiveAdmins :one
SELECT count(*) FROM users WHERE role = 'admin' AND is_active;

-- LockAdminChanges serialises changes that could leave no active
-- administrator (two admins deactivating each other at once would each
-- still count the other), for the rest of the transaction.
-- name: LockAdminChanges :exec
SELECT pg_advisory_xact_lock(hashtext('hris.users.admins'));
