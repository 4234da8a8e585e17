import Core
import Foundation
import Testing
@testable import Stores

@Suite
struct PostgresLockTests {
    private func stores() async throws -> (url: String, a: PostgresStore, b: PostgresStore) {
        let url = try await PostgresTestSupport.freshDatabase()
        return (url, try await PostgresStore(url: url, instanceID: "sidecar-a"),
                try await PostgresStore(url: url, instanceID: "sidecar-b"))
    }

    /// The pid of the session holding the advisory lock of `name`, if any.
    private func holderPID(_ url: String, _ name: String) async throws -> Int64? {
        let key = PGLockKey(name)
        let connection = try await PostgresTestSupport.connect(url)
        defer { Task { await connection.close() } }
        let rows = try await connection.query(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1 AND classid = $1::oid AND objid = $2::oid",
            [key.classID, key.objectID])
        return rows.count == 0 ? nil : try rows.int64(0, "pid")
    }

    @Test func tokensStrictlyIncreaseAcrossInstances() async throws {
        let (_, a, b) = try await stores()
        var last: UInt64 = 0
        for round in 0..<12 {
            let store = round % 2 == 0 ? a : b
            let lease = try await store.acquire(lock: "jwt:td:ec-p256", holder: "h\(round)", ttl: .seconds(30), wait: .seconds(5))
            #expect(lease.fencingToken > last)
            last = lease.fencingToken
            #expect(try await a.status(lock: "jwt:td:ec-p256").holder == "h\(round)")
            try await store.release(lock: "jwt:td:ec-p256", leaseID: lease.leaseID)
        }
        let status = try await b.status(lock: "jwt:td:ec-p256")
        #expect(status.holder == nil)
        #expect(status.fencingToken == last)
        await a.close()
        await b.close()
    }

    @Test func heldLockReportsHolderAndWaitSucceedsOnRelease() async throws {
        let (_, a, b) = try await stores()
        let first = try await a.acquire(lock: "l1", holder: "server-1", ttl: .seconds(30), wait: .zero)
        do {
            _ = try await b.acquire(lock: "l1", holder: "server-2", ttl: .seconds(30), wait: .zero)
            Issue.record("a held lock was granted twice")
        } catch let CoordinationError.lockHeld(name, holder, expiresAt) {
            #expect(name == "l1")
            #expect(holder == "server-1")
            #expect(abs(expiresAt.timeIntervalSince(first.expiresAt)) < 0.01)
        }
        // Also within one instance: each lease has its own session, so the lock does not stack.
        await #expect(throws: CoordinationError.self) {
            _ = try await a.acquire(lock: "l1", holder: "server-1b", ttl: .seconds(30), wait: .milliseconds(200))
        }
        let clock = ContinuousClock()
        let started = clock.now
        async let waited = b.acquire(lock: "l1", holder: "server-2", ttl: .seconds(30), wait: .seconds(10))
        try await Task.sleep(for: .milliseconds(300))
        try await a.release(lock: "l1", leaseID: first.leaseID)
        let second = try await waited
        #expect(second.fencingToken > first.fencingToken)
        #expect(clock.now - started < .seconds(5))
        await #expect(throws: CoordinationError.leaseNotFound(name: "l1", leaseID: first.leaseID)) {
            try await a.release(lock: "l1", leaseID: first.leaseID)
        }
        await a.close()
        await b.close()
    }

    @Test func expiryFreesTheLockAndRenewExtends() async throws {
        let (url, a, b) = try await stores()
        let short = try await a.acquire(lock: "l2", holder: "server-1", ttl: .milliseconds(800), wait: .zero)
        let renewed = try await a.renew(lock: "l2", leaseID: short.leaseID, ttl: .seconds(2))
        #expect(renewed.expiresAt > short.expiresAt)
        #expect(renewed.fencingToken == short.fencingToken)
        try await Task.sleep(for: .milliseconds(1000))
        // Past the first TTL but inside the renewed one: still held.
        await #expect(throws: CoordinationError.self) {
            _ = try await b.acquire(lock: "l2", holder: "server-2", ttl: .seconds(5), wait: .zero)
        }
        #expect(try await PostgresTestSupport.eventually { try await holderPID(url, "l2") == nil })
        #expect(try await b.status(lock: "l2").holder == nil)
        await #expect(throws: CoordinationError.leaseNotFound(name: "l2", leaseID: short.leaseID)) {
            _ = try await a.renew(lock: "l2", leaseID: short.leaseID, ttl: .seconds(5))
        }
        let next = try await b.acquire(lock: "l2", holder: "server-2", ttl: .seconds(5), wait: .zero)
        #expect(next.fencingToken == short.fencingToken + 1)
        await a.close()
        await b.close()
    }

    @Test func terminatedHolderSessionLosesLeaseAndFence() async throws {
        let (url, a, b) = try await stores()
        let lease = try await a.acquire(lock: "l3", holder: "server-1", ttl: .seconds(60), wait: .zero)
        let pid = try #require(try await holderPID(url, "l3"))
        let admin = try await PostgresTestSupport.connect(url)
        defer { Task { await admin.close() } }
        #expect(try await admin.query("SELECT pg_terminate_backend($1) AS ok", [String(pid)]).bool(0, "ok"))
        // The row still names server-1, but no session holds the lock: status says free.
        #expect(try await PostgresTestSupport.eventually { try await b.status(lock: "l3").holder == nil })
        let taken = try await b.acquire(lock: "l3", holder: "server-2", ttl: .seconds(60), wait: .seconds(5))
        #expect(taken.fencingToken > lease.fencingToken)
        await #expect(throws: CoordinationError.leaseNotFound(name: "l3", leaseID: lease.leaseID)) {
            _ = try await a.renew(lock: "l3", leaseID: lease.leaseID, ttl: .seconds(60))
        }
        let before = try await a.snapshot(trustDomain: "td.example")
        await #expect(throws: CoordinationError.staleFence(lock: "l3", presented: lease.fencingToken, current: taken.fencingToken)) {
            _ = try await a.update(trustDomain: "td.example", fence: Fence(lock: "l3", token: lease.fencingToken)) { records in
                records.append(PostgresTestSupport.record("td.example", kid: "k1"))
            }
        }
        #expect(try await b.snapshot(trustDomain: "td.example") == before)
        let written = try await b.update(trustDomain: "td.example", fence: Fence(lock: "l3", token: taken.fencingToken)) { records in
            records.append(PostgresTestSupport.record("td.example", kid: "k1"))
        }
        #expect(written.snapshot.records.map(\.kid) == ["k1"])
        await a.close()
        await b.close()
    }

    @Test func deadSidecarProcessFreesTheLock() async throws {
        let (url, _, b) = try await stores()
        let key = PGLockKey("l4")
        let psql = try PostgresTestSupport.psql(url, script: "SELECT pg_advisory_lock(\(key.value));\n")
        defer { if psql.process.isRunning { kill(psql.process.processIdentifier, SIGKILL) } }
        #expect(try await PostgresTestSupport.eventually { try await holderPID(url, "l4") != nil })
        do {
            _ = try await b.acquire(lock: "l4", holder: "server-2", ttl: .seconds(30), wait: .zero)
            Issue.record("lock held by another session was granted")
        } catch let CoordinationError.lockHeld(_, holder, _) {
            #expect(holder == "unknown")
        }
        kill(psql.process.processIdentifier, SIGKILL)
        psql.process.waitUntilExit()
        let clock = ContinuousClock()
        let started = clock.now
        let lease = try await b.acquire(lock: "l4", holder: "server-2", ttl: .seconds(30), wait: .seconds(15))
        #expect(clock.now - started < .seconds(10))
        #expect(lease.fencingToken == 1)
        await b.close()
    }

    @Test func closeReleasesLeases() async throws {
        let (url, a, b) = try await stores()
        _ = try await a.acquire(lock: "l5", holder: "server-1", ttl: .seconds(60), wait: .zero)
        await a.close()
        #expect(try await holderPID(url, "l5") == nil)
        _ = try await b.acquire(lock: "l5", holder: "server-2", ttl: .seconds(60), wait: .zero)
        await b.close()
    }

    @Test func badInputIsInvalid() async throws {
        let (_, a, b) = try await stores()
        for name in ["", "has space", "slash/name", String(repeating: "x", count: 201)] {
            await #expect(throws: CoordinationError.self) {
                _ = try await a.acquire(lock: name, holder: "h", ttl: .seconds(1), wait: .zero)
            }
            await #expect(throws: CoordinationError.self) { _ = try await a.status(lock: name) }
        }
        await #expect(throws: CoordinationError.self) {
            _ = try await a.acquire(lock: "ok", holder: "h", ttl: .zero, wait: .zero)
        }
        await #expect(throws: CoordinationError.leaseNotFound(name: "ok", leaseID: "nope")) {
            _ = try await a.renew(lock: "ok", leaseID: "nope", ttl: .seconds(1))
        }
        await a.close()
        await b.close()
    }
}
