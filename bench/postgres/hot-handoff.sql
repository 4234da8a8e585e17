-- The hand-off of one contended lock in raw SQL, the floor of ServiceBench hot-lock: every
-- client takes the same advisory lock and bumps the same epoch row (the fencing token) in
-- one transaction; the commit hands the lock to the next waiter.
BEGIN;
SELECT pg_advisory_xact_lock(4242999);
INSERT INTO keycoord_lock_epochs AS e (name, epoch, holder, lease_id, instance, acquired_at, expires_at)
VALUES ('pgbench-hot', 1, 'bench', md5(random()::text), 'pgbench', now(), now() + interval '30 seconds')
ON CONFLICT (name) DO UPDATE SET epoch = e.epoch + 1, holder = EXCLUDED.holder, lease_id = EXCLUDED.lease_id,
    acquired_at = EXCLUDED.acquired_at, expires_at = EXCLUDED.expires_at;
COMMIT;
