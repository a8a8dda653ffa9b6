-- Named leases (see db/lease.go). Each is one statement: no session state,
-- so they work through PgBouncer in transaction mode.

-- name: ShortTx :exec
-- Settings of a short bookkeeping transaction (leases, alerts), local to
-- it: it commits without waiting for a synchronous standby — it must go on
-- while the standby is gone (an alert may be about exactly that), and what
-- a failover could lose of it is harmless (a lease expires, an alert
-- transition is decided again) — and a client that stops in the middle of
-- it (frozen, cut off) loses it after 5 s instead of holding its row
-- locks, the lease's say, for as long as idle_in_transaction_session_timeout.
SELECT pg_catalog.set_config('synchronous_commit', 'local', true),
       pg_catalog.set_config('idle_in_transaction_session_timeout', '5000', true);

-- name: AcquireLease :one
-- Takes the lease when it is free or expired, renews it when this process
-- (token) holds it already; no row when another process holds it.
INSERT INTO leases AS l (name, holder, token, acquired_at, renewed_at, expires_at)
VALUES (@name, @holder, @token, now(), now(), now() + make_interval(secs => @ttl_seconds::float8))
ON CONFLICT (name) DO UPDATE SET
    holder = EXCLUDED.holder,
    token = EXCLUDED.token,
    acquired_at = CASE WHEN l.token = EXCLUDED.token THEN l.acquired_at ELSE now() END,
    renewed_at = now(),
    expires_at = EXCLUDED.expires_at
WHERE l.token = EXCLUDED.token OR l.expires_at < now()
RETURNING l.acquired_at;

-- name: ReleaseLease :execrows
-- Ends this process's hold at once, so another instance takes over on its
-- next try instead of waiting for the lease to expire.
UPDATE leases SET expires_at = now() WHERE name = @name AND token = @token AND expires_at > now();

-- name: LeaseHolder :one
SELECT holder, acquired_at, renewed_at, expires_at, (expires_at > now())::bool AS live
FROM leases WHERE name = @name;

-- name: LeaseFence :one
-- Whether this process (token) holds the lease now. FOR SHARE keeps the
-- lease row as it is until the caller's transaction ends: nobody takes
-- the lease over in between, so what that transaction writes is fenced.
SELECT l.expires_at FROM leases l
WHERE l.name = @name AND l.token = @token AND l.expires_at > now()
FOR SHARE;
