-- Failed-login throttling, shared by every app instance.

-- ThrottleBlocked returns the blocks still in force among keys, longest first.
-- name: ThrottleBlocked :many
SELECT key, blocked_until::timestamptz AS blocked_until
FROM login_throttle
WHERE key = ANY(@keys::text[]) AND blocked_until > now()
ORDER BY blocked_until DESC;

-- ThrottleFailure counts one failure for key within a sliding window and
-- blocks the key once it reaches max_failures, in one atomic upsert.
-- name: ThrottleFailure :one
INSERT INTO login_throttle AS t (key, failures, window_start, blocked_until)
VALUES (@key, 1, now(),
        CASE WHEN @max_failures::int <= 1 THEN now() + make_interval(secs => @block_seconds::float8) END)
ON CONFLICT (key) DO UPDATE SET
    failures = CASE
        WHEN t.window_start < now() - make_interval(secs => @window_seconds::float8) THEN 1
        ELSE t.failures + 1 END,
    window_start = CASE
        WHEN t.window_start < now() - make_interval(secs => @window_seconds::float8) THEN now()
        ELSE t.window_start END,
    blocked_until = CASE
        WHEN (CASE WHEN t.window_start < now() - make_interval(secs => @window_seconds::float8) THEN 1
                   ELSE t.failures + 1 END) >= @max_failures::int
        THEN now() + make_interval(secs => @block_seconds::float8)
        ELSE t.blocked_until END
RETURNING failures, blocked_until;

-- name: ThrottleReset :exec
DELETE FROM login_throttle WHERE key = $1;

-- name: ThrottleCleanup :execrows
DELETE FROM login_throttle
WHERE window_start < now() - interval '1 day'
  AND (blocked_until IS NULL OR blocked_until < now());
