import Foundation

/// The rotation decision as a pure function of the registry and the time, so every
/// instance computes the same plan and the plan can be recomputed inside an atomic update.
///
/// Per key type: the first key is minted active at once; the next is minted and published
/// at the current key's half-life; it becomes active when the current key reaches 5/6 of
/// its life and the next has been published for `publishLead`, and the old key retires.
/// Keys leave the registry at `notAfter + grace` (revoked keys stay as tombstones). When nothing can sign (taint, revoke,
/// expiry), a published next is promoted at once, else a replacement is minted active at
/// once — the "emergency gap". The JWKS never holds more than
/// `RotationPolicy.maxKeysPerType` keys of the type: a routine mint takes the slot of a key
/// tainted before it ever signed (it verifies no token) or waits for room; an emergency
/// mint evicts the oldest retired (then tainted) key first.
public struct RotationPlanner: Sendable {
    public var policy: RotationPolicy
    public var keyType: KeyType
    /// Only keys held by this backend are managed: they are the ones keycoord can sign with.
    public var backend: String

    public init(policy: RotationPolicy, keyType: KeyType, backend: String) {
        self.policy = policy
        self.keyType = keyType
        self.backend = backend
    }

    /// Whether `record` is one this planner manages.
    public func manages(_ record: KeyRecord) -> Bool {
        record.keyType == keyType && record.backend == backend && record.backendRef != nil
    }

    /// The key servers sign with according to the registry as it stands (before any due
    /// step is applied): the most recently activated managed, untainted, unexpired active key.
    public func signingKey(in records: [KeyRecord], now: Date) -> KeyRecord? {
        records.filter { manages($0) && $0.canSign && now < $0.notAfter }
            .max { ($0.activatedAt ?? $0.publishedAt) < ($1.activatedAt ?? $1.publishedAt) }
    }

    /// The step due for this key type at `now`.
    public func plan(records: [KeyRecord], now: Date) -> RotationPlan {
        var plan = RotationPlan()
        let scoped = records.filter(manages)
        // Revoked records past their expiry stay as tombstones: neither removed nor present.
        let expired = scoped.filter { Registry.isRemovable($0, now: now, grace: policy.grace) }
        plan.remove = expired.map(\.kid)
        let present = scoped.filter { !Registry.isExpired($0, now: now, grace: policy.grace) }
        var live = present.filter { $0.state != .revoked }

        func signable(_ r: KeyRecord) -> Bool { !r.tainted && now < r.notAfter }
        for record in live where record.state == .active && !signable(record) {
            plan.retire.append(record.kid)
        }
        for record in live where record.state == .published && !signable(record) {
            plan.retire.append(record.kid)
        }
        let actives = live.filter { $0.state == .active && signable($0) }
            .sorted { ($0.activatedAt ?? $0.publishedAt) > ($1.activatedAt ?? $1.publishedAt) }
        var current = actives.first
        plan.retire += actives.dropFirst().map(\.kid)
        let publisheds = live.filter { $0.state == .published && signable($0) }.sorted { $0.publishedAt > $1.publishedAt }
        var next = publisheds.first
        plan.retire += publisheds.dropFirst().map(\.kid)

        if current == nil {
            if let candidate = next {
                plan.activate = candidate.kid
                plan.emergency = now < policy.readyTime(of: candidate)
                current = candidate
                current?.state = .active
                current?.activatedAt = now
                next = nil
            } else {
                plan.mint = .active
                plan.emergency = !present.isEmpty
            }
        } else if let active = current, let successor = next {
            if now >= policy.activationTime(of: active), now >= policy.readyTime(of: successor) {
                plan.retire.append(active.kid)
                plan.activate = successor.kid
                current = successor
                current?.state = .active
                current?.activatedAt = now
                next = nil
            }
        }
        // Also right after an activation: a key promoted late may be past its own half-life.
        if plan.mint == nil, next == nil, let active = current, now >= policy.prepareTime(of: active) {
            plan.mint = .published
        }

        if plan.mint != nil, live.count + 1 > RotationPolicy.maxKeysPerType {
            if plan.mint == .published {
                // A key tainted before it ever signed verifies no token: it gives its slot
                // to the replacement at once, so a taint of the next key never delays the
                // replacement past publish-lead. Otherwise the routine mint waits for room.
                let excess = live.count + 1 - RotationPolicy.maxKeysPerType
                let neverSigned = live.filter { $0.tainted && $0.activatedAt == nil && $0.kid != current?.kid }
                    .sorted { $0.publishedAt < $1.publishedAt }
                if neverSigned.count >= excess {
                    for victim in neverSigned.prefix(excess) {
                        plan.remove.append(victim.kid)
                        plan.retire.removeAll { $0 == victim.kid }
                        live.removeAll { $0.kid == victim.kid }
                    }
                } else {
                    plan.mint = nil
                }
            } else {
                let evictable = live.filter { $0.kid != current?.kid }.sorted { lhs, rhs in
                    let l = evictionRank(lhs, retired: plan.retire), r = evictionRank(rhs, retired: plan.retire)
                    return l != r ? l < r : lhs.notAfter < rhs.notAfter
                }
                for victim in evictable.prefix(live.count + 1 - RotationPolicy.maxKeysPerType) {
                    plan.remove.append(victim.kid)
                    plan.retire.removeAll { $0 == victim.kid }
                    live.removeAll { $0.kid == victim.kid }
                }
            }
        }

        plan.current = current
        plan.next = next
        plan.nextChange = plan.isEmpty ? nextChange(present: present, current: current, next: next, now: now) : now
        return plan
    }

    /// Eviction order for an emergency mint: retired keys (no longer signing) first, then
    /// tainted keys, then anything else.
    private func evictionRank(_ record: KeyRecord, retired: [String]) -> Int {
        let isRetired = record.state == .retired || retired.contains(record.kid)
        if isRetired && !record.tainted { return 0 }
        if record.tainted { return 1 }
        return 2
    }

    private func nextChange(present: [KeyRecord], current: KeyRecord?, next: KeyRecord?, now: Date) -> Date? {
        var times = present.map(policy.removalTime(of:))
        if let current {
            times.append(current.notAfter)
            if let next {
                times.append(max(policy.activationTime(of: current), policy.readyTime(of: next)))
                times.append(next.notAfter)
            } else {
                times.append(policy.prepareTime(of: current))
            }
        }
        return times.filter { $0 > now }.min()
    }
}
