import Core
import Crypto
import Foundation

extension PostgresStore {
    public func registryIdentity(trustDomain: String) async throws -> String {
        try Self.validate(trustDomain: trustDomain)
        do {
            return try await Self.retryingStaleConnection(pool) { connection in
                // One statement: the insert wins once and later calls read it. A racer whose
                // insert waited for the winner's commit cannot see that row in its own
                // snapshot and gets no row: the second round sees it.
                for _ in 0..<2 {
                    let rows = try await connection.query(Self.registryIdentityQuery, [trustDomain, SecureRandom.hexToken()])
                    if rows.count == 1 { return try rows.string(0, "identity") }
                }
                throw CoordinationError.storeUnavailable("the registry identity of \(trustDomain) could not be read; try again")
            }
        } catch {
            throw Self.mapped(error)
        }
    }

    public func snapshot(trustDomain: String) async throws -> RegistrySnapshot {
        try Self.validate(trustDomain: trustDomain)
        do {
            return try await Self.retryingStaleConnection(pool) { connection in
                // One statement, so records and sequence come from one MVCC snapshot.
                let rows = try await connection.query(Self.snapshotQuery, [trustDomain])
                let records = try (0..<rows.count).compactMap { try rows.optionalString($0, "record") }.map(Self.decode)
                return RegistrySnapshot(records: records, sequence: UInt64(try rows.int64(0, "sequence")))
            }
        } catch {
            throw Self.mapped(error)
        }
    }

    public func update<T: Sendable>(trustDomain: String, fence: Fence?,
                                    _ mutate: @Sendable (inout [KeyRecord]) throws -> T) async throws -> (result: T, snapshot: RegistrySnapshot) {
        try Self.validate(trustDomain: trustDomain)
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try await pool.withConnection { connection in
                    try await Self.update(connection, trustDomain: trustDomain, fence: fence, mutate)
                }
            } catch let error as PGUpdateFailure {
                // Retry only what certainly did not commit: a serialization failure or
                // deadlock, or a connection that broke before COMMIT was sent (a stale pooled
                // connection after a server restart).
                let retry = error.beforeCommit
                    && (error.cause.isRetryableTransactionFailure || (error.cause.kind == .connectionLost && attempt == 1))
                if retry && attempt < Self.updateAttempts { continue }
                throw Self.mapped(error.cause)
            } catch {
                throw Self.mapped(error)
            }
        }
    }

    public func waitForChange(trustDomain: String, after: UInt64, timeout: Duration) async throws -> UInt64 {
        try Self.validate(trustDomain: trustDomain)
        let deadline = Date().addingTimeInterval(max(0, timeout.timeInterval))
        while true {
            let current = try await sequence(of: trustDomain)
            if current != after || Date() >= deadline || Task.isCancelled { return current }
            // Notifications wake us at once; the bounded slice is the fallback when they are
            // lost (listener reconnecting), so a change is seen within a poll interval anyway.
            let slice = min(deadline, Date().addingTimeInterval(Self.changePollInterval))
            if let notified = await hub.wait(trustDomain: trustDomain, after: after, deadline: slice), notified > after {
                return notified
            }
        }
    }

    private func sequence(of trustDomain: String) async throws -> UInt64 {
        do {
            let rows = try await Self.retryingStaleConnection(pool) { connection in
                try await connection.query(
                    "SELECT coalesce((SELECT sequence FROM keycoord_sequences WHERE trust_domain = $1), 0) AS sequence",
                    [trustDomain])
            }
            return UInt64(try rows.int64(0, "sequence"))
        } catch {
            throw Self.mapped(error)
        }
    }

    /// The trust domain's registry identity, created by the first caller (one statement).
    static let registryIdentityQuery = PGStatement("""
        WITH made AS (INSERT INTO keycoord_registries (trust_domain, identity) VALUES ($1, $2)
                      ON CONFLICT (trust_domain) DO NOTHING RETURNING identity)
        SELECT identity FROM made
        UNION ALL SELECT identity FROM keycoord_registries WHERE trust_domain = $1
        LIMIT 1
        """)

    /// Every record of a trust domain with its sequence, from one MVCC snapshot.
    static let snapshotQuery = PGStatement("""
        SELECT s.sequence, k.record::text AS record
        FROM (SELECT coalesce((SELECT sequence FROM keycoord_sequences WHERE trust_domain = $1), 0) AS sequence) s
        LEFT JOIN keycoord_keys k ON k.trust_domain = $1
        ORDER BY k.position
        """)

    /// Inside an update: the records with their positions, and the sequence.
    static let recordsForUpdate = PGStatement("""
        SELECT k.kid, k.position, k.record::text AS record,
               coalesce((SELECT sequence FROM keycoord_sequences WHERE trust_domain = $1), 0) AS sequence
        FROM (SELECT 1) one LEFT JOIN keycoord_keys k ON k.trust_domain = $1
        ORDER BY k.position
        """)

    /// Inside an update that changed something: the trust domain's next sequence.
    static let bumpSequence = PGStatement("""
        INSERT INTO keycoord_sequences AS s (trust_domain, sequence) VALUES ($1, 1)
        ON CONFLICT (trust_domain) DO UPDATE SET sequence = s.sequence + 1
        RETURNING sequence
        """)

    /// Inside an update: one record written (new, or changed in place).
    static let upsertKey = PGStatement("""
        INSERT INTO keycoord_keys (trust_domain, kid, position, state, not_after, record, sequence, taint_reason)
        VALUES ($1, $2, $3, $4, to_timestamp($5::float8), $6::jsonb, $7, $8)
        ON CONFLICT (trust_domain, kid) DO UPDATE SET position = EXCLUDED.position, state = EXCLUDED.state,
            not_after = EXCLUDED.not_after, record = EXCLUDED.record, sequence = EXCLUDED.sequence,
            taint_reason = EXCLUDED.taint_reason
        """)

    /// Inside an update: writers of one trust domain take turns until the transaction ends.
    static let writerLock = PGStatement("SELECT pg_advisory_xact_lock($1::bigint)")

    static let deleteKey = PGStatement("DELETE FROM keycoord_keys WHERE trust_domain = $1 AND kid = $2")

    /// The epoch row of a fence's lock, share-locked so no acquisition can bump it before
    /// the write commits, with whether its lease is live (unexpired and the advisory lock
    /// held by some session).
    static let fenceQuery = PGStatement("""
        SELECT e.epoch,
               e.expires_at > now() AND EXISTS (SELECT 1 FROM pg_locks l
                       WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
                         AND l.classid = $2::oid AND l.objid = $3::oid
                         AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())) AS live
        FROM keycoord_lock_epochs e WHERE e.name = $1 FOR SHARE OF e
        """)

    /// One update as one transaction on `connection`: writers of the trust domain serialise
    /// on a transaction-scoped advisory lock; the fence is checked against the epoch row,
    /// which is share-locked so a new acquisition cannot bump it until this commits; only
    /// the rows that changed are written; the sequence bump and NOTIFY commit with them.
    private static func update<T: Sendable>(_ connection: PGConnection, trustDomain: String, fence: Fence?,
                                            _ mutate: @Sendable (inout [KeyRecord]) throws -> T) async throws -> (result: T, snapshot: RegistrySnapshot) {
        var commitSent = false
        do {
            try await connection.query("BEGIN")
            try await connection.query(Self.writerLock, [PGLockKey.trustDomainWriter(trustDomain).parameter])
            if let fence {
                // The token must still be the latest AND its lease still live: after a
                // release, an expiry or a dead session (a PostgreSQL restart included), no
                // one holds the lock and a write carrying the last token is refused too.
                let key = PGLockKey(fence.lock)
                let rows = try await connection.query(Self.fenceQuery, [fence.lock, key.classID, key.objectID])
                let current = rows.count == 0 ? 0 : UInt64(try rows.int64(0, "epoch"))
                let live = try rows.count > 0 && rows.bool(0, "live")
                guard current == fence.token, live else {
                    try await connection.query("ROLLBACK")
                    throw CoordinationError.staleFence(lock: fence.lock, presented: fence.token, current: current)
                }
            }
            let rows = try await connection.query(Self.recordsForUpdate, [trustDomain])
            let sequence = UInt64(try rows.int64(0, "sequence"))
            var stored: [String: (position: Int64, record: KeyRecord)] = [:]
            var records: [KeyRecord] = []
            for row in 0..<rows.count {
                guard let text = try rows.optionalString(row, "record") else { continue }
                let record = try decode(text)
                stored[record.kid] = (try rows.int64(row, "position"), record)
                records.append(record)
            }
            let before = records
            let result: T
            do {
                result = try mutate(&records)
            } catch {
                try await connection.query("ROLLBACK")
                throw error
            }
            if records == before {
                try await connection.query("ROLLBACK")
                return (result, RegistrySnapshot(records: records, sequence: sequence))
            }
            do {
                try validate(records)
            } catch {
                try await connection.query("ROLLBACK")
                throw error
            }
            let next = UInt64(try await connection.query(Self.bumpSequence, [trustDomain]).int64(0, "sequence"))
            try await write(connection, trustDomain: trustDomain, records: records, stored: stored, sequence: next)
            try await connection.query("SELECT pg_notify($1, $2)", [PGListener.channel, "\(trustDomain):\(next)"])
            commitSent = true
            try await connection.query("COMMIT")
            return (result, RegistrySnapshot(records: records, sequence: next))
        } catch let error as PGError {
            if !commitSent { _ = try? await connection.query("ROLLBACK") }
            throw PGUpdateFailure(cause: error, beforeCommit: !commitSent)
        }
    }

    private static func write(_ connection: PGConnection, trustDomain: String, records: [KeyRecord],
                              stored: [String: (position: Int64, record: KeyRecord)], sequence: UInt64) async throws {
        let kept = Set(records.map(\.kid))
        for kid in stored.keys where !kept.contains(kid) {
            try await connection.query(Self.deleteKey, [trustDomain, kid])
        }
        for (index, record) in records.enumerated() {
            if let old = stored[record.kid], old.record == record, old.position == Int64(index) { continue }
            try await connection.query(
                Self.upsertKey,
                [trustDomain, record.kid, String(index), record.state.rawValue,
                 String(record.notAfter.timeIntervalSince1970), try encode(record), String(sequence), record.taintReason])
        }
    }

    /// What `mutate` left must be storable: one row per kid (the table's key). Everything else
    /// about records is Core's to judge; the store keeps what it is given.
    private static func validate(_ records: [KeyRecord]) throws {
        var seen = Set<String>()
        for record in records {
            guard !record.kid.isEmpty else { throw CoordinationError.invalid("a key record has an empty kid") }
            guard seen.insert(record.kid).inserted else {
                throw CoordinationError.invalid("the registry would hold kid \(record.kid) twice")
            }
        }
    }

    static func validate(trustDomain: String) throws {
        guard !trustDomain.isEmpty, trustDomain.utf8.count <= 255, !trustDomain.unicodeScalars.contains(where: { $0.value < 0x20 }) else {
            throw CoordinationError.invalid("trust domain must be 1-255 bytes without control characters")
        }
    }

    /// Records are stored as the JSON of `KeyRecord`'s Codable form: dates as Double
    /// seconds, which jsonb's numeric keeps digit for digit, so a record reads back equal.
    private static func encode(_ record: KeyRecord) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return String(decoding: try encoder.encode(record), as: UTF8.self)
    }

    private static func decode(_ text: String) throws -> KeyRecord {
        do {
            return try JSONDecoder().decode(KeyRecord.self, from: Data(text.utf8))
        } catch {
            throw PGError.protocolViolation("a stored key record cannot be read: \(error)")
        }
    }
}

/// A driver failure inside an update, with whether COMMIT had been sent (after that, the
/// outcome is unknown and the update must not be repeated).
struct PGUpdateFailure: Error {
    var cause: PGError
    var beforeCommit: Bool
}
