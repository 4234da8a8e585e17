import Core
import Foundation

/// A `CoordinationStore` in memory with the semantics the real stores promise: leases
/// expire by the injected clock, fencing tokens strictly increase per lock name, guarded
/// writes with a stale token are refused with nothing written, updates are atomic and
/// serialised, and unchanged updates write nothing. Failures can be injected.
///
/// Waiting (`acquire` with a wait, `waitForChange`) uses real time in short sleeps, so it
/// works with a manual clock too; the lease expiry itself follows `clock`.
public final class InMemoryStore: CoordinationStore, @unchecked Sendable {
    // All mutable state below is guarded by `lock`.
    private let lock = NSLock()
    private var locks: [String: Slot] = [:]
    private var registries: [String: RegistrySnapshot] = [:]
    private var identities: [String: String] = [:]
    private var injected: [(error: CoordinationError, afterCommit: Bool)] = []
    private var commits = 0
    private var closed = false
    private let clock: @Sendable () -> Date
    private let instance = UUID().uuidString

    private struct Slot {
        var holder: String?
        var leaseID: String?
        var expiresAt: Date?
        var epoch: UInt64 = 0
    }

    public init(clock: @escaping @Sendable () -> Date = { Date() }) {
        self.clock = clock
    }

    /// How many updates changed a registry.
    public var commitCount: Int { locked { commits } }

    /// Makes the next update fail with `error`, before its commit or (`afterCommit`)
    /// after it — the case of a store that committed but whose answer was lost.
    public func failNextUpdate(with error: CoordinationError, afterCommit: Bool = false) {
        locked { injected.append((error, afterCommit)) }
    }

    /// Replaces a trust domain's records directly (a test's fixture, or another writer).
    public func seed(trustDomain: String, records: [KeyRecord]) {
        locked {
            let sequence = (registries[trustDomain]?.sequence ?? 0) + 1
            registries[trustDomain] = RegistrySnapshot(records: records, sequence: sequence)
        }
    }

    /// Sets a trust domain's registry to `snapshot`, sequence included (a store that went
    /// back: a restore, a failover that lost writes).
    public func rewind(trustDomain: String, to snapshot: RegistrySnapshot) {
        locked { registries[trustDomain] = snapshot }
    }

    public func acquire(lock name: String, holder: String, ttl: Duration, wait: Duration) async throws -> LockLease {
        guard LockName.isValid(name) else { throw CoordinationError.invalid("invalid lock name \(name)") }
        let deadline = ContinuousClock.now + wait
        while true {
            let outcome: Result<LockLease, CoordinationError> = locked {
                let now = clock()
                var slot = locks[name] ?? Slot()
                if let current = slot.holder, let expiresAt = slot.expiresAt, expiresAt > now {
                    return .failure(.lockHeld(name: name, holder: current, expiresAt: expiresAt))
                }
                slot.epoch += 1
                let leaseID = "\(instance)-\(name)-\(slot.epoch)"
                let expiresAt = now.addingTimeInterval(ttl.timeInterval)
                slot.holder = holder
                slot.leaseID = leaseID
                slot.expiresAt = expiresAt
                locks[name] = slot
                return .success(LockLease(name: name, leaseID: leaseID, holder: holder, fencingToken: slot.epoch,
                                          acquiredAt: now, expiresAt: expiresAt))
            }
            switch outcome {
            case .success(let lease): return lease
            case .failure(let error):
                if ContinuousClock.now >= deadline { throw error }
                try await Task.sleep(for: .milliseconds(2))
            }
        }
    }

    public func renew(lock name: String, leaseID: String, ttl: Duration) async throws -> LockLease {
        try locked {
            let now = clock()
            guard var slot = locks[name], slot.leaseID == leaseID, let holder = slot.holder,
                  let expiresAt = slot.expiresAt, expiresAt > now
            else { throw CoordinationError.leaseNotFound(name: name, leaseID: leaseID) }
            let renewed = now.addingTimeInterval(ttl.timeInterval)
            slot.expiresAt = renewed
            locks[name] = slot
            return LockLease(name: name, leaseID: leaseID, holder: holder, fencingToken: slot.epoch,
                             acquiredAt: now, expiresAt: renewed)
        }
    }

    public func release(lock name: String, leaseID: String) async throws {
        try locked {
            guard var slot = locks[name], slot.leaseID == leaseID, let expiresAt = slot.expiresAt, expiresAt > clock() else {
                throw CoordinationError.leaseNotFound(name: name, leaseID: leaseID)
            }
            slot.holder = nil
            slot.leaseID = nil
            slot.expiresAt = nil
            locks[name] = slot
        }
    }

    public func status(lock name: String) async throws -> LockStatus {
        locked {
            let slot = locks[name] ?? Slot()
            if let holder = slot.holder, let expiresAt = slot.expiresAt, expiresAt > clock() {
                return LockStatus(name: name, holder: holder, expiresAt: expiresAt, fencingToken: slot.epoch)
            }
            return LockStatus(name: name, holder: nil, expiresAt: nil, fencingToken: slot.epoch)
        }
    }

    public func snapshot(trustDomain: String) async throws -> RegistrySnapshot {
        try locked {
            guard !closed else { throw CoordinationError.storeUnavailable("store closed") }
            return registries[trustDomain] ?? RegistrySnapshot(records: [], sequence: 0)
        }
    }

    public func update<T: Sendable>(trustDomain: String, fence: Fence?,
                                    _ mutate: @Sendable (inout [KeyRecord]) throws -> T) async throws -> (result: T, snapshot: RegistrySnapshot) {
        try locked {
            guard !closed else { throw CoordinationError.storeUnavailable("store closed") }
            let failure = injected.isEmpty ? nil : injected.removeFirst()
            if let failure, !failure.afterCommit { throw failure.error }
            if let fence {
                let current = locks[fence.lock]?.epoch ?? 0
                guard fence.token == current else {
                    throw CoordinationError.staleFence(lock: fence.lock, presented: fence.token, current: current)
                }
            }
            let before = registries[trustDomain] ?? RegistrySnapshot(records: [], sequence: 0)
            var records = before.records
            let result = try mutate(&records)
            var after = before
            if records != before.records {
                after = RegistrySnapshot(records: records, sequence: before.sequence + 1)
                registries[trustDomain] = after
                commits += 1
            }
            if let failure { throw failure.error }
            return (result, after)
        }
    }

    public func waitForChange(trustDomain: String, after: UInt64, timeout: Duration) async throws -> UInt64 {
        let deadline = ContinuousClock.now + timeout
        while true {
            let sequence = try await snapshot(trustDomain: trustDomain).sequence
            if sequence != after || ContinuousClock.now >= deadline { return sequence }
            try await Task.sleep(for: .milliseconds(2))
        }
    }

    public func registryIdentity(trustDomain: String) async throws -> String {
        locked {
            if let identity = identities[trustDomain] { return identity }
            let identity = UUID().uuidString
            identities[trustDomain] = identity
            return identity
        }
    }

    public func healthCheck() async -> Result<Void, CoordinationError> {
        locked { closed ? .failure(.storeUnavailable("store closed")) : .success(()) }
    }

    public func close() async {
        locked {
            closed = true
            for name in locks.keys {
                locks[name]?.holder = nil
                locks[name]?.leaseID = nil
                locks[name]?.expiresAt = nil
            }
        }
    }

    private func locked<R>(_ body: () throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }
}
