import Core
import Foundation
import Testing
import TestSupport

/// The in-memory store must keep the promises of `CoordinationStore`, since Core and
/// Service tests lean on it: leases, fencing, waits, atomic updates.
@Suite struct InMemoryStoreTests {
    @Test func fencingTokensIncreaseAndStaleWritesAreRefused() async throws {
        let clock = ManualClock()
        let store = InMemoryStore(clock: clock.function)
        let first = try await store.acquire(lock: "jwt:example.org:ec-p256", holder: "a", ttl: .seconds(10), wait: .zero)
        #expect(first.fencingToken == 1 && first.holder == "a")
        await #expect(throws: CoordinationError.self) {
            try await store.acquire(lock: "jwt:example.org:ec-p256", holder: "b", ttl: .seconds(10), wait: .zero)
        }
        clock.advance(by: 11) // the lease runs out while "a" still believes it holds it
        let second = try await store.acquire(lock: "jwt:example.org:ec-p256", holder: "b", ttl: .seconds(10), wait: .zero)
        #expect(second.fencingToken == 2)
        await #expect(throws: CoordinationError.leaseNotFound(name: "jwt:example.org:ec-p256", leaseID: first.leaseID)) {
            try await store.renew(lock: "jwt:example.org:ec-p256", leaseID: first.leaseID, ttl: .seconds(10))
        }
        let commits = store.commitCount
        await #expect(throws: CoordinationError.staleFence(lock: "jwt:example.org:ec-p256", presented: 1, current: 2)) {
            try await store.update(trustDomain: "example.org", fence: Fence(lock: "jwt:example.org:ec-p256", token: 1)) { records in
                records.removeAll()
            }
        }
        #expect(store.commitCount == commits)
        let status = try await store.status(lock: "jwt:example.org:ec-p256")
        #expect(status.holder == "b" && status.fencingToken == 2)
        try await store.release(lock: "jwt:example.org:ec-p256", leaseID: second.leaseID)
        #expect(try await store.status(lock: "jwt:example.org:ec-p256").holder == nil)
        await #expect(throws: CoordinationError.self) {
            try await store.acquire(lock: "bad name", holder: "a", ttl: .seconds(1), wait: .zero)
        }
    }

    @Test func waitingAcquiresOnReleaseOrTimesOut() async throws {
        let store = InMemoryStore()
        let held = try await store.acquire(lock: "l", holder: "a", ttl: .seconds(60), wait: .zero)
        let started = ContinuousClock.now
        await #expect(throws: CoordinationError.self) {
            try await store.acquire(lock: "l", holder: "b", ttl: .seconds(60), wait: .milliseconds(100))
        }
        #expect(ContinuousClock.now - started >= .milliseconds(100))
        async let waiter = store.acquire(lock: "l", holder: "b", ttl: .seconds(60), wait: .seconds(10))
        try await Task.sleep(for: .milliseconds(20))
        try await store.release(lock: "l", leaseID: held.leaseID)
        let lease = try await waiter
        #expect(lease.holder == "b" && lease.fencingToken == 2)
    }

    @Test func updatesAreAllOrNothingAndSequenced() async throws {
        let store = InMemoryStore()
        struct Refused: Error {}
        await #expect(throws: Refused.self) {
            try await store.update(trustDomain: "example.org", fence: nil) { records in
                records.append(KeyRecord(trustDomain: "example.org", kid: "k", keyType: .ecP256, publicKey: [], backend: "x",
                                         backendRef: nil, createdAt: Date(), publishedAt: Date(), notAfter: Date(),
                                         state: .published, createdBy: "t"))
                throw Refused()
            }
        }
        #expect(try await store.snapshot(trustDomain: "example.org") == RegistrySnapshot(records: [], sequence: 0))
        let (count, snapshot) = try await store.update(trustDomain: "example.org", fence: nil) { records in records.count }
        #expect(count == 0 && snapshot.sequence == 0 && store.commitCount == 0)
        async let changed = store.waitForChange(trustDomain: "example.org", after: 0, timeout: .seconds(10))
        try await Task.sleep(for: .milliseconds(20))
        _ = try await store.update(trustDomain: "example.org", fence: nil) { records in
            records.append(KeyRecord(trustDomain: "example.org", kid: "k", keyType: .ecP256, publicKey: [], backend: "x",
                                     backendRef: nil, createdAt: Date(), publishedAt: Date(), notAfter: Date(),
                                     state: .published, createdBy: "t"))
        }
        #expect(try await changed == 1)
        #expect(try await store.waitForChange(trustDomain: "example.org", after: 1, timeout: .milliseconds(30)) == 1)
    }
}
