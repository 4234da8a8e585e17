import Core
import Crypto
import Foundation
import Testing
import TestSupport

/// The Coordinator against the in-memory store and backend: real locks with fencing,
/// real keys and signatures.
@Suite struct CoordinatorTests {
    static let hour: TimeInterval = 3600

    struct Harness {
        let clock = ManualClock()
        let store: InMemoryStore
        let backend: InMemoryBackend
        let observer = RecordingObserver()
        var config = CoordinatorConfig(trustDomain: "example.org", instanceID: "host-a-1")

        init() {
            store = InMemoryStore(clock: clock.function)
            backend = InMemoryBackend(clock: clock.function)
        }

        func coordinator(_ instance: String = "host-a-1", config: CoordinatorConfig? = nil) throws -> Coordinator {
            var config = config ?? self.config
            config.instanceID = instance
            return try Coordinator(config: config, store: store, backend: backend, observer: observer, clock: clock.function)
        }
    }

    @Test func ensureMintsOnceThenTakesTheFastPath() async throws {
        let h = Harness()
        let coordinator = try h.coordinator()
        let first = try await coordinator.ensure(keyType: .ecP256, serverID: "spire-1")
        #expect(first.current.state == .active && first.current.canSign)
        #expect(first.current.backend == "memory" && first.current.createdBy == "host-a-1")
        let ref = try #require(first.current.backendRef)
        let key = try #require(h.backend.privateKey(ref: ref))
        #expect(first.current.kid == KidFormat.spire.kid(for: key.publicKey))
        #expect(first.current.publicKey == key.publicKey.der)
        #expect(first.current.notAfter == h.clock.now.addingTimeInterval(24 * Self.hour))
        #expect(first.current.fencingToken == 1)
        #expect(h.backend.mark(ref: ref) == .published)
        #expect(first.next == nil)
        // Next change is the half-life (12 h), but the answer is bounded to ttl/10.
        #expect(first.refreshAfter == h.clock.now.addingTimeInterval(2.4 * Self.hour))

        let second = try await coordinator.ensure(keyType: .ecP256, serverID: "spire-2")
        #expect(second.current == first.current)
        #expect(h.observer.outcomes == [.minted, .fastPath])
        #expect(h.backend.createCount == 1)
        #expect(try await h.store.status(lock: "jwt:example.org:ec-p256").holder == nil)
    }

    @Test func fiftyConcurrentEnsuresOnThreeInstancesMintExactlyOneKey() async throws {
        let store = InMemoryStore()
        let backend = InMemoryBackend()
        let coordinators = try ["a", "b", "c"].map {
            try Coordinator(config: CoordinatorConfig(trustDomain: "example.org", instanceID: "host-\($0)"),
                            store: store, backend: backend)
        }
        let kids = try await withThrowingTaskGroup(of: String.self) { group in
            for index in 0..<50 {
                group.addTask {
                    try await coordinators[index % 3].ensure(keyType: .ecP256, serverID: "spire-\(index)").current.kid
                }
            }
            return try await group.reduce(into: [String]()) { $0.append($1) }
        }
        #expect(kids.count == 50 && Set(kids).count == 1)
        #expect(backend.createCount == 1)
        #expect(try await store.snapshot(trustDomain: "example.org").records.count == 1)
    }

    @Test func taintPromotesTheNextKeyOrMintsAReplacement() async throws {
        let h = Harness()
        let coordinator = try h.coordinator()
        let k1 = try await coordinator.ensure(keyType: .ecP256, serverID: "s").current
        h.clock.advance(by: 12 * Self.hour)
        try await coordinator.tick()
        let beforeTaint = try await coordinator.ensure(keyType: .ecP256, serverID: "s")
        let k2 = try #require(beforeTaint.next)
        #expect(beforeTaint.current.kid == k1.kid && k2.state == .published)
        #expect(beforeTaint.nextActivatesAt == k1.notAfter.addingTimeInterval(-4 * Self.hour))

        let tainted = try await coordinator.taint(kid: k1.kid, by: "operator")
        #expect(tainted.tainted && tainted.state == .retired)
        let after = try await coordinator.ensure(keyType: .ecP256, serverID: "s")
        #expect(after.current.kid == k2.kid)
        #expect(h.observer.emergencies == [.ecP256])

        // Tainting the only signable key mints an active replacement at once.
        _ = try await coordinator.taint(kid: k2.kid, by: "operator")
        let replacement = try await coordinator.ensure(keyType: .ecP256, serverID: "s")
        #expect(![k1.kid, k2.kid].contains(replacement.current.kid))
        #expect(h.observer.emergencies.count == 2)
        let jwks = coordinator.jwks(from: try await coordinator.snapshot())
        #expect(jwks.kids == [k1.kid, k2.kid, replacement.current.kid], "tainted keys stay in the JWKS")
        #expect(h.backend.createCount == 3)
    }

    @Test func taintKeepsTheFirstReasonGivenAndTellsTheObserver() async throws {
        let h = Harness()
        let coordinator = try h.coordinator()
        let k1 = try await coordinator.ensure(keyType: .ecP256, serverID: "s").current
        _ = try await coordinator.taint(kid: k1.kid, by: "operator")
        let k2 = try await coordinator.ensure(keyType: .ecP256, serverID: "s").current
        #expect(k2.kid != k1.kid && k2.taintReason == nil)
        #expect(try await coordinator.key(kid: k1.kid).taintReason == nil, "a taint without a reason keeps none")
        // A reason given to an already tainted key without one is kept; a later one is not.
        let reasoned = try await coordinator.taint(kid: k1.kid, by: "operator", reason: "incident 42: \"leaked\"\nhost-b")
        #expect(reasoned.tainted && reasoned.taintReason == "incident 42: \"leaked\"\nhost-b")
        let again = try await coordinator.taint(kid: k1.kid, by: "other-operator", reason: "second thoughts")
        #expect(again.taintReason == "incident 42: \"leaked\"\nhost-b")
        #expect(try await coordinator.key(kid: k1.kid).taintReason == "incident 42: \"leaked\"\nhost-b")
        _ = try await coordinator.taint(kid: k2.kid, by: "operator", reason: "rotation drill")
        #expect(try await coordinator.key(kid: k2.kid).taintReason == "rotation drill")
        #expect(h.observer.taints == [
            .init(kid: k1.kid, caller: "operator", reason: nil),
            .init(kid: k1.kid, caller: "operator", reason: "incident 42: \"leaked\"\nhost-b"),
            .init(kid: k1.kid, caller: "other-operator", reason: "second thoughts"),
            .init(kid: k2.kid, caller: "operator", reason: "rotation drill"),
        ])
    }

    @Test func revokeLeavesTheJWKSDestroysTheKeyAndReplacesIt() async throws {
        let h = Harness()
        let coordinator = try h.coordinator()
        let k1 = try await coordinator.ensure(keyType: .ecP256, serverID: "s").current
        let ref = try #require(k1.backendRef)
        let revoked = try await coordinator.revoke(kid: k1.kid, by: "operator")
        #expect(revoked.state == .revoked)
        #expect(!h.backend.refs.contains(ref) && h.backend.destroyedRefs == [ref])
        let snapshot = try await coordinator.snapshot()
        let k2 = try await coordinator.ensure(keyType: .ecP256, serverID: "s").current
        #expect(k2.kid != k1.kid)
        #expect(!coordinator.jwks(from: snapshot).kids.contains(k1.kid))
        #expect(try await coordinator.revoke(kid: k1.kid, by: "operator").state == .revoked)
        // A revoked key cannot come back through publish.
        let publicKey = try PublicKey(der: k1.publicKey)
        await #expect(throws: CoordinationError.self) {
            try await coordinator.publish(PublishRequest(publicKey: publicKey, notAfter: h.clock.now.addingTimeInterval(60), serverID: "s"))
        }
        await #expect(throws: CoordinationError.keyNotFound(kid: "nope")) { try await coordinator.revoke(kid: "nope", by: "o") }
        await #expect(throws: CoordinationError.keyNotFound(kid: "nope")) { try await coordinator.taint(kid: "nope", by: "o") }
        await #expect(throws: CoordinationError.keyNotFound(kid: "nope")) { try await coordinator.key(kid: "nope") }
    }

    @Test func publishIsIdempotentFencedAndGuarded() async throws {
        var h = Harness()
        // Three EC slots for the managed ec-p256 rotation, three for published keys.
        h.config.maxKeysPerFamily = 6
        let coordinator = try h.coordinator()
        let key = try PrivateKey.generate(.ecP256).publicKey
        let notAfter = h.clock.now.addingTimeInterval(Self.hour)
        let first = try await coordinator.publish(PublishRequest(publicKey: key, notAfter: notAfter, serverID: "spire-1"))
        #expect(first.backend == "external" && first.backendRef == nil && first.state == .published)
        #expect(first.kid == KidFormat.spire.kid(for: key) && first.createdBy == "spire-1")
        let commits = h.store.commitCount
        let again = try await coordinator.publish(PublishRequest(publicKey: key, notAfter: notAfter, serverID: "spire-2"))
        #expect(again == first && h.store.commitCount == commits, "same key, same not_after: nothing written")
        let longer = try await coordinator.publish(PublishRequest(publicKey: key, notAfter: notAfter.addingTimeInterval(60), serverID: "spire-2"))
        #expect(longer.notAfter == notAfter.addingTimeInterval(60) && longer.createdBy == "spire-1")

        // A stale fence writes nothing.
        let lease = try await h.store.acquire(lock: "spire-publish", holder: "x", ttl: .seconds(10), wait: .zero)
        try await h.store.release(lock: "spire-publish", leaseID: lease.leaseID)
        _ = try await h.store.acquire(lock: "spire-publish", holder: "y", ttl: .seconds(10), wait: .zero)
        let other = try PrivateKey.generate(.ecP256).publicKey
        let before = try await coordinator.snapshot()
        await #expect(throws: CoordinationError.staleFence(lock: "spire-publish", presented: 1, current: 2)) {
            try await coordinator.publish(PublishRequest(publicKey: other, notAfter: notAfter, serverID: "s",
                                                         fence: Fence(lock: "spire-publish", token: lease.fencingToken)))
        }
        #expect(try await coordinator.snapshot() == before)
        let fenced = try await coordinator.publish(PublishRequest(publicKey: other, notAfter: notAfter, serverID: "s",
                                                                  fence: Fence(lock: "spire-publish", token: 2)))
        #expect(fenced.fencingToken == 2)

        // Guards: a third EC key fits, a fourth is refused; RSA counts separately.
        _ = try await coordinator.publish(PublishRequest(publicKey: try PrivateKey.generate(.ecP384).publicKey, notAfter: notAfter, serverID: "s"))
        await #expect(throws: CoordinationError.self) {
            try await coordinator.publish(PublishRequest(publicKey: try PrivateKey.generate(.ecP256).publicKey, notAfter: notAfter, serverID: "s"))
        }
        #expect(h.observer.refusals.count == 1)
        _ = try await coordinator.publish(PublishRequest(publicKey: try PrivateKey.generate(.rsa(bits: 2048)).publicKey, notAfter: notAfter, serverID: "s"))
        #expect(try await coordinator.snapshot().records.count == 4)

        // Bad requests.
        await #expect(throws: CoordinationError.self) {
            try await coordinator.publish(PublishRequest(publicKey: key, notAfter: h.clock.now, serverID: "s"))
        }
        await #expect(throws: CoordinationError.self) {
            try await coordinator.publish(PublishRequest(publicKey: try PrivateKey.generate(.ecP521).publicKey, notAfter: notAfter, serverID: "s"))
        }
        await #expect(throws: CoordinationError.self) {
            try await coordinator.publish(PublishRequest(publicKey: key, notAfter: notAfter, serverID: ""))
        }
    }

    @Test func ensureNeverHandsOutExternalKeys() async throws {
        let h = Harness()
        let coordinator = try h.coordinator()
        let external = try PrivateKey.generate(.ecP256).publicKey
        _ = try await coordinator.publish(PublishRequest(publicKey: external, notAfter: h.clock.now.addingTimeInterval(Self.hour), serverID: "s"))
        let result = try await coordinator.ensure(keyType: .ecP256, serverID: "s")
        #expect(result.current.kid != KidFormat.spire.kid(for: external) && result.current.backendRef != nil)
    }

    @Test func aStaleLeaseMidMintPublishesNothingAndDestroysTheKey() async throws {
        let h = Harness()
        let coordinator = try h.coordinator()
        let store = h.store, clock = h.clock
        // While the backend mints, the lease runs out and another instance takes the lock.
        h.backend.onCreate {
            clock.advance(by: 120)
            _ = try? await store.acquire(lock: "jwt:example.org:ec-p256", holder: "host-b-2", ttl: .seconds(60), wait: .zero)
        }
        await #expect(throws: CoordinationError.staleFence(lock: "jwt:example.org:ec-p256", presented: 1, current: 2)) {
            try await coordinator.ensure(keyType: .ecP256, serverID: "s")
        }
        #expect(try await coordinator.snapshot().records.isEmpty)
        #expect(h.backend.refs.isEmpty && h.backend.destroyedRefs.count == 1)
    }

    @Test func aCommitWhoseAnswerWasLostKeepsTheKey() async throws {
        let h = Harness()
        let coordinator = try h.coordinator()
        let store = h.store
        h.backend.onCreate { store.failNextUpdate(with: .storeUnavailable("connection reset"), afterCommit: true) }
        await #expect(throws: CoordinationError.storeUnavailable("connection reset")) {
            try await coordinator.ensure(keyType: .ecP256, serverID: "s")
        }
        h.backend.onCreate(nil)
        let records = try await coordinator.snapshot().records
        #expect(records.count == 1)
        let ref = try #require(records.first?.backendRef)
        #expect(h.backend.refs == [ref], "a key that may be published is never destroyed")
        #expect(try await coordinator.ensure(keyType: .ecP256, serverID: "s").current.backendRef == ref)
    }

    @Test func aBackendThatCannotSignNeverGetsPublished() async throws {
        let h = Harness()
        let coordinator = try h.coordinator()
        h.backend.signWithWrongKey(true)
        await #expect(throws: CoordinationError.self) { try await coordinator.ensure(keyType: .ecP256, serverID: "s") }
        h.backend.signWithWrongKey(false)
        h.backend.fail(.create)
        await #expect(throws: CoordinationError.backendFailure("injected failure")) {
            try await coordinator.ensure(keyType: .ecP256, serverID: "s")
        }
        h.backend.fail(.publicKey)
        await #expect(throws: CoordinationError.self) { try await coordinator.ensure(keyType: .ecP256, serverID: "s") }
        #expect(try await coordinator.snapshot().records.isEmpty)
        #expect(h.backend.refs.isEmpty && h.backend.createCount == 2)
        #expect(try await h.store.status(lock: "jwt:example.org:ec-p256").holder == nil, "the lock is released on failure")
        // It recovers once the backend does.
        #expect(try await coordinator.ensure(keyType: .ecP256, serverID: "s").current.canSign)
    }

    @Test func aKeyThisHostCannotUseIsReportedClearly() async throws {
        let h = Harness()
        let coordinator = try h.coordinator()
        let ref = try #require(try await coordinator.ensure(keyType: .ecP256, serverID: "s").current.backendRef)
        h.backend.markUnusable(ref: ref, message: "key file is not readable on this host")
        do {
            _ = try await coordinator.ensure(keyType: .ecP256, serverID: "s")
            Issue.record("an unusable key was handed out")
        } catch CoordinationError.backendFailure(let failure) {
            #expect(failure.message.contains("not readable") && failure.message.contains(ref))
        }
    }

    @Test func reconcileDestroysLostKeysOnly() async throws {
        let h = Harness()
        let coordinator = try h.coordinator()
        h.backend.fail(.markPublished)
        let current = try await coordinator.ensure(keyType: .ecP256, serverID: "s").current
        let currentRef = try #require(current.backendRef)
        #expect(h.backend.mark(ref: currentRef) == .pending && h.observer.deferred.count == 1)
        let old = try h.backend.insert(keyType: .ecP256, trustDomain: "example.org", mark: .pending,
                                       createdAt: h.clock.now.addingTimeInterval(-2 * Self.hour))
        let young = try h.backend.insert(keyType: .ecP256, trustDomain: "example.org", mark: .pending,
                                         createdAt: h.clock.now.addingTimeInterval(-60))
        let orphan = try h.backend.insert(keyType: .ecP256, trustDomain: "example.org", mark: .published,
                                          createdAt: h.clock.now.addingTimeInterval(-25 * Self.hour))
        let foreign = try h.backend.insert(keyType: .ecP256, trustDomain: "other.org", mark: .pending,
                                           createdAt: h.clock.now.addingTimeInterval(-5 * Self.hour))
        // No creation date (an AWS key without CreationDate): it may be seconds old, so it stays.
        let ageless = try h.backend.insert(keyType: .ecP256, trustDomain: "example.org", mark: .pending, createdAt: nil)
        #expect(try await coordinator.reconcile() == 2)
        #expect(h.backend.refs == [currentRef, young, foreign, ageless])
        #expect(!h.backend.refs.contains(old) && !h.backend.refs.contains(orphan))
        #expect(h.backend.mark(ref: currentRef) == .published, "a pending key the registry holds is repaired")
        #expect(h.observer.reconciled == [2])
    }

    @Test func theReconcilerAdoptsPublishedKeysTheRegistryLostInsteadOfDestroyingThem() async throws {
        let h = Harness()
        let coordinator = try h.coordinator()
        let k1 = try await coordinator.ensure(keyType: .ecP256, serverID: "s").current
        h.clock.advance(by: 12 * Self.hour)
        try await coordinator.tick()
        let k2 = try #require(try await coordinator.snapshot().records.first { $0.kid != k1.kid })
        let k2Ref = try #require(k2.backendRef)
        #expect(h.backend.mark(ref: k2Ref) == .published)
        // The registry goes back to before k2 (a failover that lost writes).
        h.store.seed(trustDomain: "example.org", records: [k1])
        #expect(try await coordinator.reconcile() == 0)
        #expect(h.backend.refs.contains(k2Ref), "a key servers may sign with was destroyed")
        let adopted = try await coordinator.key(kid: k2.kid)
        #expect(adopted.backendRef == k2Ref && adopted.tainted && adopted.state == .retired)
        #expect(adopted.taintReason?.contains("adopted") == true, "the record says why it is tainted")
        #expect(coordinator.jwks(from: try await coordinator.snapshot()).kids.contains(k2.kid))
        #expect(try await coordinator.ensure(keyType: .ecP256, serverID: "s").current.kid != k2.kid)
    }

    @Test func jwtsSignedThroughTheBackendVerifyAgainstTheJWKS() async throws {
        let store = InMemoryStore()
        let backend = InMemoryBackend()
        var config = CoordinatorConfig(trustDomain: "example.org", instanceID: "host-a-1")
        config.keyTypes = [.ecP256, .ecP384, .rsa2048]
        let coordinator = try Coordinator(config: config, store: store, backend: backend)
        var tokens: [(String, String)] = []
        for keyType in config.keyTypes {
            let current = try await coordinator.ensure(keyType: keyType, serverID: "spire-1").current
            let ref = try #require(current.backendRef)
            let header = "{\"alg\":\"\(keyType.alg)\",\"kid\":\"\(current.kid)\",\"typ\":\"JWT\"}"
            let claims = "{\"sub\":\"spiffe://example.org/\(keyType.rawValue)\",\"aud\":[\"relying-party\"]}"
            let input = Base64URL.encode(Array(header.utf8)) + "." + Base64URL.encode(Array(claims.utf8))
            let signature = try await backend.sign(ref: ref, keyType: keyType, digest: Digest.hash(keyType.hash, Array(input.utf8)))
            tokens.append((input + "." + Base64URL.encode(signature), keyType.alg))
        }
        let jwks = String(decoding: coordinator.jwks(from: try await coordinator.snapshot()).body, as: UTF8.self)
        for (index, (token, alg)) in tokens.enumerated() {
            let answer = try CoreVectors.run(["op": "jwt", "jwks": jwks, "token": token, "algorithms": [alg]])
            let claims = try #require(answer["claims"] as? [String: Any])
            #expect(claims["sub"] as? String == "spiffe://example.org/\(config.keyTypes[index].rawValue)")
        }
    }

    @Test func ensureGivesUpWhenTheLockStaysHeld() async throws {
        var h = Harness()
        h.config.lockWait = .milliseconds(200)
        let coordinator = try h.coordinator()
        _ = try await h.store.acquire(lock: "jwt:example.org:ec-p256", holder: "host-b-2", ttl: .seconds(60), wait: .zero)
        do {
            _ = try await coordinator.ensure(keyType: .ecP256, serverID: "s")
            Issue.record("ensure minted while another instance held the lock")
        } catch CoordinationError.lockHeld(let name, let holder, _) {
            #expect(name == "jwt:example.org:ec-p256" && holder == "host-b-2")
        }
        #expect(h.backend.createCount == 0)
    }

    @Test func aTaintOrRevokeWhileTheRotationLockIsBusyAnswersWhatWasCommitted() async throws {
        var h = Harness()
        h.config.lockWait = .milliseconds(200)
        let coordinator = try h.coordinator()
        let k1 = try await coordinator.ensure(keyType: .ecP256, serverID: "s").current
        let busy = try await h.store.acquire(lock: "jwt:example.org:ec-p256", holder: "host-b-2", ttl: .seconds(60), wait: .zero)
        let tainted = try await coordinator.taint(kid: k1.kid, by: "operator")
        #expect(tainted.kid == k1.kid && tainted.tainted)
        #expect(try await coordinator.key(kid: k1.kid).tainted)
        #expect(h.observer.deferred == ["replace ec-p256 key \(k1.kid)"])
        let revoked = try await coordinator.revoke(kid: k1.kid, by: "operator")
        #expect(revoked.state == .revoked)
        #expect(try await coordinator.key(kid: k1.kid).state == .revoked)
        // The replacement comes as soon as the lock is free again.
        try await h.store.release(lock: "jwt:example.org:ec-p256", leaseID: busy.leaseID)
        let replacement = try await coordinator.ensure(keyType: .ecP256, serverID: "s").current
        #expect(replacement.kid != k1.kid && replacement.canSign)
    }

    @Test func aRevokedKeyNeverReturnsWhateverItsKidFormat() async throws {
        let h = Harness()
        let coordinator = try h.coordinator()
        let key = try PrivateKey.generate(.ecP256).publicKey
        let notAfter = h.clock.now.addingTimeInterval(Self.hour)
        let published = try await coordinator.publish(PublishRequest(publicKey: key, notAfter: notAfter, serverID: "spire-1"))
        _ = try await coordinator.revoke(kid: published.kid, by: "operator")
        // Long after the record would have left the registry at not_after + grace.
        h.clock.advance(by: 30 * 24 * Self.hour)
        try await coordinator.tick()
        let tombstone = try await coordinator.key(kid: published.kid)
        #expect(tombstone.state == .revoked && tombstone.publicKey == key.der)
        #expect(!coordinator.jwks(from: try await coordinator.snapshot()).kids.contains(published.kid))
        let again = PublishRequest(publicKey: key, notAfter: h.clock.now.addingTimeInterval(Self.hour), serverID: "spire-2")
        await #expect(throws: CoordinationError.keyRevoked(kid: published.kid)) { try await coordinator.publish(again) }
        // Another kid format gives the key another kid; the public key still bars it.
        var config = h.config
        config.kidFormat = .rfc7638
        let other = try h.coordinator("host-b-1", config: config)
        await #expect(throws: CoordinationError.keyRevoked(kid: published.kid)) { try await other.publish(again) }
        #expect(try await coordinator.snapshot().records.filter { $0.publicKey == key.der }.count == 1)
    }

    @Test func notAfterIsAtMostOneKeyLifetimePlusGraceAhead() async throws {
        let h = Harness()
        let coordinator = try h.coordinator()
        let latest = h.clock.now.addingTimeInterval(24 * Self.hour + 5 * 60)
        let key = try PrivateKey.generate(.ecP256).publicKey
        await #expect(throws: CoordinationError.self) {
            try await coordinator.publish(PublishRequest(publicKey: key, notAfter: Date(timeIntervalSince1970: 253_402_300_799),
                                                         serverID: "s"))
        }
        await #expect(throws: CoordinationError.self) {
            try await coordinator.publish(PublishRequest(publicKey: key, notAfter: latest.addingTimeInterval(1), serverID: "s"))
        }
        #expect(try await coordinator.snapshot().records.isEmpty)
        let stored = try await coordinator.publish(PublishRequest(publicKey: key, notAfter: latest, serverID: "s"))
        #expect(stored.notAfter == latest)
    }

    @Test func publishedKeysCannotStarveManagedRotation() async throws {
        var h = Harness()
        h.config.maxKeysPerFamily = 5
        let coordinator = try h.coordinator()
        let k1 = try await coordinator.ensure(keyType: .ecP256, serverID: "s").current
        let notAfter = h.clock.now.addingTimeInterval(20 * Self.hour)
        for _ in 0..<2 {
            _ = try await coordinator.publish(PublishRequest(publicKey: try PrivateKey.generate(.ecP256).publicKey,
                                                             notAfter: notAfter, serverID: "spire-x"))
        }
        // A third published EC key would take one of the three slots managed rotation needs.
        do {
            _ = try await coordinator.publish(PublishRequest(publicKey: try PrivateKey.generate(.ecP384).publicKey,
                                                             notAfter: notAfter, serverID: "spire-x"))
            Issue.record("a published key took a slot of managed rotation")
        } catch CoordinationError.jwksLimit(let reason) {
            #expect(reason.contains("managed rotation") && reason.contains("leaving 2"))
        }
        // Publishing one of them again (a larger not_after) is still fine.
        let records = try await coordinator.snapshot().records.filter { $0.backendRef == nil }
        _ = try await coordinator.publish(PublishRequest(publicKey: try PublicKey(der: records[0].publicKey),
                                                         notAfter: notAfter.addingTimeInterval(60), serverID: "spire-x"))
        // Rotation runs on schedule: the next key at half-life, activated after publish-lead.
        h.clock.advance(by: 12 * Self.hour)
        try await coordinator.tick()
        h.clock.advance(by: 8 * Self.hour)
        try await coordinator.tick()
        let k2 = try await coordinator.ensure(keyType: .ecP256, serverID: "s").current
        #expect(k2.kid != k1.kid && k2.canSign)
        h.clock.advance(by: 4 * Self.hour)
        try await coordinator.tick()
        #expect(h.observer.emergencies.isEmpty && h.observer.refusals.count == 1)
    }

    @Test func tickFromEveryInstanceAtOnceRotatesOnce() async throws {
        let h = Harness()
        let coordinators = try ["a", "b", "c"].map { try h.coordinator("host-\($0)") }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for coordinator in coordinators { group.addTask { try await coordinator.tick() } }
            try await group.waitForAll()
        }
        #expect(h.backend.createCount == 1)
        h.clock.advance(by: 12 * Self.hour)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for coordinator in coordinators { group.addTask { try await coordinator.tick() } }
            try await group.waitForAll()
        }
        let states = try await coordinators[0].snapshot().records.map(\.state)
        #expect(states == [.active, .published] && h.backend.createCount == 2)
    }

    @Test func configValidation() throws {
        let valid = CoordinatorConfig(trustDomain: "example.org", instanceID: "a")
        try valid.validate()
        var cases: [CoordinatorConfig] = []
        for change in [{ (c: inout CoordinatorConfig) in c.trustDomain = "Example.org" },
                       { $0.trustDomain = "" }, { $0.trustDomain = "a/b" }, { $0.instanceID = "" },
                       { $0.keyTypes = [] }, { $0.keyTypes = [.ecP256, .ecP256] }, { $0.maxKeysPerFamily = 2 },
                       { $0.keyTypes = [.ecP256, .ecP384]; $0.maxKeysPerFamily = 5 },
                       { $0.maxJWKSBytes = 100 }, { $0.pendingGrace = .seconds(30) }, { $0.lockTTL = .zero },
                       { $0.policy = RotationPolicy(ttl: .seconds(600), publishLead: .seconds(900)) }] {
            var config = valid
            change(&config)
            cases.append(config)
        }
        for config in cases {
            #expect(throws: CoordinationError.self) {
                try Coordinator(config: config, store: InMemoryStore(), backend: InMemoryBackend())
            }
        }
    }
}
