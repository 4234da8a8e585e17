import Core
import Crypto
import Foundation
import Logging
@testable import Service
import Synchronization
import Testing
import TestSupport

/// The publisher under racing refreshes: a slow read of an older registry must never
/// replace a rendering of a newer one.
@Suite struct JWKSPublisherTests {
    /// A store whose next snapshot read holds its (already read) answer until released,
    /// so a test can make an old read finish after a newer one.
    final class GatedStore: CoordinationStore {
        let inner = InMemoryStore()
        private let gate = Mutex<(armed: Bool, held: CheckedContinuation<Void, Never>?, reached: Bool)>((false, nil, false))

        func armNextSnapshot() { gate.withLock { $0.armed = true } }

        /// True once an armed read has its answer and waits.
        var readIsHeld: Bool { gate.withLock { $0.reached } }

        func releaseHeldRead() {
            let held = gate.withLock { state -> CheckedContinuation<Void, Never>? in
                defer { state.held = nil }
                return state.held
            }
            held?.resume()
        }

        func snapshot(trustDomain: String) async throws -> RegistrySnapshot {
            let answer = try await inner.snapshot(trustDomain: trustDomain)
            let hold = gate.withLock { state -> Bool in
                defer { state.armed = false }
                return state.armed
            }
            if hold {
                await withCheckedContinuation { continuation in
                    gate.withLock { $0.held = continuation; $0.reached = true }
                }
            }
            return answer
        }

        func acquire(lock name: String, holder: String, ttl: Duration, wait: Duration) async throws -> LockLease {
            try await inner.acquire(lock: name, holder: holder, ttl: ttl, wait: wait)
        }
        func renew(lock name: String, leaseID: String, ttl: Duration) async throws -> LockLease {
            try await inner.renew(lock: name, leaseID: leaseID, ttl: ttl)
        }
        func release(lock name: String, leaseID: String) async throws { try await inner.release(lock: name, leaseID: leaseID) }
        func status(lock name: String) async throws -> LockStatus { try await inner.status(lock: name) }
        func update<T: Sendable>(trustDomain: String, fence: Fence?,
                                 _ mutate: @Sendable (inout [KeyRecord]) throws -> T) async throws -> (result: T, snapshot: RegistrySnapshot) {
            try await inner.update(trustDomain: trustDomain, fence: fence, mutate)
        }
        func waitForChange(trustDomain: String, after: UInt64, timeout: Duration) async throws -> UInt64 {
            try await inner.waitForChange(trustDomain: trustDomain, after: after, timeout: timeout)
        }
        func registryIdentity(trustDomain: String) async throws -> String { try await inner.registryIdentity(trustDomain: trustDomain) }
        func healthCheck() async -> Result<Void, CoordinationError> { await inner.healthCheck() }
        func close() async { await inner.close() }
    }

    private static func publisher(_ store: GatedStore) throws -> (JWKSPublisher, Coordinator, ServiceMetrics) {
        let config = ServiceConfig()
        let coordinator = try Coordinator(config: CoordinatorConfig(trustDomain: config.trustDomain, instanceID: "host-a"),
                                          store: store, backend: InMemoryBackend())
        let metrics = ServiceMetrics()
        let publisher = JWKSPublisher(coordinator: coordinator, store: store, config: config, metrics: metrics,
                                      logger: Logger(label: "test"))
        return (publisher, coordinator, metrics)
    }

    /// `refreshes` concurrent refreshes racing one publish of a fresh key by `server`.
    private static func race(refreshes: Int, of publisher: JWKSPublisher, withAPublishOn coordinator: Coordinator,
                             by server: String) async {
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<refreshes { group.addTask { await publisher.refresh(force: false) } }
            group.addTask {
                _ = try? await coordinator.publish(PublishRequest(
                    publicKey: try PrivateKey.generate(.ecP256).publicKey, notAfter: Date().addingTimeInterval(3600),
                    serverID: server))
            }
        }
    }

    @Test func aSlowOlderReadNeverReplacesANewerRendering() async throws {
        let store = GatedStore()
        let (publisher, coordinator, _) = try Self.publisher(store)
        await publisher.refresh(force: true)
        store.armNextSnapshot()
        // The follower's read: it sees the empty registry, then stalls.
        let slow = Task { await publisher.refresh(force: false) }
        while !store.readIsHeld { try await Task.sleep(for: .milliseconds(1)) }
        // Meanwhile a key is minted and handed out, and the refresh after that write lands.
        let minted = try await coordinator.ensure(keyType: .ecP256, serverID: "spire-1")
        await publisher.refresh(force: false)
        let newer = try #require(publisher.rendered)
        #expect(newer.document.kids == [minted.current.kid])
        store.releaseHeldRead()
        await slow.value
        let served = try #require(publisher.rendered)
        #expect(served.sequence == newer.sequence)
        #expect(served.document.kids == [minted.current.kid])
    }

    @Test func manyConcurrentRefreshesEndOnTheLatestSequence() async throws {
        let store = GatedStore()
        let (publisher, coordinator, _) = try Self.publisher(store)
        await publisher.refresh(force: true)
        var kids: [String] = []
        for round in 0..<20 {
            await Self.race(refreshes: 8, of: publisher, withAPublishOn: coordinator, by: "spire-\(round)")
            await publisher.refresh(force: false)
            let latest = try await store.snapshot(trustDomain: coordinator.config.trustDomain)
            let served = try #require(publisher.rendered)
            #expect(served.sequence == latest.sequence)
            kids = served.document.kids
        }
        #expect(kids.count == 20)
    }

    /// What `install` hands the router: nil before the first read, then every stored
    /// rendering in the order stored — so racing refreshes never leave the router's
    /// handlers on an older rendering than the one the publisher serves.
    @Test func installSeesEveryRenderingInOrderAndEndsOnTheServedOne() async throws {
        let store = GatedStore()
        let (publisher, coordinator, _) = try Self.publisher(store)
        let installed = Mutex<[UInt64?]>([])
        publisher.install { rendered in installed.withLock { $0.append(rendered?.sequence) } }
        #expect(installed.withLock { $0 } == [nil])
        await publisher.refresh(force: true)
        for round in 0..<10 {
            await Self.race(refreshes: 4, of: publisher, withAPublishOn: coordinator, by: "spire-\(round)")
        }
        await publisher.refresh(force: false)
        let sequences = installed.withLock { $0 }.dropFirst().compactMap { $0 }
        #expect(sequences.count == installed.withLock { $0 }.count - 1, "only the first call has no rendering")
        #expect(sequences == sequences.sorted(), "never an older rendering after a newer one")
        #expect(sequences.last == publisher.rendered?.sequence)
    }

    @Test func aRegistryThatWentBackIsReportedAndHealedFromWhatWasServed() async throws {
        let store = GatedStore()
        let (publisher, coordinator, metrics) = try Self.publisher(store)
        let k1 = try await coordinator.ensure(keyType: .ecP256, serverID: "spire-1").current
        let p384 = try await coordinator.ensure(keyType: .ecP384, serverID: "spire-1").current
        _ = try await coordinator.taint(kid: k1.kid, by: "operator")
        let handedOut = try await coordinator.ensure(keyType: .ecP256, serverID: "spire-1").current
        await publisher.refresh(force: true)
        let before = try #require(publisher.rendered)
        // A failover that lost everything after k1's mint: sequence 1, k1 untainted, no other key.
        store.inner.rewind(trustDomain: coordinator.config.trustDomain, to: RegistrySnapshot(records: [k1], sequence: 1))
        await publisher.refresh(force: false)
        let regression = try #require(publisher.regression)
        #expect(regression.servedSequence == before.sequence && regression.storeSequence == 1 && regression.healed)
        #expect(String(decoding: metrics.render(), as: UTF8.self).contains("keycoord_registry_regressions_total 1"))
        let served = try #require(publisher.rendered)
        #expect(Set(served.document.kids) == Set(before.document.kids), "a key relying parties may cache left the JWKS")
        #expect(served.document.kids.contains(p384.kid) && served.document.kids.contains(handedOut.kid))
        // The lost taint holds again: the tainted key is not handed out.
        #expect(try await coordinator.key(kid: k1.kid).tainted)
        #expect(try await coordinator.ensure(keyType: .ecP256, serverID: "spire-2").current.kid == handedOut.kid)
    }
}
