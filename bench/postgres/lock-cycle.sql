-- One lock cycle in raw SQL: the two statements PostgresStore sends for acquire(wait: 0)
-- and release (PostgresStore+Locks.swift: tryLockAndBump, unlockAndClear), one round trip
-- each, with the fencing token's clock floor and the lease session's watchdog
-- (idle_session_timeout) as keycoord sends them. Where keycoord binds a value (the lease
-- id, the acquisition and expiry times), this script computes it in SQL.
\set key 4242000 + :client_id
\set watchdog 30500
WITH lock AS (SELECT pg_try_advisory_lock(:key::bigint) AS ok),
     bumped AS (
        INSERT INTO keycoord_lock_epochs AS e (name, epoch, holder, lease_id, instance, acquired_at, expires_at)
        SELECT 'pgbench:' || :client_id, floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint, 'bench',
               md5(random()::text), 'pgbench', now(), now() + interval '30 seconds'
        FROM lock WHERE lock.ok
        ON CONFLICT (name) DO UPDATE SET epoch = GREATEST(e.epoch + 1, floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint),
            holder = EXCLUDED.holder, lease_id = EXCLUDED.lease_id, instance = EXCLUDED.instance,
            acquired_at = EXCLUDED.acquired_at, expires_at = EXCLUDED.expires_at
        RETURNING epoch),
     watchdog AS (SELECT set_config('idle_session_timeout', CASE WHEN lock.ok THEN :watchdog::text ELSE '0' END, false) AS armed
                  FROM lock)
SELECT (SELECT ok FROM lock) AS ok, (SELECT epoch FROM bumped) AS epoch, (SELECT armed FROM watchdog) AS armed;
WITH unlocked AS (SELECT pg_advisory_unlock(:key::bigint) AS ok),
     cleared AS (UPDATE keycoord_lock_epochs SET holder = NULL, lease_id = NULL, instance = NULL, expires_at = NULL
                 WHERE name = 'pgbench:' || :client_id RETURNING 1),
     disarmed AS (SELECT set_config('idle_session_timeout', '0', false) AS armed)
SELECT (SELECT ok FROM unlocked) AS ok, (SELECT armed FROM disarmed) AS disarmed;
