-- One lock cycle in raw SQL, statement for statement what PostgresStore sends for
-- acquire(wait: 0) + release (extended protocol, one statement per round trip).
\set key 4242000 + :client_id
BEGIN;
SELECT pg_try_advisory_lock(:key);
INSERT INTO keycoord_lock_epochs AS e (name, epoch, holder, lease_id, instance, acquired_at, expires_at)
VALUES ('pgbench:' || :client_id, 1, 'bench', md5(random()::text), 'pgbench', now(), now() + interval '30 seconds')
ON CONFLICT (name) DO UPDATE SET epoch = e.epoch + 1, holder = EXCLUDED.holder, lease_id = EXCLUDED.lease_id,
    instance = EXCLUDED.instance, acquired_at = EXCLUDED.acquired_at, expires_at = EXCLUDED.expires_at
RETURNING epoch;
COMMIT;
SELECT pg_advisory_unlock(:key);
UPDATE keycoord_lock_epochs SET holder = NULL, lease_id = NULL, instance = NULL, expires_at = NULL
WHERE name = 'pgbench:' || :client_id;
