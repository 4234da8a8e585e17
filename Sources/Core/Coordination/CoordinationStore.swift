import Foundation

/// The registry of one trust domain at one point in its history.
public struct RegistrySnapshot: Sendable, Equatable {
    /// Records in first-published order.
    public var records: [KeyRecord]
    /// Increases with every committed change of this trust domain's registry.
    public var sequence: UInt64

    public init(records: [KeyRecord], sequence: UInt64) {
        self.records = records
        self.sequence = sequence
    }
}

/// Shared state of all keycoord instances of a deployment: leased, fenced locks and the
/// key registry. Implemented by `FileStore` (one host, `flock`) and `PostgresStore`
/// (advisory locks). Every method may throw `CoordinationError`.
public protocol CoordinationStore: AnyObject, Sendable {
    /// Acquires `name` for `ttl`. When held elsewhere, waits up to `wait` (zero: fail at
    /// once) without busy looping, then throws `.lockHeld`. Each success returns a fencing
    /// token larger than any handed out before for `name`.
    func acquire(lock name: String, holder: String, ttl: Duration, wait: Duration) async throws -> LockLease

    /// Extends a lease this instance granted. Throws `.leaseNotFound` if it has expired.
    func renew(lock name: String, leaseID: String, ttl: Duration) async throws -> LockLease

    /// Releases a lease this instance granted. Throws `.leaseNotFound` if it is not held.
    func release(lock name: String, leaseID: String) async throws

    /// The lock's holder and expiry, whichever instance holds it.
    func status(lock name: String) async throws -> LockStatus

    /// The current registry of `trustDomain`.
    func snapshot(trustDomain: String) async throws -> RegistrySnapshot

    /// Atomically reads the registry, lets `mutate` change the records, and commits the
    /// result as one change (all or nothing; nothing is written when `mutate` throws or
    /// leaves the records unchanged). When `fence` is given, the write is refused with
    /// `.staleFence` unless its token is still the lock's latest, checked in the same
    /// atomic step. Concurrent updates from any instance are serialised.
    func update<T: Sendable>(trustDomain: String, fence: Fence?,
                             _ mutate: @Sendable (inout [KeyRecord]) throws -> T) async throws -> (result: T, snapshot: RegistrySnapshot)

    /// Waits until the registry of `trustDomain` has a sequence other than `after`, or
    /// until `timeout`; returns the sequence then current. Used to follow changes made by
    /// other instances quickly. Other, not only greater: a registry that went back (a
    /// failover that lost writes) has changed too, and a follower must not wait for it to
    /// climb past a sequence it will never reach in the same history.
    func waitForChange(trustDomain: String, after: UInt64, timeout: Duration) async throws -> UInt64

    /// A random identity of `trustDomain`'s registry in this store, made on first use and
    /// never changed. Backends whose storage several deployments could share (a keys
    /// directory) are bound to it, so a second registry never adopts or deletes the keys of
    /// another.
    func registryIdentity(trustDomain: String) async throws -> String

    /// Whether the store is reachable now (for `/readyz`).
    func healthCheck() async -> Result<Void, CoordinationError>

    /// Releases every lease and connection this instance holds.
    func close() async
}
