import Crypto
import Foundation

// The rotation step: one key type, under its lock, fenced. Minting lives here too, since
// only a rotation step mints.
extension Coordinator {
    /// What one rotation step under the lock did.
    struct RotationStep: Sendable {
        var plan: RotationPlan
        var minted = false
        var emergency = false
    }

    /// Runs one rotation step for `keyType` under its lock; releases the lock on every path.
    func rotate(_ keyType: KeyType, wait: Duration) async throws -> RotationStep {
        try await requireClaim()
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

    func release(_ name: String, _ lease: LockLease) async {
        do {
            try await store.release(lock: name, leaseID: lease.leaseID)
        } catch {
            // An expired lease is already free; the fence kept any late write out.
            observer.deferredFailure(operation: "release lock \(name)", error: error)
        }
    }

    func rotateLocked(_ keyType: KeyType, fence: Fence) async throws -> RotationStep {
        let planner = planner(for: keyType)
        var step = RotationStep(plan: RotationPlan())
        // Whoever held the lock before may have done the work: a plain read settles that
        // without a write transaction (the common case for callers that waited).
        let latest = try await store.snapshot(trustDomain: config.trustDomain)
        let settled = planner.plan(records: latest.records, now: clock())
        if settled.isEmpty {
            step.plan = settled
            return step
        }
        // A mint can lose a race with a taint or revoke made meanwhile; replanning a few
        // times settles it, since each round starts from the store's current records.
        for _ in 0..<3 {
            let clock = self.clock
            let (applied, _) = try await store.update(trustDomain: config.trustDomain, fence: fence) { records in
                let now = clock()
                let plan = planner.plan(records: records, now: now)
                let removed = records.filter { plan.remove.contains($0.kid) }
                let before = records
                plan.apply(to: &records, now: now)
                Self.stamp(&records, changedFrom: before, token: fence.token)
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

    /// Records the fencing token on every record a guarded write changed.
    static func stamp(_ records: inout [KeyRecord], changedFrom before: [KeyRecord], token: UInt64) {
        var previous: [String: KeyRecord] = [:]
        for record in before { previous[record.kid] = record }
        for index in records.indices where records[index] != previous[records[index].kid] {
            records[index].fencingToken = token
        }
    }

    /// Thrown inside a store update when the plan changed between planning and minting.
    struct PlanChanged: Error {}

    /// Mints a key in the backend, proves it signs, and publishes it in a fenced update
    /// that re-checks the plan. Returns the plan after publishing, or nil when the plan no
    /// longer wants this key (it is then destroyed, never having been published).
    func mint(_ keyType: KeyType, state: KeyState, planner: RotationPlanner, fence: Fence) async throws -> RotationPlan? {
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
                Self.stamp(&records, changedFrom: before, token: fence.token)
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
    func discardUnpublished(ref: String, after error: any Error) async {
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
    func verifiedPublicKey(_ created: BackendKey, keyType: KeyType) async throws -> PublicKey {
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
    func probe(ref: String, keyType: KeyType, key: PublicKey) async throws {
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
    func destroyRemoved(_ records: [KeyRecord]) async {
        for record in records where record.backend == backend.name {
            guard let ref = record.backendRef else { continue }
            do {
                try await backend.destroy(ref: ref)
            } catch {
                observer.deferredFailure(operation: "destroy \(ref)", error: error)
            }
        }
    }
}
