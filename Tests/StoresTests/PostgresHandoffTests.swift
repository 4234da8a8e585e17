import Core
import Foundation
import Testing
@testable import Stores

/// Waiters of one sidecar are handed a lock it holds in-process (PGHandoffQueue): in arrival
/// order, on the holder's session, with larger tokens, without starving other sidecars.
@Suite
struct PostgresHandoffTests {
    private func stores() async throws -> (url: String, a: PostgresStore, b: PostgresStore) {
        let url = try await PostgresTestSupport.freshDatabase()
        return (url, try await PostgresStore(url: url, instanceID: "sidecar-a"),
                try await PostgresStore(url: url, instanceID: "sidecar-b"))
    }

    /// The pids of the sessions holding (granted) or waiting for the advisory lock of `name`.
    private func sessions(_ url: String, _ name: String) async throws -> (holders: [Int64], waiters: [Int64]) {
        let key = PGLockKey(name)
        let connection = try await PostgresTestSupport.connect(url)
        defer { Task { await connection.close() } }
        let rows = try await connection.query(
            "SELECT pid, granted FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 1 AND classid = $1::oid AND objid = $2::oid",
            [key.classID, key.objectID])
        var holders: [Int64] = []
        var waiters: [Int64] = []
        for row in 0..<rows.count {
            if try rows.bool(row, "granted") { holders.append(try rows.int64(row, "pid")) } else { waiters.append(try rows.int64(row, "pid")) }
        }
        return (holders, waiters)
    }

    @Test func waitersOfOneSidecarAreHandedTheLockInArrivalOrder() async throws {
        let (url, a, b) = try await stores()
        let first = try await a.acquire(lock: "hot", holder: "h0", ttl: .seconds(30), wait: .zero)
        let holderPID = try #require(try await sessions(url, "hot").holders.first)
        var waiting: [Task<LockLease, any Error>] = []
        for index in 1...3 {
            waiting.append(Task { try await a.acquire(lock: "hot", holder: "h\(index)", ttl: .seconds(30), wait: .seconds(20)) })
            #expect(await PostgresTestSupport.eventually { a.handoffs.queued("hot") == index })
        }
        // Queued in memory: no session of theirs waits in PostgreSQL.
        #expect(try await sessions(url, "hot").waiters.isEmpty)
        var previous = first
        for index in 1...3 {
            try await a.release(lock: "hot", leaseID: previous.leaseID)
            let next = try await waiting[index - 1].value
            #expect(next.holder == "h\(index)")
            #expect(next.fencingToken > previous.fencingToken)
            // The lock never left the holder's session, and every instance sees the new holder.
            #expect(try await sessions(url, "hot").holders == [holderPID])
            let status = try await b.status(lock: "hot")
            #expect(status.holder == "h\(index)" && status.fencingToken == next.fencingToken)
            await #expect(throws: CoordinationError.leaseNotFound(name: "hot", leaseID: previous.leaseID)) {
                _ = try await a.renew(lock: "hot", leaseID: previous.leaseID, ttl: .seconds(30))
            }
            previous = next
        }
        // The last holder's lease is a full lease: renewed on the same session, then released.
        let renewed = try await a.renew(lock: "hot", leaseID: previous.leaseID, ttl: .seconds(10))
        #expect(renewed.fencingToken == previous.fencingToken)
        try await a.release(lock: "hot", leaseID: previous.leaseID)
        #expect(try await sessions(url, "hot").holders.isEmpty)
        #expect(try await b.status(lock: "hot").holder == nil)
        await a.close()
        await b.close()
    }

    @Test func anotherSidecarsWaiterGoesBeforeTheNextLocalOne() async throws {
        let (url, a, b) = try await stores()
        let first = try await a.acquire(lock: "shared", holder: "a0", ttl: .seconds(30), wait: .zero)
        let remote = Task { try await b.acquire(lock: "shared", holder: "b1", ttl: .seconds(30), wait: .seconds(20)) }
        #expect(try await PostgresTestSupport.eventually { try await sessions(url, "shared").waiters.count == 1 })
        let local = Task { try await a.acquire(lock: "shared", holder: "a1", ttl: .seconds(30), wait: .seconds(20)) }
        #expect(await PostgresTestSupport.eventually { a.handoffs.queued("shared") == 1 })
        try await a.release(lock: "shared", leaseID: first.leaseID)
        let taken = try await remote.value
        #expect(taken.fencingToken > first.fencingToken)
        #expect(try await a.status(lock: "shared").holder == "b1")
        // The local waiter now waits in PostgreSQL, behind b1.
        #expect(try await PostgresTestSupport.eventually { try await sessions(url, "shared").waiters.count == 1 })
        try await b.release(lock: "shared", leaseID: taken.leaseID)
        let after = try await local.value
        #expect(after.holder == "a1" && after.fencingToken > taken.fencingToken)
        try await a.release(lock: "shared", leaseID: after.leaseID)
        await a.close()
        await b.close()
    }

    @Test func aQueuedWaiterTimesOutAndAnExpiredHolderPassesTheLockOn() async throws {
        let (_, a, b) = try await stores()
        let short = try await a.acquire(lock: "lapse", holder: "a0", ttl: .milliseconds(1500), wait: .zero)
        do {
            _ = try await a.acquire(lock: "lapse", holder: "a1", ttl: .seconds(30), wait: .milliseconds(200))
            Issue.record("a held lock was granted to a waiter whose wait ran out")
        } catch let CoordinationError.lockHeld(_, holder, _) {
            #expect(holder == "a0")
        }
        #expect(a.handoffs.queued("lapse") == 0)
        // Never released: at its expiry the next waiter gets the lock through PostgreSQL.
        let next = try await a.acquire(lock: "lapse", holder: "a2", ttl: .seconds(30), wait: .seconds(10))
        #expect(next.fencingToken > short.fencingToken)
        #expect(try await b.status(lock: "lapse").holder == "a2")
        await #expect(throws: CoordinationError.leaseNotFound(name: "lapse", leaseID: short.leaseID)) {
            try await a.release(lock: "lapse", leaseID: short.leaseID)
        }
        try await a.release(lock: "lapse", leaseID: next.leaseID)
        await a.close()
        await b.close()
    }

    @Test func closingTheStoreEndsQueuedWaits() async throws {
        let (_, a, b) = try await stores()
        _ = try await a.acquire(lock: "closing", holder: "a0", ttl: .seconds(30), wait: .zero)
        let waiter = Task { try await a.acquire(lock: "closing", holder: "a1", ttl: .seconds(30), wait: .seconds(20)) }
        #expect(await PostgresTestSupport.eventually { a.handoffs.queued("closing") == 1 })
        await a.close()
        await #expect(throws: CoordinationError.self) { _ = try await waiter.value }
        let taken = try await b.acquire(lock: "closing", holder: "b0", ttl: .seconds(30), wait: .seconds(5))
        try await b.release(lock: "closing", leaseID: taken.leaseID)
        await b.close()
    }
}
