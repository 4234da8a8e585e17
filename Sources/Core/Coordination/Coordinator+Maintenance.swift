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
    /// `pendingGrace` (a crash or a lost race between mint and publish), and published
    /// keys whose record was removed or revoked (a destroy that failed earlier). A pending
    /// key the registry does hold is marked published instead. Returns how many were destroyed.
    public func reconcile() async throws -> Int {
        try await requireClaim()
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
}
