import Core
import Crypto
import Dispatch
import FileSupport
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The embedded coordination store: every keycoord instance on one host shares a state
/// directory, and the kernel's `flock` does the locking.
///
/// State directory layout (directories 0700, files 0600):
/// ```
/// <directory>/
///   locks/<name>.lock            flock guarding changes of <name>.lease; empty, never replaced
///   locks/<name>.lease           JSON LeaseDocument: fencing epoch + current lease,
///                                replaced atomically while holding the guard
///   locks/<name>.<lease>.holder  flock held by the lease's process for the lease's life
///   registry/<trust-domain>.json JSON RegistryDocument: sequence + records,
///                                replaced atomically (temp, fsync, rename, fsync dir)
///   registry/<trust-domain>.lock flock serialising read-modify-write of that registry
///   registry/<trust-domain>.identity  the registry's random identity, created once
/// ```
/// Lease metadata lives beside the flock targets rather than in them: a flock target
/// cannot be replaced by rename (waiters would lock an orphaned inode), and in-place writes
/// could be read torn. The epoch and the lease share one document so they never disagree.
///
/// Locks: a lease is held while its document names it, its `expires_at` is ahead, and its
/// holder file is flocked. Readers enforce all three (`status`, `acquire`, fence checks),
/// so an expired lease frees its lock at its expiry whatever its holder does — a frozen
/// process (SIGSTOP, a paused container) keeps its flock but not its lock — and a process
/// killed with SIGKILL frees it at once, since the kernel drops its holder flock. The
/// guard flock is held only while a lease document is read and replaced (about one fsync).
/// Waiting for a held lock polls with backoff from 10 to 100 ms, so a waiter gets a lapsed
/// lock at most 100 ms after its expiry. A zero wait still retries for 20 ms, so a guard
/// held for a moment by another acquirer is never reported as a holder.
///
/// Registry: updates take the registry flock on a Dispatch thread (a blocking call kept
/// off the cooperative pool), so updates from threads of this process and from other
/// processes are serialised alike (each opens its own file description). Reads take no
/// lock: the document is only ever replaced by an atomic rename. `waitForChange` polls
/// the document's identity every 50 ms, so changes by other processes are seen within
/// about 50 ms.
public final class FileStore: CoordinationStore {
    /// The canonical (absolute, symlink-free) state directory.
    public let directory: String
    /// Identifies this instance in lease metadata; leases are owned by the instance that granted them.
    public let instanceID: String

    private let layout: FileStoreLayout
    private let leases = Mutex(LeaseTable())
    private let registries = Mutex([String: CachedRegistry]())
    private let timerQueue = DispatchQueue(label: "keycoord.file-store.lease-expiry")

    private static let changePollInterval = Duration.milliseconds(50)
    private static let maxLockPollInterval = Duration.milliseconds(100)
    private static let minimumLockWait = Duration.milliseconds(20)
    /// How long renew and release wait for a lock's guard flock, held by others only while
    /// they replace the lease document.
    private static let guardWait: TimeInterval = 2

    private struct HeldLease {
        /// The lease's holder file, flocked for the lease's life.
        let file: OpenFile
        var lease: LockLease
        var timer: DispatchSourceTimer
    }

    private struct LeaseTable {
        var held: [String: HeldLease] = [:]
        /// The latest token this instance granted per lock, to refuse its own ended leases' fences.
        var granted: [String: UInt64] = [:]
    }

    /// A parsed registry document. Keeping the file open pins its inode number, so a later
    /// document can never reuse it: an equal identity proves the file is unchanged.
    private struct CachedRegistry {
        let file: OpenFile
        let identity: FileIdentity
        let snapshot: RegistrySnapshot
    }

    /// Opens (creating if needed) the state directory.
    public init(directory: String, instanceID: String) throws {
        guard !instanceID.isEmpty, instanceID.utf8.count <= 256 else {
            throw CoordinationError.invalid("instance id must be 1–256 bytes")
        }
        self.instanceID = instanceID
        do {
            try PrivateDirectory.create(directory)
            self.directory = try PrivateDirectory.canonical(directory)
            self.layout = FileStoreLayout(root: self.directory)
            try PrivateDirectory.create(layout.locksDirectory)
            try PrivateDirectory.create(layout.registryDirectory)
        } catch {
            throw CoordinationError.storeUnavailable("cannot prepare the file store state directory \(directory): \(error)")
        }
    }

    deinit {
        leases.withLock { table in
            for held in table.held.values { held.timer.cancel() }
        }
    }

    // MARK: Locks

    public func acquire(lock name: String, holder: String, ttl: Duration, wait: Duration) async throws -> LockLease {
        let lockPath = try layout.lockFile(name)
        guard !holder.isEmpty, holder.utf8.count <= 256 else { throw CoordinationError.invalid("holder must be 1–256 bytes") }
        guard ttl > .zero else { throw CoordinationError.invalid("lease ttl must be positive") }
        guard wait >= .zero else { throw CoordinationError.invalid("wait must not be negative") }
        let clock = ContinuousClock()
        // Even a zero wait retries once: `status` and fence checks probe the lock with a
        // shared flock held for microseconds, which must not pass for a holder.
        let deadline = clock.now.advanced(by: max(wait, Self.minimumLockWait))
        var pause = Duration.milliseconds(10)
        while true {
            if let lease = try storeCall({ try self.tryAcquire(name, lockPath: lockPath, holder: holder, ttl: ttl) }) {
                return lease
            }
            let remaining = deadline - clock.now
            guard remaining > .zero else {
                let status = try await status(lock: name)
                throw CoordinationError.lockHeld(name: name, holder: status.holder ?? "unknown", expiresAt: status.expiresAt ?? Date())
            }
            try await Task.sleep(for: min(pause, remaining))
            pause = min(pause * 2, Self.maxLockPollInterval)
        }
    }

    public func renew(lock name: String, leaseID: String, ttl: Duration) async throws -> LockLease {
        _ = try layout.lockFile(name)
        guard ttl > .zero else { throw CoordinationError.invalid("lease ttl must be positive") }
        return try storeCall {
            // Under the table lock: the expiry timer cannot end the lease mid-renew.
            try leases.withLock { table in
                guard var held = table.held[name], held.lease.leaseID == leaseID else {
                    throw CoordinationError.leaseNotFound(name: name, leaseID: leaseID)
                }
                let now = Date()
                guard held.lease.expiresAt > now else {
                    table.held[name] = nil
                    end(held)
                    throw CoordinationError.leaseNotFound(name: name, leaseID: leaseID)
                }
                var renewed = held.lease
                renewed.expiresAt = now.addingTimeInterval(ttl.timeInterval)
                try withGuard(name) {
                    // The document is the truth: a lease another process took over is gone.
                    guard let document = try readLease(name), document.lease?.leaseID == leaseID,
                          document.token == renewed.fencingToken
                    else { throw CoordinationError.leaseNotFound(name: name, leaseID: leaseID) }
                    try writeLease(name, LeaseDocument(token: renewed.fencingToken, lease: leaseMetadata(renewed)))
                }
                held.timer.cancel()
                held.lease = renewed
                held.timer = expiryTimer(for: renewed)
                table.held[name] = held
                return renewed
            }
        }
    }

    public func release(lock name: String, leaseID: String) async throws {
        _ = try layout.lockFile(name)
        try leases.withLock { table in
            guard let held = table.held[name], held.lease.leaseID == leaseID else {
                throw CoordinationError.leaseNotFound(name: name, leaseID: leaseID)
            }
            table.held[name] = nil
            end(held)
            guard held.lease.expiresAt > Date() else {
                throw CoordinationError.leaseNotFound(name: name, leaseID: leaseID)
            }
        }
    }

    public func status(lock name: String) async throws -> LockStatus {
        _ = try layout.lockFile(name)
        return try storeCall {
            let document = try readLease(name)
            if let lease = document?.lease, try isLive(name, lease, now: Date()) {
                return LockStatus(name: name, holder: lease.holder, expiresAt: lease.expiresAt, fencingToken: document?.token ?? 0)
            }
            return LockStatus(name: name, holder: nil, expiresAt: nil, fencingToken: document?.token ?? 0)
        }
    }

    /// Whether `lease` still holds its lock: not expired, and its holder file is flocked
    /// (by any open file description, in this process or another).
    private func isLive(_ name: String, _ lease: LeaseDocument.Lease, now: Date) throws -> Bool {
        guard lease.expiresAt > now else { return false }
        guard let holder = try OpenFile.openIfExists(try layout.holderFile(name, leaseID: lease.leaseID)) else { return false }
        if try holder.tryLock(exclusive: false) {
            holder.unlock()
            return false
        }
        return true
    }

    /// Takes the lock if it is free now; nil when a live lease holds it or another
    /// acquirer holds its guard this moment.
    private func tryAcquire(_ name: String, lockPath: String, holder: String, ttl: Duration) throws -> LockLease? {
        let guardFile = try OpenFile.open(lockPath, flags: O_RDWR | O_CREAT)
        guard try guardFile.tryLock(exclusive: true) else { return nil }
        defer { guardFile.unlock() }
        let document = try readLease(name)
        if let current = document?.lease, try isLive(name, current, now: Date()) { return nil }
        let previous = document?.token ?? 0
        guard previous < UInt64.max else {
            throw CoordinationError.storeUnavailable("fencing epoch of lock \(name) is exhausted in \(try layout.leaseFile(name))")
        }
        let leaseID = SecureRandom.hexToken()
        let holderPath = try layout.holderFile(name, leaseID: leaseID)
        let holderFile = try OpenFile.open(holderPath, flags: O_RDWR | O_CREAT)
        do {
            guard try holderFile.tryLock(exclusive: true) else {
                throw CoordinationError.storeUnavailable("holder file \(holderPath) of a new lease is locked by someone else")
            }
            let now = Date()
            let lease = LockLease(name: name, leaseID: leaseID, holder: holder, fencingToken: previous + 1,
                                  acquiredAt: now, expiresAt: now.addingTimeInterval(ttl.timeInterval))
            try writeLease(name, LeaseDocument(token: lease.fencingToken, lease: leaseMetadata(lease)))
            // The lapsed lease's holder (dead, or frozen with its flock) no longer needs its file.
            if let lapsed = document?.lease { try? AtomicFile.remove(try layout.holderFile(name, leaseID: lapsed.leaseID)) }
            leases.withLock { table in
                if let superseded = table.held[name] {
                    superseded.timer.cancel()
                    superseded.file.unlock()
                }
                table.held[name] = HeldLease(file: holderFile, lease: lease, timer: expiryTimer(for: lease))
                table.granted[name] = lease.fencingToken
            }
            return lease
        } catch {
            holderFile.unlock()
            try? AtomicFile.remove(holderPath)
            throw error
        }
    }

    /// Runs `body` holding the guard flock of lock `name`, waiting up to `guardWait` for it.
    private func withGuard<T>(_ name: String, _ body: () throws -> T) throws -> T {
        let guardFile = try OpenFile.open(try layout.lockFile(name), flags: O_RDWR | O_CREAT)
        let deadline = Date().addingTimeInterval(Self.guardWait)
        while try !guardFile.tryLock(exclusive: true) {
            guard Date() < deadline else {
                throw CoordinationError.storeUnavailable(
                    "the guard of lock \(name) has been held for \(Int(Self.guardWait)) s by a stalled process; try again")
            }
            usleep(1000)
        }
        defer { guardFile.unlock() }
        return try body()
    }

    private func expiryTimer(for lease: LockLease) -> DispatchSourceTimer {
        let timer = DispatchSource.makeTimerSource(queue: timerQueue)
        timer.schedule(deadline: .now() + max(lease.expiresAt.timeIntervalSinceNow, 0))
        let (name, leaseID, expiresAt) = (lease.name, lease.leaseID, lease.expiresAt)
        timer.setEventHandler { [weak self] in self?.expire(name, leaseID: leaseID, expiresAt: expiresAt) }
        timer.resume()
        return timer
    }

    /// Timer handler: ends the lease unless it was released or renewed meanwhile.
    private func expire(_ name: String, leaseID: String, expiresAt: Date) {
        leases.withLock { table in
            guard let held = table.held[name], held.lease.leaseID == leaseID, held.lease.expiresAt == expiresAt else { return }
            table.held[name] = nil
            end(held)
        }
    }

    /// Drops the holder flock (from then on every reader sees the lock free), then clears
    /// the lease from the document and removes the holder file if the lease is still the
    /// document's. The clean-up is best effort: the flock and the expiry, not the document,
    /// say whether the lock is held, and the epoch never changes here.
    private func end(_ held: HeldLease) {
        held.timer.cancel()
        held.file.unlock()
        let name = held.lease.name
        try? withGuard(name) {
            guard let document = try readLease(name), document.lease?.leaseID == held.lease.leaseID else { return }
            try writeLease(name, LeaseDocument(token: document.token, lease: nil))
        }
        try? AtomicFile.remove(held.file.path)
    }

    private func leaseMetadata(_ lease: LockLease) -> LeaseDocument.Lease {
        LeaseDocument.Lease(leaseID: lease.leaseID, holder: lease.holder, instance: instanceID,
                            acquiredAt: lease.acquiredAt, expiresAt: lease.expiresAt)
    }

    private func readLease(_ name: String) throws -> LeaseDocument? {
        let path = try layout.leaseFile(name)
        guard let bytes = try AtomicFile.read(path, limit: 1 << 20) else { return nil }
        do {
            return try FileStoreJSON.decode(LeaseDocument.self, from: bytes)
        } catch {
            throw CoordinationError.storeUnavailable(
                "lock state file \(path) is corrupt (\(Self.describe(error))); its fencing epoch is unknown, so lock \(name) cannot be granted until the file is repaired")
        }
    }

    private func writeLease(_ name: String, _ document: LeaseDocument) throws {
        try AtomicFile.write(try FileStoreJSON.encode(document), to: try layout.leaseFile(name))
    }

    // MARK: Registry

    public func snapshot(trustDomain: String) async throws -> RegistrySnapshot {
        let path = try layout.registryFile(trustDomain)
        return try storeCall { try loadRegistry(trustDomain, path: path) }
    }

    public func update<T: Sendable>(trustDomain: String, fence: Fence?,
                                    _ mutate: @Sendable (inout [KeyRecord]) throws -> T) async throws -> (result: T, snapshot: RegistrySnapshot) {
        let path = try layout.registryFile(trustDomain)
        let lockPath = try layout.registryLockFile(trustDomain)
        if let fence { _ = try layout.lockFile(fence.lock) }
        let guardFile = try await BlockingCalls.run {
            try self.storeCall {
                let file = try OpenFile.open(lockPath, flags: O_RDWR | O_CREAT)
                try file.lockExclusive()
                return file
            }
        }
        defer { guardFile.unlock() }
        let current = try storeCall { try loadRegistry(trustDomain, path: path) }
        if let fence { try storeCall { try checkFence(fence) } }
        var records = current.records
        let result = try mutate(&records)
        guard records != current.records else { return (result, current) }
        guard current.sequence < UInt64.max else {
            throw CoordinationError.storeUnavailable("registry sequence of \(trustDomain) is exhausted in \(path)")
        }
        let next = RegistryDocument(trustDomain: trustDomain, sequence: current.sequence + 1, records: records)
        try storeCall {
            try AtomicFile.write(try FileStoreJSON.encode(next), to: path)
            // Cache what was just written; this process made the change, no re-read needed.
            if let file = try OpenFile.openIfExists(path) {
                let identity = try file.identity()
                registries.withLock { $0[trustDomain] = CachedRegistry(file: file, identity: identity, snapshot: next.snapshot) }
            }
        }
        return (result, next.snapshot)
    }

    public func waitForChange(trustDomain: String, after: UInt64, timeout: Duration) async throws -> UInt64 {
        let path = try layout.registryFile(trustDomain)
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: max(timeout, .zero))
        while true {
            let sequence = try storeCall { try loadRegistry(trustDomain, path: path).sequence }
            let remaining = deadline - clock.now
            if sequence != after || remaining <= .zero { return sequence }
            try await Task.sleep(for: min(Self.changePollInterval, remaining))
        }
    }

    /// Refuses a fence unless its token is the lock's epoch and its lease is still live
    /// (not expired, holder alive). Called with the registry flock held, so the check and
    /// the write are one step for every other writer.
    private func checkFence(_ fence: Fence) throws {
        let document = try readLease(fence.lock)
        let current = document?.token ?? 0
        let stale = CoordinationError.staleFence(lock: fence.lock, presented: fence.token, current: current)
        guard fence.token == current else { throw stale }
        let endedHere = leases.withLock { table -> Bool in
            guard table.granted[fence.lock] == fence.token else { return false }
            guard let held = table.held[fence.lock], held.lease.fencingToken == fence.token else { return true }
            return held.lease.expiresAt <= Date()
        }
        guard !endedHere else { throw stale }
        // A lease from another instance: released, expired or dead, its token fences nothing.
        guard let lease = document?.lease, try isLive(fence.lock, lease, now: Date()) else { throw stale }
    }

    /// The registry document, parsed at most once per version of the file.
    private func loadRegistry(_ trustDomain: String, path: String) throws -> RegistrySnapshot {
        let onDisk = try FileIdentity.of(path)
        if let onDisk, let cached = registries.withLock({ $0[trustDomain] }), cached.identity == onDisk {
            return cached.snapshot
        }
        guard let file = try OpenFile.openIfExists(path) else {
            registries.withLock { $0[trustDomain] = nil }
            return RegistrySnapshot(records: [], sequence: 0)
        }
        let identity = try file.identity()
        let document: RegistryDocument
        do {
            document = try FileStoreJSON.decode(RegistryDocument.self, from: try file.readAll())
        } catch let error as FileError {
            throw error
        } catch {
            throw CoordinationError.storeUnavailable(
                "registry file \(path) is corrupt or truncated (\(Self.describe(error))); restore it from a backup, or move it away to start an empty registry")
        }
        guard document.format == 1, document.trustDomain == trustDomain else {
            throw CoordinationError.storeUnavailable(
                "registry file \(path) holds format \(document.format) of trust domain \(document.trustDomain), expected format 1 of \(trustDomain)")
        }
        let snapshot = document.snapshot
        registries.withLock { $0[trustDomain] = CachedRegistry(file: file, identity: identity, snapshot: snapshot) }
        return snapshot
    }

    public func registryIdentity(trustDomain: String) async throws -> String {
        let path = try layout.registryIdentityFile(trustDomain)
        return try storeCall {
            // The first instance to get here creates it; every later one reads the same.
            _ = try AtomicFile.createExclusive(Array(SecureRandom.hexToken().utf8), at: path)
            let identity = try AtomicFile.read(path, limit: 256).map { String(decoding: $0, as: UTF8.self) } ?? ""
            guard !identity.isEmpty else {
                throw CoordinationError.storeUnavailable("registry identity file \(path) is empty or missing")
            }
            return identity
        }
    }

    // MARK: Health and shutdown

    public func healthCheck() async -> Result<Void, CoordinationError> {
        do {
            for directory in [layout.locksDirectory, layout.registryDirectory] {
                let probe = "\(directory)/.health-\(SecureRandom.hexToken(bytes: 8))"
                try AtomicFile.write(Array("ok".utf8), to: probe)
                try AtomicFile.remove(probe)
            }
            return .success(())
        } catch {
            return .failure(.storeUnavailable("file store state directory \(directory) is not writable: \(error)"))
        }
    }

    public func close() async {
        leases.withLock { table in
            for held in table.held.values { end(held) }
            table.held.removeAll()
        }
    }

    // MARK: Helpers

    /// Runs file operations, reporting system-call failures as `.storeUnavailable`.
    private func storeCall<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as CoordinationError {
            throw error
        } catch {
            throw CoordinationError.storeUnavailable("file store: \(error)")
        }
    }


    /// A one-line reason for a JSON decoding failure.
    private static func describe(_ error: Error) -> String {
        switch error {
        case DecodingError.dataCorrupted(let context): return context.debugDescription
        case DecodingError.keyNotFound(let key, _): return "missing field \(key.stringValue)"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            let field = context.codingPath.map(\.stringValue).joined(separator: ".")
            return "bad value at \(field): \(context.debugDescription)"
        default: return "\(error)"
        }
    }
}
