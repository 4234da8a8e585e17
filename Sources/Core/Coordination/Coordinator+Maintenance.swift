import Crypto
import Foundation

// Housekeeping every instance runs from its rotation loop.
extension Coordinator {
    /// Replacement of lost keys, one rotation step for every configured key type, removal of expired records of any
    /// kind, and (every `reconcileInterval`) reconciliation. Safe to run from every
    /// instance at once: a key type whose lock another instance holds is skipped, since
    /// that instance is doing the same step. Throws the first failure after trying all.
    public func tick() async throws {
        var firstError: (any Error)?
        do {
            try await replaceLostKeys()
        } catch {
            firstError = error
        }
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
    /// Revoked records stay as tombstones (`Registry.isRemovable`).
    func sweepExpired() async throws {
        let clock = self.clock
        let grace = config.policy.grace
        let (removed, _) = try await store.update(trustDomain: config.trustDomain, fence: nil) { records in
            let now = clock()
            let expired = records.filter { Registry.isRemovable($0, now: now, grace: grace) }
            records.removeAll { Registry.isRemovable($0, now: now, grace: grace) }
            return expired
        }
        await destroyRemoved(removed)
    }

    /// Destroys backend keys that no record needs: pending keys older than
    /// `pendingGrace` (a crash or a lost race between mint and publish), keys whose record
    /// is a revoked tombstone, and published keys absent from the registry whose lifetime
    /// and grace are over (a destroy that failed after the record left). A pending key the
    /// registry does hold is marked published instead.
    ///
    /// A key the backend marks published but the registry does not know, within its
    /// lifetime, was lost by the registry (a failover that lost writes, a restore): servers
    /// may have been told to sign with it and relying parties may cache it. It is never
    /// destroyed: it is adopted back — tainted (its history is unknown, so nobody is handed
    /// it again) and retired, so it is served until its `notAfter + grace`. Returns how
    /// many keys were destroyed.
    public func reconcile() async throws -> Int {
        try await requireClaim()
        // List first, read the registry second: a key listed as published was published
        // before the read, so its absence from the registry means it was removed or lost.
        let keys = try await backend.list(trustDomain: config.trustDomain)
        let records = try await snapshot().records.filter { $0.backend == backend.name && $0.backendRef != nil }
        var byRef: [String: KeyRecord] = [:]
        for record in records { byRef[record.backendRef ?? ""] = record }
        let now = clock()
        let lifetime = config.policy.ttl.timeInterval + config.policy.grace.timeInterval
        var destroyed = 0
        var unknown: [BackendKeyInfo] = []
        for key in keys {
            if let record = byRef[key.ref], record.state != .revoked {
                if key.mark == .pending {
                    try await backend.markPublished(ref: key.ref, kid: record.kid)
                }
                continue
            }
            // A key of unknown age may be seconds old: it is never taken for an old one.
            let age = key.createdAt.map { now.timeIntervalSince($0) }
            if byRef[key.ref] == nil, key.mark == .published, (age ?? 0) < lifetime {
                unknown.append(key)
                continue
            }
            let pastGrace = age.map { $0 >= config.pendingGrace.timeInterval } ?? false
            let lost = key.mark == .published || byRef[key.ref] != nil || pastGrace
            guard lost else { continue }
            try await backend.destroy(ref: key.ref)
            destroyed += 1
        }
        if !unknown.isEmpty { try await adopt(unknown) }
        observer.reconciled(destroyed: destroyed)
        return destroyed
    }

    /// Puts published backend keys the registry lost back into it, tainted and retired.
    /// A key whose kid or public key is a revoked tombstone stays out.
    func adopt(_ keys: [BackendKeyInfo]) async throws {
        var adopted: [KeyRecord] = []
        for key in keys {
            let publicKey = try PublicKey(der: try await backend.publicKey(ref: key.ref))
            let keyType = try key.keyType ?? PublicKeyInput.keyType(of: publicKey)
            // Unknown age: taken as minted now, so the key is served for a whole lifetime.
            let createdAt = key.createdAt ?? clock()
            adopted.append(KeyRecord(
                trustDomain: config.trustDomain, kid: config.kidFormat.kid(for: publicKey), keyType: keyType,
                publicKey: publicKey.der, backend: backend.name, backendRef: key.ref, createdAt: createdAt,
                publishedAt: createdAt, notAfter: createdAt.addingTimeInterval(config.policy.ttl.timeInterval),
                state: .retired, tainted: true,
                taintReason: "adopted back from the backend: the registry had lost it, so its history is unknown",
                createdBy: config.instanceID))
        }
        let candidates = adopted
        let (restored, _) = try await store.update(trustDomain: config.trustDomain, fence: nil) { records -> [String] in
            var restored: [String] = []
            for record in candidates where Registry.tombstone(in: records, kid: record.kid, publicKey: record.publicKey) == nil
                && !records.contains(where: { $0.backendRef == record.backendRef }) {
                Registry.upsert(record, into: &records)
                restored.append(record.kid)
            }
            return restored
        }
        if !restored.isEmpty { observer.keysAdopted(kids: restored) }
    }
}
