-- The scs session store (see db/sessions.go); tokens are SHA-256 hashes.

-- FindSession returns an unexpired session with its user, read as
-- SessionUser reads it (queries/users.sql): the current row, every time,
-- so deactivation and role changes take effect on the next request. The
-- user columns are NULL when the session has no user_id or the user is gone.
-- name: FindSession :one
SELECT s.data, s.expiry, s.user_id,
       u.id AS found_user_id, u.email, u.name, u.role, u.is_active,
       coalesce(d.name, '')::text AS department_name
FROM sessions s
LEFT JOIN users u ON u.id = s.user_id
LEFT JOIN departments d ON d.id = u.department_id
WHERE s.token = @token AND s.expiry > now();

-- name: CommitSession :exec
INSERT INTO sessions (token, data, expiry, user_id) VALUES (@token, @data, @expiry, sqlc.narg('user_id'))
ON CONFLICT (token) DO UPDATE SET data = EXCLUDED.data, expiry = EXCLUDED.expiry, user_id = EXCLUDED.user_id;

-- UpdateSession saves a session this request found: it never brings back
-- a row deleted meanwhile (a logout or deactivation on another request).
-- name: UpdateSession :execrows
UPDATE sessions SET data = @data, expiry = @expiry, user_id = sqlc.narg('user_id')
WHERE token = @token;

-- DeleteUserSessions ends every session of a user: a password reset logs
-- them out everywhere at once, and a reactivation makes sure sessions from
-- before the deactivation do not come back (a deactivated user's sessions
-- are refused on every request; see account.SetActive).
-- name: DeleteUserSessions :execrows
DELETE FROM sessions WHERE user_id = $1;

-- name: DeleteSession :exec
DELETE FROM sessions WHERE token = $1;

-- name: DeleteExpiredSessions :execrows
DELETE FROM sessions WHERE expiry < now();
