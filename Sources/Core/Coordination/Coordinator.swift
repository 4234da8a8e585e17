import Crypto
import Foundation
import Synchronization

/// The coordination logic every keycoord instance runs against the shared store: ensure
/// (hand servers the shared key, minting it under a fenced lock when needed), publish,
/// taint, revoke, the rotation step and the reconciler. Stateless apart from its
/// dependencies, so any number of instances may call it concurrently.
///
/// `ensure` only returns keys held by this instance's backend: a server needs a backend
/// reference to sign, so keys servers published themselves (`external`) are served in
/// the JWKS but never handed out for signing.
public final class Coordinator: Sendable {
    public let config: CoordinatorConfig
    let store: any CoordinationStore
    let backend: any KeyBackend
    let observer: any CoordinatorObserver
    let clock: @Sendable () -> Date
    let reconcileState = ReconcileSchedule()
    /// Set once `claimBackend` succeeded; nothing mints or reconciles before.
    let claimed = Mutex(false)

    public init(config: CoordinatorConfig, store: any CoordinationStore, backend: any KeyBackend,
                observer: (any CoordinatorObserver)? = nil, clock: @escaping @Sendable () -> Date = { Date() }) throws {
        try config.validate()
        self.config = config
        self.store = store
        self.backend = backend
        self.observer = observer ?? SilentObserver()
        self.clock = clock
    }

    /// The lock serialising rotation of one key type across all instances.
    public func lockName(for keyType: KeyType) -> String {
        LockName.rotation(trustDomain: config.trustDomain, keyType: keyType)
    }

    func planner(for keyType: KeyType) -> RotationPlanner {
        RotationPlanner(policy: config.policy, keyType: keyType, backend: backend.name)
    }

    // MARK: - Ensure

    /// Binds the backend's storage of this trust domain to this registry (see
    /// `KeyBackend.claim`); run once at start, before anything can reconcile.
    public func claimBackend() async throws {
        let identity = try await store.registryIdentity(trustDomain: config.trustDomain)
        try await backend.claim(trustDomain: config.trustDomain, registry: identity)
        claimed.withLock { $0 = true }
    }

    /// Claims the backend unless this instance already did (before a mint or a reconcile).
    func requireClaim() async throws {
        if claimed.withLock({ $0 }) { return }
        try await claimBackend()
    }

    /// Thrown by `result(from:)` when the key to hand out no longer exists in the backend.
    struct KeyLost: Error {
        let record: KeyRecord
        let reason: String
    }

    /// The key `serverID` should sign with now. Without a lock when a usable key exists
    /// (preparing the next key first when that is due); otherwise under the key type's
    /// lock, re-reading the registry, so that concurrent callers mint exactly one key.
    /// A key the backend has lost (`KeyBackend.lostReason`) is never handed out: it is
    /// tainted, replaced as a taint would replace it, and the replacement is answered.
    public func ensure(keyType: KeyType, serverID: String) async throws -> EnsureResult {
        do {
            return try await ensureOnce(keyType: keyType, serverID: serverID)
        } catch let lost as KeyLost {
            try await replaceLost(lost.record, reason: lost.reason)
            do {
                return try await ensureOnce(keyType: keyType, serverID: serverID)
            } catch let again as KeyLost {
                throw CoordinationError.backendFailure("key \(again.record.kid) is lost too: \(again.reason)")
            }
        }
    }

    /// Taints a key the backend no longer has and runs the replacement step. The taint is
    /// what every instance sees, so no other instance hands the key out either.
    func replaceLost(_ record: KeyRecord, reason: String) async throws {
        let (tainted, _) = try await store.update(trustDomain: config.trustDomain, fence: nil) { records in
            guard let index = records.firstIndex(where: { $0.kid == record.kid }), !records[index].tainted else { return false }
            records[index].tainted = true
            records[index].taintReason = "lost by the backend: \(reason)"
            return true
        }
        if tainted { observer.keyLost(kid: record.kid, keyType: record.keyType, reason: reason) }
        _ = await replaceIfManaged(record)
    }

    /// Replaces every managed key of the configured types that could still sign or be
    /// promoted but that the backend has lost (the rotation tick's check).
    func replaceLostKeys() async throws {
        let snapshot = try await store.snapshot(trustDomain: config.trustDomain)
        for keyType in config.keyTypes {
            let planner = planner(for: keyType)
            for record in snapshot.records where planner.manages(record) && !record.tainted
                && (record.state == .active || record.state == .published) {
                guard let ref = record.backendRef, let reason = await backend.lostReason(ref: ref) else { continue }
                try await replaceLost(record, reason: reason)
            }
        }
    }

    private func ensureOnce(keyType: KeyType, serverID: String) async throws -> EnsureResult {
        try Self.checkCaller(serverID, "server id")
        let planner = planner(for: keyType)
        let snapshot = try await store.snapshot(trustDomain: config.trustDomain)
        let plan = planner.plan(records: snapshot.records, now: clock())
        if planner.signingKey(in: snapshot.records, now: clock()) != nil {
            if plan.isEmpty {
                let result = try await result(from: plan)
                observer.ensureCompleted(keyType: keyType, outcome: .fastPath)
                return result
            }
            // A step is due (usually: prepare the next key). The signing key stays valid
            // whatever happens here, so a failure must not stop servers from signing; the
            // next ensure or tick retries it.
            do {
                let step = try await rotate(keyType, wait: .zero)
                if step.plan.current != nil {
                    let result = try await result(from: step.plan)
                    observer.ensureCompleted(keyType: keyType, outcome: step.minted ? .minted : .fastPath)
                    return result
                }
            } catch CoordinationError.lockHeld {
                // Another instance is running this step right now.
            } catch {
                observer.deferredFailure(operation: "rotate \(keyType.rawValue)", error: error)
            }
            if let answer = try await registeredAnswer(planner) {
                let result = try await result(from: answer)
                observer.ensureCompleted(keyType: keyType, outcome: .fastPath)
                return result
            }
        }
        let step: RotationStep
        do {
            step = try await rotate(keyType, wait: config.lockWait)
        } catch CoordinationError.lockHeld(let name, let holder, let expiresAt) {
            // The holder may have finished just as our wait ran out.
            guard let answer = try await registeredAnswer(planner) else {
                throw CoordinationError.lockHeld(name: name, holder: holder, expiresAt: expiresAt)
            }
            let result = try await result(from: answer)
            observer.ensureCompleted(keyType: keyType, outcome: .afterLock)
            return result
        }
        guard step.plan.current != nil else {
            throw CoordinationError.conflict(
                "no \(keyType.rawValue) key can sign in trust domain \(config.trustDomain) and none could be minted; try again")
        }
        let outcome: EnsureOutcome = step.emergency ? .emergency : step.minted ? .minted : .afterLock
        let result = try await result(from: step.plan)
        observer.ensureCompleted(keyType: keyType, outcome: outcome)
        return result
    }

    /// The answer the registry gives right now without applying any due step: the key
    /// it records as active, and as next the key a due activation would promote.
    private func registeredAnswer(_ planner: RotationPlanner) async throws -> RotationPlan? {
        let latest = try await store.snapshot(trustDomain: config.trustDomain)
        let now = clock()
        guard let signing = planner.signingKey(in: latest.records, now: now) else { return nil }
        let plan = planner.plan(records: latest.records, now: now)
        var answer = plan
        answer.current = signing
        answer.next = plan.activate != nil ? plan.current : plan.next
        return answer
    }

    private func result(from plan: RotationPlan) async throws -> EnsureResult {
        guard let current = plan.current, let ref = current.backendRef else {
            throw CoordinationError.conflict("no usable key")
        }
        if let problem = await backend.checkUsable(ref: ref) {
            if let lost = await backend.lostReason(ref: ref) { throw KeyLost(record: current, reason: lost) }
            throw CoordinationError.backendFailure(
                "key \(current.kid) (\(backend.name) \(ref)) cannot be used by this instance: \(problem)")
        }
        let activation = plan.next.map { max(config.policy.activationTime(of: current), config.policy.readyTime(of: $0)) }
        return EnsureResult(current: current, next: plan.next, refreshAfter: refreshAfter(plan), nextActivatesAt: activation)
    }

    /// When a caller should ask again: at the next scheduled change, but at least a few
    /// seconds and at most a tenth of the key lifetime from now, so taints and missed
    /// changes are noticed in bounded time.
    func refreshAfter(_ plan: RotationPlan) -> Date {
        let now = clock()
        let longest = config.policy.ttl.timeInterval / 10
        let shortest = min(5, longest)
        let wanted = plan.nextChange?.timeIntervalSince(now) ?? longest
        return now.addingTimeInterval(min(max(wanted, shortest), longest))
    }

    // MARK: - Publish, read, taint, revoke

    /// Publishes a key a SPIRE server minted itself (backend `external`). Idempotent by
    /// kid: the largest `notAfter` wins (bounded by `RotationPolicy.latestNotAfter`) and a
    /// taint is kept; a revoked key, by kid or public key, is refused with `.keyRevoked`
    /// for good. A key keycoord minted keeps keycoord's schedule.
    public func publish(_ request: PublishRequest) async throws -> KeyRecord {
        try Self.checkCaller(request.serverID, "server id")
        let keyType = try PublicKeyInput.keyType(of: request.publicKey)
        let now = clock()
        guard request.notAfter > now else {
            throw CoordinationError.invalid("not_after \(request.notAfter) is not in the future")
        }
        let latest = config.policy.latestNotAfter(from: now)
        guard request.notAfter <= latest else {
            throw CoordinationError.invalid(
                "not_after \(request.notAfter) is too far ahead: at most key ttl + grace "
                    + "(\(config.policy.ttl) + \(config.policy.grace)) from now, i.e. \(latest)")
        }
        let kid = config.kidFormat.kid(for: request.publicKey)
        let incoming = KeyRecord(
            trustDomain: config.trustDomain, kid: kid, keyType: keyType, publicKey: request.publicKey.der,
            backend: "external", backendRef: nil, createdAt: now, publishedAt: now, notAfter: request.notAfter,
            state: .published, createdBy: request.serverID, fencingToken: request.fence?.token)
        let config = self.config
        do {
            let (record, _) = try await store.update(trustDomain: config.trustDomain, fence: request.fence) { records in
                if let tombstone = Registry.tombstone(in: records, kid: kid, publicKey: incoming.publicKey) {
                    throw CoordinationError.keyRevoked(kid: tombstone.kid)
                }
                if let existing = records.first(where: { $0.kid == kid }), existing.backendRef != nil { return existing }
                let before = records
                let stored = Registry.upsert(incoming, into: &records)
                try config.limits.check(before: before, after: records, now: now, grace: config.policy.grace)
                try config.limits.checkManagedReserve(before: before, after: records, now: now, grace: config.policy.grace,
                                                      reserved: config.managedSlots)
                return stored
            }
            return record
        } catch CoordinationError.jwksLimit(let reason) {
            observer.jwksRefused(reason: reason)
            throw CoordinationError.jwksLimit(reason)
        }
    }

    /// Puts back records a registry that went back has lost (a failover that lost writes),
    /// from what an instance last served. Each is merged by kid as a duplicate publish is:
    /// a taint stays, a state never moves back, a tombstone stays revoked; so keys handed
    /// out return, lost taints hold again, and nothing the older registry knows is undone.
    /// Returns how many records were added or changed.
    public func restore(_ remembered: [KeyRecord]) async throws -> Int {
        let trustDomain = config.trustDomain
        let (changed, _) = try await store.update(trustDomain: trustDomain, fence: nil) { records -> Int in
            let before = records
            for record in remembered where record.trustDomain == trustDomain {
                Registry.upsert(record, into: &records)
            }
            var previous: [String: KeyRecord] = [:]
            for record in before { previous[record.kid] = record }
            return records.filter { previous[$0.kid] != $0 }.count
        }
        return changed
    }

    /// The registry as the store holds it now.
    public func snapshot() async throws -> RegistrySnapshot {
        try await store.snapshot(trustDomain: config.trustDomain)
    }

    /// One record by kid; `.keyNotFound` when absent.
    public func key(kid: String) async throws -> KeyRecord {
        guard let record = try await snapshot().records.first(where: { $0.kid == kid }) else {
            throw CoordinationError.keyNotFound(kid: kid)
        }
        return record
    }

    /// Marks a key tainted: it stays in the JWKS but nobody may sign with it. If it was the
    /// key servers sign with (or the next one), a replacement is promoted or minted at once.
    /// `caller` names who asked, for the observer's audit trail; `reason` is kept on the
    /// record. Tainting again changes nothing but adds a reason to a taint that had none:
    /// the first reason given is the one that explains the taint.
    /// Once the taint is committed the call succeeds: a replacement that cannot be made now
    /// (the rotation lock is busy, the backend fails) is left to the next ensure or tick.
    public func taint(kid: String, by caller: String, reason: String? = nil) async throws -> KeyRecord {
        try Self.checkCaller(caller, "caller")
        let (record, _) = try await store.update(trustDomain: config.trustDomain, fence: nil) { records in
            guard let index = records.firstIndex(where: { $0.kid == kid }) else { throw CoordinationError.keyNotFound(kid: kid) }
            if !records[index].tainted || records[index].taintReason == nil { records[index].taintReason = reason }
            records[index].tainted = true
            return records[index]
        }
        observer.keyTainted(kid: kid, by: caller, reason: reason)
        return await replaceIfManaged(record)
    }

    /// Revokes a key: it leaves the JWKS at once and its backend key is destroyed. A key
    /// servers sign with is replaced at once (or, as for a taint, by the next ensure or
    /// tick). `caller` names who asked, for the observer's audit trail. Revoking again is a no-op.
    public func revoke(kid: String, by caller: String) async throws -> KeyRecord {
        try Self.checkCaller(caller, "caller")
        let (record, _) = try await store.update(trustDomain: config.trustDomain, fence: nil) { records in
            guard let index = records.firstIndex(where: { $0.kid == kid }) else { throw CoordinationError.keyNotFound(kid: kid) }
            records[index].state = .revoked
            return records[index]
        }
        observer.keyRevoked(kid: kid, by: caller)
        // The revoke is committed, so no JWKS rendered from the registry serves the key any
        // more; only now may its private key go. The revoked record stays for good as a
        // tombstone, so that the key cannot be published again.
        await destroyRemoved([record])
        return await replaceIfManaged(record)
    }

    /// Runs a rotation step when `record` belongs to a managed key type, then returns the
    /// record as stored now. The change that called it is committed, so nothing here may
    /// fail the call: the answer must say what was committed.
    private func replaceIfManaged(_ record: KeyRecord) async -> KeyRecord {
        let planner = planner(for: record.keyType)
        guard planner.manages(record) else { return record }
        do {
            let snapshot = try await store.snapshot(trustDomain: config.trustDomain)
            if !planner.plan(records: snapshot.records, now: clock()).isEmpty {
                _ = try await rotate(record.keyType, wait: config.lockWait)
            }
            return try await key(kid: record.kid)
        } catch {
            observer.deferredFailure(operation: "replace \(record.keyType.rawValue) key \(record.kid)", error: error)
            return record
        }
    }

    // MARK: - JWKS

    /// The JWKS of `snapshot` at this coordinator's clock and grace.
    public func jwks(from snapshot: RegistrySnapshot) -> JWKSDocument {
        JWKSDocument.render(records: snapshot.records, now: clock(), grace: config.policy.grace)
    }

    private static func checkCaller(_ value: String, _ what: String) throws {
        guard !value.isEmpty, value.utf8.count <= 200 else {
            throw CoordinationError.invalid("\(what) must be 1-200 characters")
        }
    }
}
