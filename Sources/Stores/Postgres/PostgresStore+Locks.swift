import Core
import Crypto
import Foundation

extension PostgresStore {
    public func acquire(lock name: String, holder: String, ttl: Duration, wait: Duration) async throws -> LockLease {
        try Self.validate(lock: name)
        guard ttl > .zero else { throw CoordinationError.invalid("ttl must be positive") }
        guard wait >= .zero else { throw CoordinationError.invalid("wait must not be negative") }
        guard !holder.isEmpty else { throw CoordinationError.invalid("holder must not be empty") }
        let key = PGLockKey(name)
        let leaseID = SecureRandom.hexToken(bytes: 16)
        switch await handoffs.turn(name, holder: holder, leaseID: leaseID, ttl: ttl, wait: wait) {
        case .granted(let lease):
            return lease.lockLease
        case .timedOut:
            throw try await heldError(name)
        case .closed:
            throw CoordinationError.storeUnavailable("the PostgreSQL store is closed")
        case .postgres(let wait, let claimant):
            do {
                return try await acquireInPostgres(name, key: key, holder: holder, leaseID: leaseID, ttl: ttl, wait: wait,
                                                   claimant: claimant)
            } catch {
                handoffs.missed(name, claimant: claimant)
                throw error
            }
        }
    }

    /// Takes the lock on a session of its own: the lease's session from then on.
    private func acquireInPostgres(_ name: String, key: PGLockKey, holder: String, leaseID: String, ttl: Duration,
                                   wait: Duration, claimant: Bool) async throws -> LockLease {
        var attempt = 0
        var connection: PGConnection
        var granted: (token: UInt64, acquiredAt: Date, expiresAt: Date)?
        var wait = wait
        while true {
            attempt += 1
            do {
                connection = try await leaseConnections.checkout()
            } catch {
                throw Self.mapped(error)
            }
            do {
                granted = try await Self.lockAndBump(connection, name: name, key: key, holder: holder, leaseID: leaseID,
                                                     instance: instanceID, ttl: ttl, wait: wait)
                // A lapsed lease whose session PostgreSQL has not ended yet (a frozen holder):
                // the server ends it within `lapseMargin` of its expiry, so wait that long.
                if granted == nil, wait < Self.lapseMargin * 2, try await status(lock: name).holder == nil {
                    wait = Self.lapseMargin * 2
                    granted = try await Self.lockAndBump(connection, name: name, key: key, holder: holder, leaseID: leaseID,
                                                         instance: instanceID, ttl: ttl, wait: wait)
                }
                break
            } catch {
                // The session may hold the lock without an epoch row; closing it releases the lock.
                leaseConnections.checkin(connection, broken: true)
                // A spare session that died with a server restart fails on first use; the pool
                // has now dropped the spares, so one more try on a fresh session is safe (a
                // dead session holds no lock; at worst an epoch number was skipped).
                if let error = error as? PGError, error.kind == .connectionLost, attempt == 1 { continue }
                throw Self.mapped(error)
            }
        }
        guard let granted else {
            leaseConnections.checkin(connection)
            throw try await heldError(name)
        }
        let lease = PGLease(name: name, leaseID: leaseID, holder: holder, fencingToken: granted.token,
                            acquiredAt: granted.acquiredAt, expiresAt: granted.expiresAt, key: key, connection: connection)
        // The queue learns of the holder before the lease can expire or be released.
        handoffs.granted(name, leaseID: leaseID, claimant: claimant)
        leases.withLock { $0[leaseID] = lease }
        expiry.schedule(at: granted.expiresAt)
        logger?.debug("lock acquired", metadata: ["lock": "\(name)", "holder": "\(holder)", "token": "\(granted.token)"])
        return lease.lockLease
    }

    public func renew(lock name: String, leaseID: String, ttl: Duration) async throws -> LockLease {
        try Self.validate(lock: name)
        guard ttl > .zero else { throw CoordinationError.invalid("ttl must be positive") }
        guard let lease = leases.withLock({ $0[leaseID] }), lease.name == name, lease.isLive else {
            throw CoordinationError.leaseNotFound(name: name, leaseID: leaseID)
        }
        let expiresAt = Date().addingTimeInterval(ttl.timeInterval)
        let extended: Bool
        do {
            // Runs on the lease's own session: it fails if that session died, which is exactly
            // when PostgreSQL has already released the advisory lock. Skipped if the lease
            // ended (expiry, release) while this call waited for the session: its session may
            // already serve another lease.
            // The watchdog moves with the expiry, in the same statement.
            guard let rows = try await lease.connection.query(
                Self.extendLease,
                [name, leaseID, String(lease.fencingToken), String(expiresAt.timeIntervalSince1970), Self.watchdog(ttl)],
                onlyIf: { !lease.isEnded })
            else { throw CoordinationError.leaseNotFound(name: name, leaseID: leaseID) }
            extended = rows.affected == 1
        } catch let error as PGError where error.kind == .connectionLost {
            lose(lease, reason: error.message)
            throw CoordinationError.leaseNotFound(name: name, leaseID: leaseID)
        } catch {
            throw Self.mapped(error)
        }
        guard extended else {
            lose(lease, reason: "its epoch row was taken over")
            throw CoordinationError.leaseNotFound(name: name, leaseID: leaseID)
        }
        guard lease.extend(to: expiresAt) else { throw CoordinationError.leaseNotFound(name: name, leaseID: leaseID) }
        expiry.schedule(at: expiresAt)
        return lease.lockLease
    }

    public func release(lock name: String, leaseID: String) async throws {
        try Self.validate(lock: name)
        guard let lease = leases.withLock({ $0[leaseID] }), lease.name == name else {
            throw CoordinationError.leaseNotFound(name: name, leaseID: leaseID)
        }
        let live = lease.isLive
        guard lease.end() else { throw CoordinationError.leaseNotFound(name: name, leaseID: leaseID) }
        let released = live ? await handOver(lease) : await finish(lease)
        guard live && released else { throw CoordinationError.leaseNotFound(name: name, leaseID: leaseID) }
    }

    public func status(lock name: String) async throws -> LockStatus {
        try Self.validate(lock: name)
        let key = PGLockKey(name)
        do {
            let rows = try await Self.retryingStaleConnection(pool) { connection in
                try await connection.query(Self.statusQuery, [name, key.classID, key.objectID])
            }
            let token = UInt64(try rows.optionalInt64(0, "epoch") ?? 0)
            let expires = try rows.optionalDouble(0, "expires").map { Date(timeIntervalSince1970: $0) }
            if try rows.bool(0, "locked"), let holder = try rows.optionalString(0, "holder"),
               let expires, expires > Date() {
                return LockStatus(name: name, holder: holder, expiresAt: expires, fencingToken: token)
            }
            return LockStatus(name: name, holder: nil, expiresAt: nil, fencingToken: token)
        } catch {
            throw Self.mapped(error)
        }
    }

    /// The epoch row joined with whether any session holds the advisory lock right now, so a
    /// crashed holder (session gone, row not cleared) shows as free.
    static let statusQuery = PGStatement("""
        SELECT e.epoch, e.holder, extract(epoch FROM e.expires_at)::float8 AS expires,
               EXISTS (SELECT 1 FROM pg_locks l
                       WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
                         AND l.classid = $2::oid AND l.objid = $3::oid
                         AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())) AS locked
        FROM (SELECT $1::text AS name) n
        LEFT JOIN keycoord_lock_epochs e ON e.name = n.name
        """)

    /// The epoch bump: the new epoch is the fencing token; holder, lease and expiry are
    /// recorded for `status` and `.lockHeld`. The token is at least the server's clock in
    /// milliseconds (and one more than the last): a failover to a replica that lost the
    /// last bumps still hands out larger tokens than the lost ones, since the new primary's
    /// clock is past the moment they were granted.
    static let bumpEpoch = """
        INSERT INTO keycoord_lock_epochs AS e (name, epoch, holder, lease_id, instance, acquired_at, expires_at)
        SELECT $2, \(timeFloor), $3, $4, $5, to_timestamp($6::float8), to_timestamp($7::float8) FROM lock WHERE lock.ok
        ON CONFLICT (name) DO UPDATE SET epoch = GREATEST(e.epoch + 1, \(timeFloor)), holder = EXCLUDED.holder,
            lease_id = EXCLUDED.lease_id, instance = EXCLUDED.instance,
            acquired_at = EXCLUDED.acquired_at, expires_at = EXCLUDED.expires_at
        RETURNING epoch
        """

    /// A renew on the lease's own session: the row moves to the new expiry only while it is
    /// still this lease's, and the watchdog moves with it.
    static let extendLease = PGStatement("""
        WITH watchdog AS (SELECT set_config('idle_session_timeout', $5, false) AS armed)
        UPDATE keycoord_lock_epochs SET expires_at = to_timestamp($4::float8)
        WHERE name = $1 AND lease_id = $2 AND epoch = $3 AND (SELECT armed FROM watchdog) IS NOT NULL
        """)

    /// The server's clock in whole milliseconds since 1970, the floor of every fencing token.
    static let timeFloor = "floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint"

    /// How long after a lease's expiry PostgreSQL ends the session of a holder that went
    /// silent (frozen by SIGSTOP, a paused container, a VM stall: its kernel still answers
    /// keepalives). Each lease session runs with `idle_session_timeout` = time to expiry +
    /// this margin, renewed by every renew; the margin covers the trip from the server's
    /// statement end to the client's clock.
    static let lapseMargin = Duration.milliseconds(500)

    /// The session's watchdog for a lease of `ttl` from now, in milliseconds.
    static func watchdog(_ ttl: Duration) -> String {
        String(min(Int64(Int32.max), Int64(((ttl + lapseMargin).timeInterval * 1000).rounded(.up))))
    }

    /// Arms the lease session's watchdog ($8) when the lock was granted; disarms it otherwise.
    static let armWatchdog = """
        watchdog AS (SELECT set_config('idle_session_timeout', CASE WHEN lock.ok THEN $8 ELSE '0' END, false) AS armed
                     FROM lock)
        """

    /// Without waiting: try-lock, bump and arm the watchdog in one statement (one round
    /// trip). The `lock` CTE calls a volatile function and is referenced several times, so
    /// PostgreSQL evaluates it exactly once; the INSERT runs only when the lock was granted.
    static let tryLockAndBump = PGStatement("""
        WITH lock AS (SELECT pg_try_advisory_lock($1::bigint) AS ok),
             bumped AS (\(bumpEpoch)),
             \(armWatchdog)
        SELECT (SELECT ok FROM lock) AS ok, (SELECT epoch FROM bumped) AS epoch, (SELECT armed FROM watchdog) AS armed
        """)

    /// How long a waiting acquisition may queue in `pg_advisory_lock`, for this transaction.
    static let waitLimits = PGStatement("SELECT set_config('lock_timeout', $1, true), set_config('statement_timeout', $2, true)")

    static let waitForLock = PGStatement("SELECT pg_advisory_lock($1::bigint)")

    /// After `pg_advisory_lock` returned in the same transaction: bump and arm unconditionally.
    static let lockedBump = PGStatement("""
        WITH lock AS (SELECT $1::bigint IS NOT NULL AS ok),
             bumped AS (\(bumpEpoch)),
             \(armWatchdog)
        SELECT true AS ok, (SELECT epoch FROM bumped) AS epoch, (SELECT armed FROM watchdog) AS armed
        """)

    /// On the lease session: take the advisory lock and bump the epoch row. With a wait, the
    /// session queues in `pg_advisory_lock` under `SET LOCAL lock_timeout` inside a
    /// transaction; a session-level advisory lock survives the COMMIT and the SET LOCAL
    /// timeouts end with it. Returns nil when the lock is held elsewhere.
    ///
    /// Waiting in `pg_advisory_lock` rather than retrying `pg_try_advisory_lock` costs no
    /// polling, hands the lock over the moment its holder lets go, and serves waiters in
    /// arrival order; it only ties up this dedicated session, which the lease needs anyway.
    static func lockAndBump(_ connection: PGConnection, name: String, key: PGLockKey, holder: String, leaseID: String,
                            instance: String, ttl: Duration, wait: Duration) async throws -> (token: UInt64, acquiredAt: Date, expiresAt: Date)? {
        let acquiredAt = Date()
        let expiresAt = acquiredAt.addingTimeInterval(ttl.timeInterval)
        let parameters = [key.parameter, name, holder, leaseID, instance, String(acquiredAt.timeIntervalSince1970),
                          String(expiresAt.timeIntervalSince1970), watchdog(ttl)]
        if wait == .zero {
            let rows = try await connection.query(tryLockAndBump, parameters)
            guard try rows.bool(0, "ok") else { return nil }
            return (UInt64(try rows.int64(0, "epoch")), acquiredAt, expiresAt)
        }
        try await connection.query("BEGIN")
        do {
            let waitMilliseconds = max(1, min(Int64(Int32.max) - 60_000, Int64(wait.timeInterval * 1000)))
            try await connection.query(waitLimits, [String(waitMilliseconds), String(waitMilliseconds + 30_000)])
            do {
                try await connection.query(waitForLock, [key.parameter])
            } catch let error as PGError where error.sqlState == "55P03" {
                try await connection.query("ROLLBACK")
                return nil
            }
            // The lock was granted after a wait: the lease runs from now.
            let grantedAt = Date()
            let grantedUntil = grantedAt.addingTimeInterval(ttl.timeInterval)
            let rows = try await connection.query(lockedBump, [key.parameter, name, holder, leaseID, instance,
                                                               String(grantedAt.timeIntervalSince1970),
                                                               String(grantedUntil.timeIntervalSince1970), watchdog(ttl)])
            let token = try rows.int64(0, "epoch")
            try await connection.query("COMMIT")
            return (UInt64(token), grantedAt, grantedUntil)
        } catch {
            _ = try? await connection.query("ROLLBACK")
            throw error
        }
    }

    /// `.lockHeld` with the holder recorded in the epoch row; a session holding the key with
    /// no live lease row (another tool, or a holder mid-acquire) shows as "unknown".
    private func heldError(_ name: String) async throws -> CoordinationError {
        let current = try await status(lock: name)
        return .lockHeld(name: name, holder: current.holder ?? "unknown", expiresAt: current.expiresAt ?? Date())
    }

    /// Ends the leases whose expiry has passed (the expiry timer's handler) and returns the
    /// earliest expiry still ahead, for the next timer run.
    func expireLeases() -> Date? {
        let now = Date()
        let (due, next) = leases.withLock { leases -> ([PGLease], Date?) in
            var due: [PGLease] = []
            var next: Date?
            for lease in leases.values {
                let expiresAt = lease.expiresAt
                if expiresAt <= now {
                    due.append(lease)
                } else if next.map({ expiresAt < $0 }) ?? true {
                    next = expiresAt
                }
            }
            return (due, next)
        }
        for lease in due where lease.end() {
            logger?.info("lease expired", metadata: ["lock": "\(lease.name)", "lease": "\(lease.leaseID)"])
            Task { _ = await finish(lease) }
        }
        return next
    }

    /// The lease's session died or was taken over: forget it and drop the session.
    private func lose(_ lease: PGLease, reason: String) {
        guard lease.end() else { return }
        logger?.warning("lease lost", metadata: ["lock": "\(lease.name)", "lease": "\(lease.leaseID)", "reason": "\(reason)"])
        leases.withLock { _ = $0.removeValue(forKey: lease.leaseID) }
        leaseConnections.checkin(lease.connection, broken: true)
        _ = handoffs.vacate(lease.name, leaseID: lease.leaseID, handOff: false)
    }

    /// Unlocks and clears the epoch row on the lease's session, then returns the session to
    /// the spare list (or drops it if it broke), and sends this sidecar's next waiter, if any,
    /// to PostgreSQL. True when the lock was still held.
    func finish(_ lease: PGLease) async -> Bool {
        leases.withLock { _ = $0.removeValue(forKey: lease.leaseID) }
        let unlocked = await unlock(lease)
        _ = handoffs.vacate(lease.name, leaseID: lease.leaseID, handOff: false)
        return unlocked
    }

    private func unlock(_ lease: PGLease) async -> Bool {
        do {
            let unlocked = try await lease.connection.query(Self.unlockAndClear, [lease.key.parameter, lease.name, lease.leaseID])
                .bool(0, "ok")
            leaseConnections.checkin(lease.connection, broken: !unlocked)
            return unlocked
        } catch {
            leaseConnections.checkin(lease.connection, broken: true)
            return false
        }
    }

    /// Ends a released lease. When a waiter of this sidecar is queued for the name and no other
    /// session waits for the lock in PostgreSQL, the waiter gets the lease's session with the
    /// advisory lock still held: one statement moves the epoch row to the new lease (a larger
    /// token, its holder and expiry) and arms the watchdog for its TTL. Otherwise the lock is
    /// unlocked and the waiter queues in PostgreSQL behind whoever waits there (another
    /// sidecar is never starved by this one's hand-offs). True when the lock was still held.
    private func handOver(_ lease: PGLease) async -> Bool {
        leases.withLock { _ = $0.removeValue(forKey: lease.leaseID) }
        guard let waiter = handoffs.vacate(lease.name, leaseID: lease.leaseID, handOff: true) else {
            return await unlock(lease)
        }
        let acquiredAt = Date()
        let expiresAt = acquiredAt.addingTimeInterval(waiter.ttl.timeInterval)
        let moved: PGRows
        do {
            moved = try await lease.connection.query(
                Self.handOff,
                [lease.name, lease.key.classID, lease.key.objectID, lease.leaseID, waiter.holder, waiter.leaseID, instanceID,
                 String(acquiredAt.timeIntervalSince1970), String(expiresAt.timeIntervalSince1970), Self.watchdog(waiter.ttl)])
        } catch {
            // The session broke: closing it frees the lock in PostgreSQL, where the waiter goes.
            leaseConnections.checkin(lease.connection, broken: true)
            handoffs.toPostgres(waiter)
            return false
        }
        guard moved.count == 1, let token = try? moved.int64(0, "epoch") else {
            let unlocked = await unlock(lease)
            handoffs.toPostgres(waiter)
            return unlocked
        }
        let next = PGLease(name: lease.name, leaseID: waiter.leaseID, holder: waiter.holder, fencingToken: UInt64(token),
                           acquiredAt: acquiredAt, expiresAt: expiresAt, key: lease.key, connection: lease.connection)
        handoffs.granted(lease.name, leaseID: waiter.leaseID, claimant: true)
        leases.withLock { $0[waiter.leaseID] = next }
        expiry.schedule(at: expiresAt)
        waiter.continuation.resume(returning: .granted(next))
        logger?.debug("lock handed over", metadata: ["lock": "\(lease.name)", "holder": "\(waiter.holder)", "token": "\(token)"])
        return true
    }

    /// The hand-over on the holder's session, which keeps the advisory lock: only if no
    /// session waits for the lock in PostgreSQL (`pg_locks`, not granted) and the row is
    /// still the old lease's. No row back: unlock instead.
    static let handOff = PGStatement("""
        WITH waiting AS (
            SELECT EXISTS (SELECT 1 FROM pg_locks l
                           WHERE l.locktype = 'advisory' AND NOT l.granted AND l.objsubid = 1
                             AND l.classid = $2::oid AND l.objid = $3::oid
                             AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())) AS other)
        UPDATE keycoord_lock_epochs AS e SET epoch = GREATEST(e.epoch + 1, \(timeFloor)), holder = $5, lease_id = $6,
            instance = $7, acquired_at = to_timestamp($8::float8), expires_at = to_timestamp($9::float8)
        WHERE e.name = $1 AND e.lease_id = $4 AND NOT (SELECT other FROM waiting)
        RETURNING e.epoch, set_config('idle_session_timeout', $10, false) AS armed
        """)

    /// Release in one statement (one round trip); the data-modifying CTE runs although the
    /// outer query does not read it. The watchdog is disarmed so the session can wait as a spare.
    static let unlockAndClear = PGStatement("""
        WITH unlocked AS (SELECT pg_advisory_unlock($1::bigint) AS ok),
             cleared AS (UPDATE keycoord_lock_epochs SET holder = NULL, lease_id = NULL, instance = NULL, expires_at = NULL
                         WHERE name = $2 AND lease_id = $3 RETURNING 1),
             disarmed AS (SELECT set_config('idle_session_timeout', '0', false) AS armed)
        SELECT (SELECT ok FROM unlocked) AS ok, (SELECT armed FROM disarmed) AS disarmed
        """)

    static func validate(lock name: String) throws {
        guard LockName.isValid(name) else {
            throw CoordinationError.invalid("lock name must match [A-Za-z0-9._:-]{1,200}")
        }
    }
}
