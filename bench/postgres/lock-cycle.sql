-- One lock cycle in raw SQL: the two statements PostgresStore sends for acquire(wait: 0)
-- and release (PostgresStore+Locks.swift: tryLockAndBump, unlockAndClear), one round trip each.
\set key 4242000 + :client_id
WITH lock AS (SELECT pg_try_advisory_lock(:key) AS ok),
     bumped AS (
        INSERT INTO keycoord_lock_epochs AS e (name, epoch, holder, lease_id, instance, acquired_at, expires_at)
        SELECT 'pgbench:' || :client_id, 1, 'bench', md5(random()::text), 'pgbench', now(), now() + interval '30 seconds'
        FROM lock WHERE lock.ok
        ON CONFLICT (name) DO UPDATE SET epoch = e.epoch + 1, holder = EXCLUDED.holder,
            lease_id = EXCLUDED.lease_id, instance = EXCLUDED.instance,
            acquired_at = EXCLUDED.acquired_at, expires_at = EXCLUDED.expires_at
        RETURNING epoch)
SELECT (SELECT ok FROM lock) AS ok, (SELECT epoch FROM bumped) AS epoch;
WITH unlocked AS (SELECT pg_advisory_unlock(:key) AS ok),
     cleared AS (UPDATE keycoord_lock_epochs SET holder = NULL, lease_id = NULL, instance = NULL, expires_at = NULL
                 WHERE name = 'pgbench:' || :client_id RETURNING 1)
SELECT (SELECT ok FROM unlocked) AS ok;
