import Core
import Foundation
import Testing
import TestSupport
@testable import Stores

/// PostgreSQL goes down and comes back under a running store: its own cluster, so the
/// shared one is never disturbed.
@Suite
struct PostgresRestartTests {
    @Test func storeReportsUnavailableWhileDownAndRecoversWithoutRestart() async throws {
        let cluster = try PostgresPrivateCluster()
        defer { cluster.destroy() }
        try cluster.start()
        let store = try await PostgresStore(url: cluster.url, instanceID: "sidecar-a")
        let other = try await PostgresStore(url: cluster.url, instanceID: "sidecar-b")
        defer { Task { await store.close(); await other.close() } }
        _ = try await store.update(trustDomain: "td.example", fence: nil) {
            $0.append(PostgresTestSupport.record("td.example", kid: "before"))
        }
        let lease = try await store.acquire(lock: "l", holder: "s1", ttl: .seconds(60), wait: .zero)
        // A released lease leaves a spare session behind, which the restart kills; `other`
        // is not used while the server is down, so it still has that spare (and stale pooled
        // sessions) when the server is back.
        let spare = try await other.acquire(lock: "spare", holder: "s2", ttl: .seconds(60), wait: .zero)
        try await other.release(lock: "spare", leaseID: spare.leaseID)
        _ = try await other.snapshot(trustDomain: "td.example")
        #expect(await PostgresTestSupport.eventually { store.isFollowingChanges })

        try cluster.stop()
        guard case .failure(.storeUnavailable) = await store.healthCheck() else {
            Issue.record("health check passed with PostgreSQL down")
            return
        }
        await #expect(throws: CoordinationError.self) { _ = try await store.snapshot(trustDomain: "td.example") }
        do {
            _ = try await store.update(trustDomain: "td.example", fence: nil) {
                $0.append(PostgresTestSupport.record("td.example", kid: "during"))
            }
            Issue.record("update succeeded with PostgreSQL down")
        } catch let error as CoordinationError {
            guard case .storeUnavailable = error else { throw error }
        }
        do {
            _ = try await store.acquire(lock: "l2", holder: "s1", ttl: .seconds(5), wait: .zero)
            Issue.record("acquire succeeded with PostgreSQL down")
        } catch let error as CoordinationError {
            guard case .storeUnavailable = error else { throw error }
        }
        await #expect(throws: CoordinationError.self) {
            _ = try await store.waitForChange(trustDomain: "td.example", after: 1, timeout: .milliseconds(200))
        }

        try cluster.start()
        #expect(await PostgresTestSupport.eventually {
            if case .success = await store.healthCheck() { return true }
            return false
        })
        // Sessions did not survive the restart, so neither did the lease.
        await #expect(throws: CoordinationError.leaseNotFound(name: "l", leaseID: lease.leaseID)) {
            _ = try await store.renew(lock: "l", leaseID: lease.leaseID, ttl: .seconds(60))
        }
        // First acquire after the restart: on the dead spare session, then on a fresh one.
        let reacquired = try await other.acquire(lock: "spare", holder: "s2", ttl: .seconds(60), wait: .zero)
        #expect(reacquired.fencingToken > spare.fencingToken)
        let again = try await store.acquire(lock: "l", holder: "s1", ttl: .seconds(60), wait: .seconds(5))
        #expect(again.fencingToken > lease.fencingToken)
        let snapshot = try await store.snapshot(trustDomain: "td.example")
        #expect(snapshot.records.map(\.kid) == ["before"])

        // The listener reconnected: a write by the other instance (on what was its stale pooled
        // session, so the update is retried on a fresh one) wakes a waiter promptly.
        #expect(await PostgresTestSupport.eventually { store.isFollowingChanges })
        let clock = ContinuousClock()
        async let woke = store.waitForChange(trustDomain: "td.example", after: snapshot.sequence, timeout: .seconds(10))
        try await Task.sleep(for: .milliseconds(100))
        let written = try await other.update(trustDomain: "td.example", fence: nil) {
            $0.append(PostgresTestSupport.record("td.example", kid: "after"))
        }
        let committed = clock.now
        #expect(try await woke == written.snapshot.sequence)
        #expect(clock.now - committed < .seconds(2))
    }
}
