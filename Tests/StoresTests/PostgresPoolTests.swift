import Core
import Foundation
import Synchronization
import Testing
@testable import Stores

/// The session pools: spare lease sessions are kept for the next acquire, idle sessions are
/// closed on the server after the idle timeout, and a full pool makes callers wait.
@Suite
struct PostgresPoolTests {
    /// How many of `pids` are live server sessions.
    private func live(_ url: String, _ pids: [Int32]) async throws -> Int64 {
        let admin = try await PostgresTestSupport.connect(url)
        defer { Task { await admin.close() } }
        return try await admin.query("SELECT count(*) AS n FROM pg_stat_activity WHERE pid = ANY($1::int[])",
                                     ["{" + pids.map(String.init).joined(separator: ",") + "}"]).int64(0, "n")
    }

    @Test func releasedLeasesLeaveUpToTheSpareLimitOpen() async throws {
        let url = try await PostgresTestSupport.freshDatabase()
        let store = try await PostgresStore(url: url, instanceID: "a", leaseSpares: 3)
        let leases = try await withThrowingTaskGroup(of: LockLease.self) { group in
            for index in 0..<5 {
                group.addTask { try await store.acquire(lock: "spare-\(index)", holder: "h", ttl: .seconds(30), wait: .zero) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(store.leaseConnections.idleCount == 0)
        for lease in leases { try await store.release(lock: lease.name, leaseID: lease.leaseID) }
        #expect(store.leaseConnections.idleCount == 3)
        // The next acquire reuses a spare instead of opening a session.
        let again = try await store.acquire(lock: "spare-0", holder: "h", ttl: .seconds(30), wait: .zero)
        #expect(store.leaseConnections.idleCount == 2)
        try await store.release(lock: "spare-0", leaseID: again.leaseID)
        await store.close()
    }

    @Test func idleSessionsAreClosedAfterTheIdleTimeout() async throws {
        let url = try await PostgresTestSupport.freshDatabase()
        let pool = PGPool(settings: PGSettings(url: url), maxSize: 4, maxIdle: 4, idleTimeout: .milliseconds(300), label: "test")
        let first = try await pool.checkout()
        let second = try await pool.checkout()
        let pids = [first.backendPID, second.backendPID]
        // Counted while checked out: once idle, a loaded machine may reach the 300 ms
        // timeout before the counting session has even connected.
        #expect(try await live(url, pids) == 2)
        pool.checkin(first)
        pool.checkin(second)
        #expect(pool.idleCount == 2)
        #expect(await PostgresTestSupport.eventually(timeout: .seconds(5)) { pool.idleCount == 0 })
        #expect(try await PostgresTestSupport.eventually(timeout: .seconds(5)) { try await live(url, pids) == 0 })
        await pool.close()
    }

    @Test func aFullPoolMakesCallersWaitTheirTurn() async throws {
        let url = try await PostgresTestSupport.freshDatabase()
        let pool = PGPool(settings: PGSettings(url: url), maxSize: 1, maxIdle: 1, label: "test")
        final class Gauge: Sendable {
            let state = Mutex((now: 0, most: 0))
        }
        let gauge = Gauge()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<6 {
                group.addTask {
                    try await pool.withConnection { connection in
                        gauge.state.withLock { $0.now += 1; $0.most = max($0.most, $0.now) }
                        try await connection.query("SELECT pg_sleep(0.02)")
                        gauge.state.withLock { $0.now -= 1 }
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(gauge.state.withLock { $0.most } == 1)
        await pool.close()
        await #expect(throws: PGError.self) { _ = try await pool.checkout() }
    }
}
