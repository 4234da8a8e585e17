import Crypto
import Foundation

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
    private let reconcileState = ReconcileSchedule()

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
        "jwt:\(config.trustDomain):\(keyType.rawValue)"
    }

    func planner(for keyType: KeyType) -> RotationPlanner {
        RotationPlanner(policy: config.policy, keyType: keyType, backend: backend.name)
    }

    // MARK: - Ensure

    /// The key `serverID` should sign with now. Without a lock when a usable key exists
    /// (preparing the next key first when that is due); otherwise under the key type's
    /// lock, re-reading the registry, so that concurrent callers mint exactly one key.
    public func ensure(keyType: KeyType, serverID: String) async throws -> EnsureResult {
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
            throw CoordinationError.backendFailure(
                "key \(current.kid) (\(backend.name) \(ref)) cannot be used by this instance: \(problem)")
        }
        return EnsureResult(current: current, next: plan.next, refreshAfter: refreshAfter(plan))
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

    // MARK: - Rotation

    /// What one rotation step under the lock did.
    struct RotationStep: Sendable {
        var plan: RotationPlan
        var minted = false
        var emergency = false
    }

    /// Runs one rotation step for `keyType` under its lock; releases the lock on every path.
    func rotate(_ keyType: KeyType, wait: Duration) async throws -> RotationStep {
        let name = lockName(for: keyType)
        let started = ContinuousClock.now
        let lease = try await store.acquire(lock: name, holder: config.instanceID, ttl: config.lockTTL, wait: wait)
        observer.lockWaited(name: name, duration: ContinuousClock.now - started)
        let fence = Fence(lock: name, token: lease.fencingToken)
        do {
            let step = try await rotateLocked(keyType, fence: fence)
            await release(name, lease)
            return step
        } catch {
            await release(name, lease)
            throw error
        }
    }

    private func release(_ name: String, _ lease: LockLease) async {
        do {
            try await store.release(lock: name, leaseID: lease.leaseID)
        } catch {
            // An expired lease is already free; the fence kept any late write out.
            observer.deferredFailure(operation: "release lock \(name)", error: error)
        }
    }

    private func rotateLocked(_ keyType: KeyType, fence: Fence) async throws -> RotationStep {
        let planner = planner(for: keyType)
        var step = RotationStep(plan: RotationPlan())
        // A mint can lose a race with a taint or revoke made meanwhile; replanning a few
        // times settles it, since each round starts from the store's current records.
        for _ in 0..<3 {
            let clock = self.clock
            let (applied, _) = try await store.update(trustDomain: config.trustDomain, fence: fence) { records in
                let now = clock()
                let plan = planner.plan(records: records, now: now)
                let removed = records.filter { plan.remove.contains($0.kid) }
                plan.apply(to: &records, now: now)
                return (plan, removed)
            }
            let plan = applied.0
            await destroyRemoved(applied.1)
            if plan.emergency {
                step.emergency = true
                observer.emergencyGap(keyType: keyType)
            }
            step.plan = plan
            guard let state = plan.mint else { return step }
            guard let minted = try await mint(keyType, state: state, planner: planner, fence: fence) else { continue }
            step.minted = true
            step.plan = minted
            return step
        }
        return step
    }

    /// Thrown inside a store update when the plan changed between planning and minting.
    private struct PlanChanged: Error {}

    /// Mints a key in the backend, proves it signs, and publishes it in a fenced update
    /// that re-checks the plan. Returns the plan after publishing, or nil when the plan no
    /// longer wants this key (it is then destroyed, never having been published).
    private func mint(_ keyType: KeyType, state: KeyState, planner: RotationPlanner, fence: Fence) async throws -> RotationPlan? {
        let created = try await backend.create(keyType: keyType, trustDomain: config.trustDomain)
        do {
            let key = try await verifiedPublicKey(created, keyType: keyType)
            try await probe(ref: created.ref, keyType: keyType, key: key)
            let keyID = config.kidFormat.kid(for: key)
            let config = self.config
            let clock = self.clock
            let (plan, _) = try await store.update(trustDomain: config.trustDomain, fence: fence) { records in
                let now = clock()
                let plan = planner.plan(records: records, now: now)
                guard plan.mint == state else { throw PlanChanged() }
                guard !records.contains(where: { $0.kid == keyID }) else {
                    throw CoordinationError.conflict("backend \(created.ref) returned a key whose kid \(keyID) is already registered")
                }
                let before = records
                plan.apply(to: &records, now: now)
                let record = KeyRecord(
                    trustDomain: config.trustDomain, kid: keyID, keyType: keyType, publicKey: key.der,
                    backend: planner.backend, backendRef: created.ref, createdAt: now, publishedAt: now,
                    notAfter: now.addingTimeInterval(config.policy.ttl.timeInterval),
                    activatedAt: state == .active ? now : nil, state: state, createdBy: config.instanceID,
                    fencingToken: fence.token)
                records.append(record)
                try config.limits.check(before: before, after: records, now: now, grace: config.policy.grace)
                return planner.plan(records: records, now: now)
            }
            observer.keysMinted(keyType: keyType)
            do {
                try await backend.markPublished(ref: created.ref, kid: keyID)
            } catch {
                // The registry holds the key, so the reconciler marks it instead of deleting it.
                observer.deferredFailure(operation: "mark \(created.ref) published", error: error)
            }
            return plan
        } catch {
            if case CoordinationError.jwksLimit(let reason) = error { observer.jwksRefused(reason: reason) }
            await discardUnpublished(ref: created.ref, after: error)
            if error is PlanChanged { return nil }
            throw error
        }
    }

    /// Destroys a freshly minted key that did not make it into the registry. When the
    /// store's answer is unknown (the commit may have happened), the registry is read
    /// back first; if that fails too, the key is left pending for the reconciler.
    private func discardUnpublished(ref: String, after error: any Error) async {
        let refusedBeforeCommit: Bool
        switch error {
        case is PlanChanged, CoordinationError.staleFence, CoordinationError.jwksLimit, CoordinationError.conflict,
             CoordinationError.invalid, CoordinationError.backendFailure, is CryptoError:
            refusedBeforeCommit = true
        default:
            refusedBeforeCommit = false
        }
        if !refusedBeforeCommit {
            guard let snapshot = try? await store.snapshot(trustDomain: config.trustDomain),
                  !snapshot.records.contains(where: { $0.backendRef == ref && $0.backend == backend.name })
            else { return }
        }
        do {
            try await backend.destroy(ref: ref)
        } catch {
            observer.deferredFailure(operation: "destroy unpublished \(ref)", error: error)
        }
    }

    /// The backend's public key for a new key, checked against what `create` returned and
    /// against the key type asked for.
    private func verifiedPublicKey(_ created: BackendKey, keyType: KeyType) async throws -> PublicKey {
        let der = try await backend.publicKey(ref: created.ref)
        let key: PublicKey
        do {
            key = try PublicKey(der: der)
        } catch {
            throw CoordinationError.backendFailure("backend \(backend.name) returned an unreadable public key for \(created.ref): \(error)")
        }
        guard let createdKey = try? PublicKey(der: created.publicKey), createdKey == key else {
            throw CoordinationError.backendFailure(
                "backend \(backend.name) returned different public keys for \(created.ref) at creation and on read")
        }
        guard KeyType(key.algorithm) == keyType else {
            throw CoordinationError.backendFailure(
                "backend \(backend.name) minted a \(key.algorithm) key for \(created.ref), not \(keyType.rawValue)")
        }
        return key
    }

    /// Signs a random digest through the backend and verifies it locally, so a key that
    /// cannot sign (or signs with another key) is never published.
    private func probe(ref: String, keyType: KeyType, key: PublicKey) async throws {
        let digest = Digest.hash(keyType.hash, SecureRandom.bytes(32))
        let signature = try await backend.sign(ref: ref, keyType: keyType, digest: digest)
        var der = signature
        if let size = keyType.algorithm.coordinateSize {
            guard signature.count == 2 * size, let converted = try? ECDSASignature.der(fromRaw: signature) else {
                throw CoordinationError.backendFailure(
                    "backend \(backend.name) returned a \(signature.count)-byte signature for \(ref); JOSE \(keyType.alg) needs \(2 * size)")
            }
            der = converted
        }
        guard key.verify(signature: der, digest: digest, hash: keyType.hash) else {
            throw CoordinationError.backendFailure("backend \(backend.name) signature by \(ref) does not verify with its public key")
        }
    }

    /// Destroys backend keys whose records just left the registry (the commit is done, so
    /// no relying party can be served them any more). Failures are left to the reconciler.
    private func destroyRemoved(_ records: [KeyRecord]) async {
        for record in records where record.backend == backend.name {
            guard let ref = record.backendRef else { continue }
            do {
                try await backend.destroy(ref: ref)
            } catch {
                observer.deferredFailure(operation: "destroy \(ref)", error: error)
            }
        }
    }

    // MARK: - Publish, read, taint, revoke

    /// Publishes a key a SPIRE server minted itself (backend `external`). Idempotent by
    /// kid: the largest `notAfter` wins and a taint is kept; a revoked key is refused with
    /// `.conflict`. A key keycoord minted keeps keycoord's schedule.
    public func publish(_ request: PublishRequest) async throws -> KeyRecord {
        try Self.checkCaller(request.serverID, "server id")
        let keyType = try PublicKeyInput.keyType(of: request.publicKey)
        let now = clock()
        guard request.notAfter > now else {
            throw CoordinationError.invalid("not_after \(request.notAfter) is not in the future")
        }
        let kid = config.kidFormat.kid(for: request.publicKey)
        let incoming = KeyRecord(
            trustDomain: config.trustDomain, kid: kid, keyType: keyType, publicKey: request.publicKey.der,
            backend: "external", backendRef: nil, createdAt: now, publishedAt: now, notAfter: request.notAfter,
            state: .published, createdBy: request.serverID, fencingToken: request.fence?.token)
        let config = self.config
        do {
            let (record, _) = try await store.update(trustDomain: config.trustDomain, fence: request.fence) { records in
                if let existing = records.first(where: { $0.kid == kid }) {
                    if existing.state == .revoked {
                        throw CoordinationError.conflict("key \(kid) was revoked; it cannot be published again")
                    }
                    if existing.backendRef != nil { return existing }
                }
                let before = records
                let stored = Registry.upsert(incoming, into: &records)
                try config.limits.check(before: before, after: records, now: now, grace: config.policy.grace)
                return stored
            }
            return record
        } catch CoordinationError.jwksLimit(let reason) {
            observer.jwksRefused(reason: reason)
            throw CoordinationError.jwksLimit(reason)
        }
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
    /// `caller` names who asked, for the observer's audit trail. Tainting again is a no-op.
    public func taint(kid: String, by caller: String) async throws -> KeyRecord {
        try Self.checkCaller(caller, "caller")
        let (record, _) = try await store.update(trustDomain: config.trustDomain, fence: nil) { records in
            guard let index = records.firstIndex(where: { $0.kid == kid }) else { throw CoordinationError.keyNotFound(kid: kid) }
            records[index].tainted = true
            return records[index]
        }
        observer.keyTainted(kid: kid, by: caller)
        return try await replaceIfManaged(record)
    }

    /// Revokes a key: it leaves the JWKS at once and its backend key is destroyed. A key
    /// servers sign with is replaced at once. `caller` names who asked, for the observer's
    /// audit trail. Revoking again is a no-op.
    public func revoke(kid: String, by caller: String) async throws -> KeyRecord {
        try Self.checkCaller(caller, "caller")
        let (record, _) = try await store.update(trustDomain: config.trustDomain, fence: nil) { records in
            guard let index = records.firstIndex(where: { $0.kid == kid }) else { throw CoordinationError.keyNotFound(kid: kid) }
            records[index].state = .revoked
            return records[index]
        }
        observer.keyRevoked(kid: kid, by: caller)
        // The revoke is committed, so no JWKS rendered from the registry serves the key any
        // more; only now may its private key go. The revoked record stays until
        // `notAfter + grace` so that the key cannot be published again.
        await destroyRemoved([record])
        return try await replaceIfManaged(record)
    }

    /// Runs a rotation step when `record` belongs to a managed key type, then returns the
    /// record as stored now.
    private func replaceIfManaged(_ record: KeyRecord) async throws -> KeyRecord {
        let planner = planner(for: record.keyType)
        guard planner.manages(record) else { return record }
        let snapshot = try await store.snapshot(trustDomain: config.trustDomain)
        if !planner.plan(records: snapshot.records, now: clock()).isEmpty {
            _ = try await rotate(record.keyType, wait: config.lockWait)
        }
        return try await key(kid: record.kid)
    }

    // MARK: - Tick and reconcile

    /// One rotation step for every configured key type, removal of expired records of any
    /// kind, and (every `reconcileInterval`) reconciliation. Safe to run from every
    /// instance at once: a key type whose lock another instance holds is skipped, since
    /// that instance is doing the same step. Throws the first failure after trying all.
    public func tick() async throws {
        var firstError: (any Error)?
        for keyType in config.keyTypes {
            do {
                let snapshot = try await store.snapshot(trustDomain: config.trustDomain)
                if planner(for: keyType).plan(records: snapshot.records, now: clock()).isEmpty { continue }
                _ = try await rotate(keyType, wait: .zero)
            } catch CoordinationError.lockHeld {
                continue
            } catch {
                firstError = firstError ?? error
            }
        }
        do {
            try await sweepExpired()
        } catch {
            firstError = firstError ?? error
        }
        if reconcileState.due(now: clock(), interval: config.reconcileInterval) {
            do {
                _ = try await reconcile()
            } catch {
                firstError = firstError ?? error
            }
        }
        if let firstError { throw firstError }
    }

    /// Removes records past `notAfter + grace` whatever their backend or key type
    /// (external keys, key types no longer configured), then destroys their backend keys.
    private func sweepExpired() async throws {
        let clock = self.clock
        let grace = config.policy.grace
        let (removed, _) = try await store.update(trustDomain: config.trustDomain, fence: nil) { records in
            let now = clock()
            let expired = records.filter { Registry.isExpired($0, now: now, grace: grace) }
            records.removeAll { Registry.isExpired($0, now: now, grace: grace) }
            return expired
        }
        await destroyRemoved(removed)
    }

    /// Destroys backend keys that no record needs: pending keys older than
    /// `pendingGrace` (a crash or a lost race between mint and publish), and published
    /// keys whose record was removed or revoked (a destroy that failed earlier). A pending
    /// key the registry does hold is marked published instead. Returns how many were destroyed.
    public func reconcile() async throws -> Int {
        // List first, read the registry second: a key listed as published was published
        // before the read, so its absence from the registry means it was removed.
        let keys = try await backend.list(trustDomain: config.trustDomain)
        let records = try await snapshot().records.filter { $0.backend == backend.name && $0.backendRef != nil }
        var byRef: [String: KeyRecord] = [:]
        for record in records { byRef[record.backendRef ?? ""] = record }
        let now = clock()
        var destroyed = 0
        for key in keys {
            if let record = byRef[key.ref], record.state != .revoked {
                if key.mark == .pending {
                    try await backend.markPublished(ref: key.ref, kid: record.kid)
                }
                continue
            }
            let lost = key.mark == .published || byRef[key.ref] != nil
                || now.timeIntervalSince(key.createdAt) >= config.pendingGrace.timeInterval
            guard lost else { continue }
            try await backend.destroy(ref: key.ref)
            destroyed += 1
        }
        observer.reconciled(destroyed: destroyed)
        return destroyed
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
