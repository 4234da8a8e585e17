import Core
import Crypto
import Foundation

/// The `CoordinationStore` contract as executable checks, shared by every store.
///
/// Give it a factory whose instances share one backing state (one directory, one
/// database), as separate keycoord instances would. Each check makes two instances, uses
/// lock names and trust domains of its own, and closes both instances at the end, so
/// checks may run in any order against the same backing state. A violated expectation
/// throws `ConformanceFailure`. Run each check as its own test case:
///
///     @Test(arguments: StoreConformance.Check.allCases)
///     func conformance(_ check: StoreConformance.Check) async throws {
///         try await StoreConformance { try FileStore(directory: dir, instanceID: ...) }.run(check)
///     }
///
/// Record dates are whole seconds so stores with coarser time types (PostgreSQL keeps
/// microseconds) round-trip them exactly. Timing assertions are loose bounds.
public struct StoreConformance: Sendable {
    public typealias Factory = @Sendable () async throws -> any CoordinationStore

    /// A lease held by another process on the same backing state, frozen (SIGSTOP) right
    /// after it was granted: it never renews, releases or exits by itself.
    public struct FrozenLease: Sendable {
        public let fencingToken: UInt64
        public let expiresAt: Date
        /// Ends the frozen process (SIGKILL); called once the check is done.
        public let end: @Sendable () async -> Void

        public init(fencingToken: UInt64, expiresAt: Date, end: @escaping @Sendable () async -> Void) {
            self.fencingToken = fencingToken
            self.expiresAt = expiresAt
            self.end = end
        }
    }

    /// Starts a process that acquires `lock` for `ttl` and freezes it.
    public typealias FrozenHolder = @Sendable (_ lock: String, _ ttl: Duration) async throws -> FrozenLease

    /// How late, after a frozen holder's expiry, every instance must see its lock free and
    /// be able to take it: the stores document their own, smaller, bounds (0.5 s at most);
    /// this one leaves room for a loaded test machine.
    public static let frozenHolderBound: TimeInterval = 2.0

    public enum Check: String, CaseIterable, Sendable, CustomStringConvertible {
        case fencingTokensIncreaseAcrossInstances
        case heldLockReportsHolder
        case waitSucceedsWhenReleasedInTime
        case unknownLeaseIsNotFound
        case renewExtendsLease
        case leaseExpiryFreesLock
        case invalidLockNameIsRefused
        case concurrentUpdatesLoseNothing
        case staleFenceWritesNothing
        case releasedLeaseFenceWritesNothing
        case noOpAndFailedUpdatesWriteNothing
        case waitForChangeWakesOnOtherInstancesWrite
        case snapshotKeepsOrder
        case frozenHolderLosesItsLockAtExpiry
        case waitForChangeAnswersAnySequenceButAfterAtOnce
        case registryIdentityIsStable
        case taintReasonRoundTrips

        public var description: String { rawValue }
    }

    private let makeStore: Factory
    private let frozenHolder: FrozenHolder?

    /// `frozenHolder` is required by `frozenHolderLosesItsLockAtExpiry` (which fails without it).
    public init(_ makeStore: @escaping Factory, frozenHolder: FrozenHolder? = nil) {
        self.makeStore = makeStore
        self.frozenHolder = frozenHolder
    }

    public func run(_ check: Check) async throws {
        let a = try await makeStore()
        let b: any CoordinationStore
        do {
            b = try await makeStore()
        } catch {
            await a.close()
            throw error
        }
        let names = Names(check)
        do {
            try await body(of: check)(a, b, names)
        } catch {
            await a.close()
            await b.close()
            throw error
        }
        await a.close()
        await b.close()
    }

    private func body(of check: Check) -> @Sendable (any CoordinationStore, any CoordinationStore, Names) async throws -> Void {
        switch check {
        case .fencingTokensIncreaseAcrossInstances: return Self.fencingTokensIncreaseAcrossInstances
        case .heldLockReportsHolder: return Self.heldLockReportsHolder
        case .waitSucceedsWhenReleasedInTime: return Self.waitSucceedsWhenReleasedInTime
        case .unknownLeaseIsNotFound: return Self.unknownLeaseIsNotFound
        case .renewExtendsLease: return Self.renewExtendsLease
        case .leaseExpiryFreesLock: return Self.leaseExpiryFreesLock
        case .invalidLockNameIsRefused: return Self.invalidLockNameIsRefused
        case .concurrentUpdatesLoseNothing: return Self.concurrentUpdatesLoseNothing
        case .staleFenceWritesNothing: return Self.staleFenceWritesNothing
        case .releasedLeaseFenceWritesNothing: return Self.releasedLeaseFenceWritesNothing
        case .noOpAndFailedUpdatesWriteNothing: return Self.noOpAndFailedUpdatesWriteNothing
        case .waitForChangeWakesOnOtherInstancesWrite: return Self.waitForChangeWakesOnOtherInstancesWrite
        case .snapshotKeepsOrder: return Self.snapshotKeepsOrder
        case .waitForChangeAnswersAnySequenceButAfterAtOnce: return Self.waitForChangeAnswersAnySequenceButAfterAtOnce
        case .registryIdentityIsStable: return Self.registryIdentityIsStable
        case .taintReasonRoundTrips: return Self.taintReasonRoundTrips
        case .frozenHolderLosesItsLockAtExpiry:
            let frozenHolder = self.frozenHolder
            return { a, b, n in try await Self.frozenHolderLosesItsLockAtExpiry(a, b, n, frozenHolder) }
        }
    }

    // MARK: Locks

    static func fencingTokensIncreaseAcrossInstances(_ a: any CoordinationStore, _ b: any CoordinationStore, _ n: Names) async throws {
        var last: UInt64 = 0
        for round in 0..<6 {
            let store = round % 2 == 0 ? a : b
            let lease = try await store.acquire(lock: n.lock, holder: "holder-\(round)", ttl: .seconds(30), wait: .seconds(2))
            try expect(lease.fencingToken > last, "token \(lease.fencingToken) after \(last) did not increase (round \(round))")
            try expect(lease.name == n.lock && lease.holder == "holder-\(round)", "lease names the wrong lock or holder: \(lease)")
            let seen = try await (round % 2 == 0 ? b : a).status(lock: n.lock)
            try expect(seen.fencingToken == lease.fencingToken && seen.holder == "holder-\(round)",
                       "the other instance sees \(seen), expected holder-\(round) with token \(lease.fencingToken)")
            last = lease.fencingToken
            try await store.release(lock: n.lock, leaseID: lease.leaseID)
        }
        let free = try await a.status(lock: n.lock)
        try expect(free.holder == nil && free.fencingToken == last, "released lock shows \(free), expected free with token \(last)")
    }

    static func heldLockReportsHolder(_ a: any CoordinationStore, _ b: any CoordinationStore, _ n: Names) async throws {
        let lease = try await a.acquire(lock: n.lock, holder: "holder-a", ttl: .seconds(30), wait: .zero)
        for store in [b, a] {
            try await expectError("acquire of a held lock", {
                _ = try await store.acquire(lock: n.lock, holder: "holder-b", ttl: .seconds(30), wait: .zero)
            }, where: { error in
                guard case .lockHeld(let name, let holder, let expiresAt) = error else { return false }
                return name == n.lock && holder == "holder-a" && abs(expiresAt.timeIntervalSince(lease.expiresAt)) < 1
            })
        }
        let status = try await b.status(lock: n.lock)
        try expect(status.holder == "holder-a" && status.fencingToken == lease.fencingToken, "status of a held lock: \(status)")
        try expect(abs((status.expiresAt ?? .distantPast).timeIntervalSince(lease.expiresAt)) < 1, "status expiry \(String(describing: status.expiresAt)) vs lease \(lease.expiresAt)")
        try await a.release(lock: n.lock, leaseID: lease.leaseID)
    }

    static func waitSucceedsWhenReleasedInTime(_ a: any CoordinationStore, _ b: any CoordinationStore, _ n: Names) async throws {
        let first = try await a.acquire(lock: n.lock, holder: "first", ttl: .seconds(30), wait: .zero)
        let releaser = Task {
            try await Task.sleep(for: .milliseconds(300))
            try await a.release(lock: n.lock, leaseID: first.leaseID)
        }
        let clock = ContinuousClock()
        let start = clock.now
        let second = try await b.acquire(lock: n.lock, holder: "second", ttl: .seconds(30), wait: .seconds(30))
        let waited = clock.now - start
        try await releaser.value
        try expect(second.fencingToken > first.fencingToken, "token after waiting did not increase")
        try expect(waited >= .milliseconds(200) && waited < .seconds(15), "waited \(waited) for a lock released after 300 ms")
        try await b.release(lock: n.lock, leaseID: second.leaseID)
    }

    static func unknownLeaseIsNotFound(_ a: any CoordinationStore, _ b: any CoordinationStore, _ n: Names) async throws {
        func isNotFound(_ error: CoordinationError) -> Bool {
            if case .leaseNotFound = error { return true }
            return false
        }
        try await expectError("renew of an unknown lease", { _ = try await a.renew(lock: n.lock, leaseID: "no-such-lease", ttl: .seconds(5)) }, where: isNotFound)
        try await expectError("release of an unknown lease", { try await a.release(lock: n.lock, leaseID: "no-such-lease") }, where: isNotFound)
        let lease = try await a.acquire(lock: n.lock, holder: "holder-a", ttl: .seconds(30), wait: .zero)
        try await expectError("renew by an instance that did not grant the lease", {
            _ = try await b.renew(lock: n.lock, leaseID: lease.leaseID, ttl: .seconds(5))
        }, where: isNotFound)
        try await expectError("release by an instance that did not grant the lease", {
            try await b.release(lock: n.lock, leaseID: lease.leaseID)
        }, where: isNotFound)
        try await expectError("renew with a wrong lease id", { _ = try await a.renew(lock: n.lock, leaseID: "other", ttl: .seconds(5)) }, where: isNotFound)
        try await a.release(lock: n.lock, leaseID: lease.leaseID)
        try await expectError("second release", { try await a.release(lock: n.lock, leaseID: lease.leaseID) }, where: isNotFound)
        try await expectError("renew after release", { _ = try await a.renew(lock: n.lock, leaseID: lease.leaseID, ttl: .seconds(5)) }, where: isNotFound)
    }

    static func renewExtendsLease(_ a: any CoordinationStore, _ b: any CoordinationStore, _ n: Names) async throws {
        let lease = try await a.acquire(lock: n.lock, holder: "holder-a", ttl: .milliseconds(800), wait: .zero)
        let renewed = try await a.renew(lock: n.lock, leaseID: lease.leaseID, ttl: .seconds(30))
        try expect(renewed.leaseID == lease.leaseID && renewed.fencingToken == lease.fencingToken, "renew changed the lease id or token: \(renewed)")
        try expect(renewed.expiresAt > lease.expiresAt.addingTimeInterval(20), "renew did not extend: \(renewed.expiresAt) vs \(lease.expiresAt)")
        try await Task.sleep(for: .milliseconds(1500))
        try await expectError("acquire after the original ttl of a renewed lease", {
            _ = try await b.acquire(lock: n.lock, holder: "holder-b", ttl: .seconds(5), wait: .zero)
        }, where: { if case .lockHeld(_, "holder-a", _) = $0 { return true } else { return false } })
        let status = try await b.status(lock: n.lock)
        try expect(abs((status.expiresAt ?? .distantPast).timeIntervalSince(renewed.expiresAt)) < 1, "other instance sees expiry \(String(describing: status.expiresAt)), renewed to \(renewed.expiresAt)")
        try await a.release(lock: n.lock, leaseID: lease.leaseID)
    }

    static func leaseExpiryFreesLock(_ a: any CoordinationStore, _ b: any CoordinationStore, _ n: Names) async throws {
        let lease = try await a.acquire(lock: n.lock, holder: "short", ttl: .milliseconds(300), wait: .zero)
        let next = try await b.acquire(lock: n.lock, holder: "next", ttl: .seconds(30), wait: .seconds(10))
        try expect(next.fencingToken > lease.fencingToken, "token after expiry did not increase")
        func isNotFound(_ error: CoordinationError) -> Bool {
            if case .leaseNotFound = error { return true }
            return false
        }
        try await expectError("renew of an expired lease", { _ = try await a.renew(lock: n.lock, leaseID: lease.leaseID, ttl: .seconds(5)) }, where: isNotFound)
        try await expectError("release of an expired lease", { try await a.release(lock: n.lock, leaseID: lease.leaseID) }, where: isNotFound)
        try await b.release(lock: n.lock, leaseID: next.leaseID)
    }

    /// A holder that stops answering (SIGSTOP) loses its lock at its expiry without its
    /// cooperation: every instance sees the lock free, can take it with a larger token, and
    /// the frozen holder's token fences nothing.
    static func frozenHolderLosesItsLockAtExpiry(_ a: any CoordinationStore, _ b: any CoordinationStore, _ n: Names,
                                                 _ frozenHolder: FrozenHolder?) async throws {
        guard let frozenHolder else { throw ConformanceFailure("this check needs a frozen-holder factory") }
        // Long enough that a loaded machine still checks the lease while it runs.
        let frozen = try await frozenHolder(n.lock, .seconds(6))
        do {
            let during = try await a.status(lock: n.lock)
            try expect(during.holder != nil && during.fencingToken == frozen.fencingToken, "while the lease runs: \(during)")
            try await expectError("acquire while the frozen lease runs", {
                _ = try await b.acquire(lock: n.lock, holder: "b", ttl: .seconds(30), wait: .zero)
            }, where: { if case .lockHeld = $0 { return true } else { return false } })
            let untilExpiry = frozen.expiresAt.timeIntervalSinceNow
            if untilExpiry > 0 { try await Task.sleep(for: .milliseconds(Int(untilExpiry * 1000) + 1)) }
            // Status: free on every instance.
            var seenFree: Date?
            while seenFree == nil, Date().timeIntervalSince(frozen.expiresAt) < frozenHolderBound * 3 {
                let viewA = try await a.status(lock: n.lock), viewB = try await b.status(lock: n.lock)
                if viewA.holder == nil, viewB.holder == nil { seenFree = Date() } else { try await Task.sleep(for: .milliseconds(10)) }
            }
            guard let seenFree else { throw ConformanceFailure("the frozen holder's lock never showed free") }
            let freeAfter = seenFree.timeIntervalSince(frozen.expiresAt)
            // The frozen holder's token writes nothing, even before anyone takes the lock.
            try await expectError("update fenced by the frozen holder's token", {
                _ = try await a.update(trustDomain: n.trustDomain, fence: Fence(lock: n.lock, token: frozen.fencingToken)) {
                    $0.append(try SampleRecords(trustDomain: n.trustDomain, count: 1).all[0])
                }
            }, where: { if case .staleFence = $0 { return true } else { return false } })
            // Acquire without asking to wait.
            let lease = try await b.acquire(lock: n.lock, holder: "b", ttl: .seconds(30), wait: .zero)
            let acquiredAfter = Date().timeIntervalSince(frozen.expiresAt)
            try expect(lease.fencingToken > frozen.fencingToken, "token \(lease.fencingToken) after the frozen \(frozen.fencingToken)")
            try expect(freeAfter <= frozenHolderBound && acquiredAfter <= frozenHolderBound,
                       "frozen holder's lock freed late: status \(freeAfter) s, acquire \(acquiredAfter) s after expiry")
            print("frozen holder: \(type(of: a)) showed the lock free \(Int(freeAfter * 1000)) ms and granted it "
                  + "\(Int(acquiredAfter * 1000)) ms after the lease's expiry")
            try await expectError("update fenced by the frozen holder's token after a new acquire", {
                _ = try await a.update(trustDomain: n.trustDomain, fence: Fence(lock: n.lock, token: frozen.fencingToken)) { $0 = [] }
            }, where: { if case .staleFence = $0 { return true } else { return false } })
            try expect(try await a.snapshot(trustDomain: n.trustDomain).records.isEmpty, "a stale fence wrote")
            try await b.release(lock: n.lock, leaseID: lease.leaseID)
        } catch {
            await frozen.end()
            throw error
        }
        await frozen.end()
    }

    static func invalidLockNameIsRefused(_ a: any CoordinationStore, _ b: any CoordinationStore, _ n: Names) async throws {
        for name in ["", "../escape", "a/b", "space name", String(repeating: "x", count: 201), "nul\u{0}"] {
            try await expectError("acquire of lock \(name.debugDescription)", {
                _ = try await a.acquire(lock: name, holder: "h", ttl: .seconds(5), wait: .zero)
            }, where: { if case .invalid = $0 { return true } else { return false } })
        }
    }

    // MARK: Registry

    static func concurrentUpdatesLoseNothing(_ a: any CoordinationStore, _ b: any CoordinationStore, _ n: Names) async throws {
        let records = try SampleRecords(trustDomain: n.trustDomain, count: 50)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, record) in records.all.enumerated() {
                let store = index % 2 == 0 ? a : b
                group.addTask {
                    _ = try await store.update(trustDomain: n.trustDomain, fence: nil) { current in
                        current.append(record)
                    }
                }
            }
            try await group.waitForAll()
        }
        let seenByA = try await a.snapshot(trustDomain: n.trustDomain)
        let seenByB = try await b.snapshot(trustDomain: n.trustDomain)
        try expect(seenByA == seenByB, "instances disagree after concurrent updates")
        try expect(Set(seenByA.records.map(\.kid)) == Set(records.all.map(\.kid)) && seenByA.records.count == 50,
                   "lost or duplicated updates: \(seenByA.records.count) records of 50")
        try expect(seenByA.sequence == 50, "sequence \(seenByA.sequence) after 50 committed changes")
    }

    static func staleFenceWritesNothing(_ a: any CoordinationStore, _ b: any CoordinationStore, _ n: Names) async throws {
        let records = try SampleRecords(trustDomain: n.trustDomain, count: 3)
        let old = try await a.acquire(lock: n.lock, holder: "old", ttl: .seconds(30), wait: .zero)
        let (_, first) = try await a.update(trustDomain: n.trustDomain, fence: Fence(lock: n.lock, token: old.fencingToken)) {
            $0.append(records.all[0])
        }
        try expect(first.records == [records.all[0]], "fenced write with the current token was not applied")
        try await a.release(lock: n.lock, leaseID: old.leaseID)
        let current = try await b.acquire(lock: n.lock, holder: "new", ttl: .seconds(30), wait: .seconds(2))
        for store in [a, b] {
            try await expectError("write with a superseded fencing token", {
                _ = try await store.update(trustDomain: n.trustDomain, fence: Fence(lock: n.lock, token: old.fencingToken)) {
                    $0.append(records.all[1])
                }
            }, where: { error in
                guard case .staleFence(let lock, let presented, let latest) = error else { return false }
                return lock == n.lock && presented == old.fencingToken && latest == current.fencingToken
            })
        }
        let after = try await b.snapshot(trustDomain: n.trustDomain)
        try expect(after == first, "a refused fenced write changed the registry: \(after.sequence) vs \(first.sequence)")
        let (_, accepted) = try await b.update(trustDomain: n.trustDomain, fence: Fence(lock: n.lock, token: current.fencingToken)) {
            $0.append(records.all[2])
        }
        try expect(accepted.records == [records.all[0], records.all[2]] && accepted.sequence == first.sequence + 1,
                   "fenced write with the latest token: \(accepted.records.map(\.kid)) at \(accepted.sequence)")
        try await b.release(lock: n.lock, leaseID: current.leaseID)
    }

    /// A lease that was released (or expired, or whose holder died) fences nothing, even
    /// while its token is still the latest: a holder that lost its lease without noticing
    /// must not write.
    static func releasedLeaseFenceWritesNothing(_ a: any CoordinationStore, _ b: any CoordinationStore, _ n: Names) async throws {
        let records = try SampleRecords(trustDomain: n.trustDomain, count: 1)
        let lease = try await a.acquire(lock: n.lock, holder: "gone", ttl: .seconds(30), wait: .zero)
        try await a.release(lock: n.lock, leaseID: lease.leaseID)
        let before = try await b.snapshot(trustDomain: n.trustDomain)
        for store in [a, b] {
            try await expectError("write fenced by a released lease", {
                _ = try await store.update(trustDomain: n.trustDomain, fence: Fence(lock: n.lock, token: lease.fencingToken)) {
                    $0.append(records.all[0])
                }
            }, where: { error in
                guard case .staleFence(let lock, let presented, _) = error else { return false }
                return lock == n.lock && presented == lease.fencingToken
            })
        }
        try expect(try await b.snapshot(trustDomain: n.trustDomain) == before, "a write fenced by a released lease changed the registry")
    }

    /// A follower that last saw a sequence the registry no longer has (it went back in a
    /// failover) learns of it at once instead of waiting for the sequence to climb past it.
    static func waitForChangeAnswersAnySequenceButAfterAtOnce(_ a: any CoordinationStore, _ b: any CoordinationStore, _ n: Names) async throws {
        let records = try SampleRecords(trustDomain: n.trustDomain, count: 1)
        _ = try await a.update(trustDomain: n.trustDomain, fence: nil) { $0.append(records.all[0]) }
        let started = ContinuousClock.now
        let sequence = try await b.waitForChange(trustDomain: n.trustDomain, after: 7, timeout: .seconds(5))
        try expect(sequence == 1 && ContinuousClock.now - started < .seconds(2),
                   "waitForChange(after: 7) at sequence 1 answered \(sequence) after \(ContinuousClock.now - started)")
    }

    static func registryIdentityIsStable(_ a: any CoordinationStore, _ b: any CoordinationStore, _ n: Names) async throws {
        async let first = a.registryIdentity(trustDomain: n.trustDomain)
        async let second = b.registryIdentity(trustDomain: n.trustDomain)
        let (one, two) = try await (first, second)
        try expect(!one.isEmpty && one == two, "two instances saw identities \(one) and \(two)")
        try expect(try await a.registryIdentity(trustDomain: n.trustDomain) == one, "the identity changed")
        try expect(try await a.registryIdentity(trustDomain: "other-" + n.trustDomain) != one, "two trust domains share an identity")
    }

    static func noOpAndFailedUpdatesWriteNothing(_ a: any CoordinationStore, _ b: any CoordinationStore, _ n: Names) async throws {
        let records = try SampleRecords(trustDomain: n.trustDomain, count: 2)
        let empty = try await a.snapshot(trustDomain: n.trustDomain)
        try expect(empty.records.isEmpty && empty.sequence == 0, "an unused trust domain is not empty: \(empty)")
        let (count, written) = try await a.update(trustDomain: n.trustDomain, fence: nil) { current -> Int in
            current.append(records.all[0])
            return current.count
        }
        try expect(count == 1 && written.sequence == 1, "update result \(count), sequence \(written.sequence)")
        let (_, unchanged) = try await b.update(trustDomain: n.trustDomain, fence: nil) { _ in }
        try expect(unchanged == written, "an update that changed nothing moved the registry to \(unchanged.sequence)")
        struct Refusal: Error {}
        do {
            _ = try await b.update(trustDomain: n.trustDomain, fence: nil) { current in
                current.append(records.all[1])
                throw Refusal()
            }
            throw ConformanceFailure("an update whose closure threw did not rethrow")
        } catch is Refusal {}
        let after = try await a.snapshot(trustDomain: n.trustDomain)
        try expect(after == written, "a failed update changed the registry")
    }

    static func waitForChangeWakesOnOtherInstancesWrite(_ a: any CoordinationStore, _ b: any CoordinationStore, _ n: Names) async throws {
        let records = try SampleRecords(trustDomain: n.trustDomain, count: 1)
        let clock = ContinuousClock()
        var start = clock.now
        let idle = try await b.waitForChange(trustDomain: n.trustDomain, after: 0, timeout: .milliseconds(300))
        let idleTime = clock.now - start
        try expect(idle == 0 && idleTime >= .milliseconds(250) && idleTime < .seconds(15), "idle wait returned \(idle) after \(idleTime)")
        let writer = Task {
            try await Task.sleep(for: .milliseconds(200))
            return try await a.update(trustDomain: n.trustDomain, fence: nil) { $0.append(records.all[0]) }.snapshot.sequence
        }
        start = clock.now
        let woken = try await b.waitForChange(trustDomain: n.trustDomain, after: 0, timeout: .seconds(30))
        let wokenAfter = clock.now - start
        let written = try await writer.value
        try expect(woken == written && woken > 0, "waitForChange returned \(woken), the write committed \(written)")
        // Well below the timeout: the write woke the waiter, the timeout did not.
        try expect(wokenAfter < .seconds(15), "waitForChange took \(wokenAfter) to see a write made after 200 ms")
        let immediate = try await b.waitForChange(trustDomain: n.trustDomain, after: 0, timeout: .seconds(10))
        try expect(immediate == written, "waitForChange with an old sequence must return at once with the current one")
    }

    static func snapshotKeepsOrder(_ a: any CoordinationStore, _ b: any CoordinationStore, _ n: Names) async throws {
        let records = try SampleRecords(trustDomain: n.trustDomain, count: 4)
        let order = [records.all[2], records.all[0], records.all[3]]
        _ = try await a.update(trustDomain: n.trustDomain, fence: nil) { $0.append(contentsOf: order) }
        let (_, written) = try await b.update(trustDomain: n.trustDomain, fence: nil) { $0.append(records.all[1]) }
        let seen = try await a.snapshot(trustDomain: n.trustDomain)
        try expect(seen.records.map(\.kid) == (order + [records.all[1]]).map(\.kid), "order not kept: \(seen.records.map(\.kid))")
        try expect(seen == written, "snapshot differs from what the update returned")
        let changed = {
            var record = records.all[0]
            record.state = .active
            record.tainted = true
            record.activatedAt = record.createdAt.addingTimeInterval(60)
            record.fencingToken = 7
            return record
        }()
        _ = try await b.update(trustDomain: n.trustDomain, fence: nil) { current in
            if let index = current.firstIndex(where: { $0.kid == changed.kid }) { current[index] = changed }
        }
        let final = try await a.snapshot(trustDomain: n.trustDomain)
        try expect(final.records.map(\.kid) == seen.records.map(\.kid) && final.records[1] == changed,
                   "an in-place change moved or lost a record")
    }

    /// A taint reason (any text the API accepts: quotes, newlines, non-ASCII, 1024 bytes) is
    /// kept as given, seen by the other instance, changed in place and cleared; a record
    /// without one reads back with none.
    static func taintReasonRoundTrips(_ a: any CoordinationStore, _ b: any CoordinationStore, _ n: Names) async throws {
        let records = try SampleRecords(trustDomain: n.trustDomain, count: 3)
        let reasons: [String?] = [
            "incident 42: \"leaked\" on host-b\n\tsee ticket \\OPS-7 — schlüssel 🔑",
            String(repeating: "r", count: 1024),
            nil,
        ]
        let tainted = zip(records.all, reasons).map { record, reason in
            var record = record
            record.tainted = reason != nil
            record.taintReason = reason
            return record
        }
        _ = try await a.update(trustDomain: n.trustDomain, fence: nil) { $0.append(contentsOf: tainted) }
        let seen = try await b.snapshot(trustDomain: n.trustDomain)
        try expect(seen.records.map(\.taintReason) == reasons, "taint reasons read back as \(seen.records.map(\.taintReason))")
        try expect(seen.records == tainted, "a record with a taint reason did not read back equal")
        _ = try await b.update(trustDomain: n.trustDomain, fence: nil) { current in
            current[0].taintReason = "replaced"
            current[1].taintReason = nil
        }
        let final = try await a.snapshot(trustDomain: n.trustDomain)
        try expect(final.records.map(\.taintReason) == ["replaced", nil, nil],
                   "changed reasons read back as \(final.records.map(\.taintReason))")
    }

    // MARK: Support

    /// Names unique to one run of one check.
    struct Names: Sendable {
        let lock: String
        let trustDomain: String

        init(_ check: Check) {
            let suffix = SecureRandom.hexToken(bytes: 6)
            lock = "conformance:\(check.rawValue):\(suffix)"
            trustDomain = "c\(suffix).conformance.example.org"
        }
    }

    /// Distinct records with real public keys and whole-second dates.
    struct SampleRecords: Sendable {
        let all: [KeyRecord]

        init(trustDomain: String, count: Int) throws {
            let key = try PrivateKey.generate(.ecP256).publicKey.der
            let now = Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down))
            all = (0..<count).map { index in
                KeyRecord(trustDomain: trustDomain, kid: "kid-\(index)-\(SecureRandom.hexToken(bytes: 4))", keyType: .ecP256,
                          publicKey: key, backend: "external", backendRef: nil, createdAt: now, publishedAt: now,
                          notAfter: now.addingTimeInterval(86_400), state: .published, createdBy: "server-\(index % 3)")
            }
        }
    }

    static func expect(_ condition: Bool, _ message: @autoclosure () -> String, line: UInt = #line) throws {
        if !condition { throw ConformanceFailure(message(), line: line) }
    }

    /// Runs `body` and requires it to throw a `CoordinationError` accepted by `predicate`.
    static func expectError(_ what: String, _ body: () async throws -> Void,
                            where predicate: (CoordinationError) -> Bool, line: UInt = #line) async throws {
        do {
            try await body()
        } catch let error as CoordinationError {
            if predicate(error) { return }
            throw ConformanceFailure("\(what): unexpected error \(error)", line: line)
        }
        throw ConformanceFailure("\(what): succeeded, expected an error", line: line)
    }
}

/// A violated expectation of a conformance check.
public struct ConformanceFailure: Error, Sendable, CustomStringConvertible {
    public let message: String
    public let line: UInt

    public init(_ message: String, line: UInt = #line) {
        self.message = message
        self.line = line
    }

    public var description: String { "StoreConformance.swift:\(line): \(message)" }
}
