import Core
import Crypto
import Foundation
import Testing
import TestSupport

/// Three instances sharing one store and backend over weeks of compressed time: ticks
/// from every instance at once, ensures, restarts, outages, taints and revokes. After
/// every step the JWKS holds at most three keys, a key can sign, and no key the registry
/// still publishes has been destroyed in the backend.
@Suite struct CoordinatorTimelineTests {
    static let hour: TimeInterval = 3600

    @Test(arguments: [11, 12, 13])
    func invariantsHoldOverLongTimelines(seed: UInt64) async throws {
        var random = SplitMix64(seed: seed)
        let clock = ManualClock()
        let store = InMemoryStore(clock: clock.function)
        let backend = InMemoryBackend(clock: clock.function)
        let observer = RecordingObserver()
        var restarts = 0
        func start(_ name: String) throws -> Coordinator {
            try Coordinator(config: CoordinatorConfig(trustDomain: "example.org", instanceID: name), store: store,
                            backend: backend, observer: observer, clock: clock.function)
        }
        var instances = try ["a", "b", "c"].map { try start("host-\($0)") }

        for step in 0..<300 {
            let roll = random.next() % 100
            switch roll {
            case 0..<3:
                clock.advance(by: Double(random.next() % 30) * Self.hour) // outage: nobody ticks
            case 3..<6:
                restarts += 1
                instances[Int(random.next() % 3)] = try start("host-r\(restarts)")
            case 6..<8:
                let served = instances[0].jwks(from: try await instances[0].snapshot()).kids
                if let kid = served.randomElement(using: &random) {
                    _ = try await instances[1].taint(kid: kid, by: "operator")
                }
            case 8..<9:
                let current = try await instances[2].ensure(keyType: .ecP256, serverID: "spire").current
                _ = try await instances[2].revoke(kid: current.kid, by: "operator")
            default:
                clock.advance(by: Double(random.next() % 5400))
            }
            // Every instance ticks at the same moment, as their rotation loops would.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for instance in instances { group.addTask { try await instance.tick() } }
                try await group.waitForAll()
            }
            let ensured = try await instances[Int(random.next() % 3)].ensure(keyType: .ecP256, serverID: "spire")

            let snapshot = try await instances[0].snapshot()
            let jwks = instances[0].jwks(from: snapshot)
            var problems: [String] = []
            if jwks.kids.count > RotationPolicy.maxKeysPerType { problems.append("JWKS holds \(jwks.kids.count) keys") }
            if !ensured.current.canSign || ensured.current.notAfter <= clock.now { problems.append("ensure gave an unusable key") }
            if !jwks.kids.contains(ensured.current.kid) { problems.append("the signing key is not in the JWKS") }
            let published = Set(snapshot.records.filter { $0.state != .revoked }.compactMap(\.backendRef))
            if !published.isSubset(of: backend.refs) { problems.append("a published key was destroyed") }
            let leaked = backend.refs.subtracting(published)
            if !leaked.isEmpty { problems.append("backend keys outside the registry: \(leaked.count)") }
            guard problems.isEmpty else {
                Issue.record("seed \(seed) step \(step): \(problems)")
                return
            }
        }
        #expect(observer.mints.count > 10 && !observer.emergencies.isEmpty)
        #expect(backend.createCount == observer.mints.count, "no key minted in vain")
    }
}

extension SplitMix64: RandomNumberGenerator {}
