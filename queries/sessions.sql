-- The scs session store (see db/sessions.go); tokens are SHA-256 hashes.

-- name: FindSession :one
SELECT data, expiry FROM sessions WHERE token = $1 AND expiry > now();

-- name: CommitSession :exec
INSERT INTO sessions (token, data, expiry) VALUES ($1, $2, $3)
ON CONFLICT (token) DO UPDATE SET data = EXCLUDED.data, expiry = EXCLUDED.expiry;

-- name: DeleteSession :exec
DELETE FROM sessions WHERE token = $1;

-- name: DeleteExpiredSessions :execrows
DELETE FROM sessions WHERE expiry < now();
