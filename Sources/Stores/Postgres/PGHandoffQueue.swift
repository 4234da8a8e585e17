import Foundation
import Synchronization

/// The waiters of this sidecar for locks this sidecar holds or is getting, in arrival order.
///
/// Without it, every waiter of a contended lock queues in PostgreSQL on a session of its own
/// (`pg_advisory_lock`), and each hand-off costs an unlock, the server waking the next
/// session, and that session's epoch bump in a second transaction. With it, a waiter that
/// arrives while a lease on the same name is held here (or while another acquirer of this
/// sidecar is already getting the lock) waits in memory, and the release hands it the
/// holder's session — advisory lock still held — with one statement that bumps the epoch to
/// the new lease. Only one session per name and sidecar ever waits in PostgreSQL, so
/// PostgreSQL's queue orders sidecars and this queue orders a sidecar's own waiters.
///
/// An entry exists while its name has a holder here or a *claim* is open: one acquirer is on
/// its way to PostgreSQL, or a hand-off is in flight. Whoever holds the claim either becomes
/// the holder (`granted`) or gives the claim to the next waiter (`missed`, `vacate`), so a
/// queued waiter is never left without someone ahead of it making progress; each waiter also
/// has its own deadline.
final class PGHandoffQueue: Sendable {
    /// How a caller's turn came.
    enum Turn: Sendable {
        /// Handed over in-process: the lease is registered and live.
        case granted(PGLease)
        /// Go to PostgreSQL and wait at most this long; `claimant` when this caller holds the
        /// name's claim (report back with `granted` or `missed`).
        case postgres(wait: Duration, claimant: Bool)
        /// The wait ran out while queued here.
        case timedOut
        /// The store closed.
        case closed
    }

    /// A queued acquirer: what its lease will be if it is handed the lock.
    struct Waiter: Sendable {
        let holder: String
        let leaseID: String
        let ttl: Duration
        let deadline: Date
        let continuation: CheckedContinuation<Turn, Never>
    }

    private struct Entry {
        var holderLeaseID: String?
        var claimed = false
        var waiters: [Waiter] = []
    }

    private struct State {
        var entries: [String: Entry] = [:]
        var closed = false
    }

    private let state = Mutex(State())
    private let deadlines = PGExpiryTimer()

    init() {
        deadlines.start { [weak self] in self?.expireWaiters() }
    }

    deinit {
        deadlines.cancel()
    }

    /// Where an acquirer of `name` goes: it queues here when this sidecar already holds or is
    /// getting the lock and it is willing to wait; otherwise it goes to PostgreSQL, holding
    /// the claim when no one else does.
    func turn(_ name: String, holder: String, leaseID: String, ttl: Duration, wait: Duration) async -> Turn {
        let deadline = Date().addingTimeInterval(wait.timeInterval)
        return await withCheckedContinuation { continuation in
            let decided = state.withLock { state -> Turn? in
                if state.closed { return .closed }
                if let entry = state.entries[name], entry.holderLeaseID != nil || entry.claimed {
                    // A try without waiting never queues, and cannot take the claim.
                    if wait == .zero { return .postgres(wait: .zero, claimant: false) }
                    state.entries[name]?.waiters.append(Waiter(holder: holder, leaseID: leaseID, ttl: ttl, deadline: deadline,
                                                               continuation: continuation))
                    return nil
                }
                state.entries[name, default: Entry()].claimed = true
                return .postgres(wait: wait, claimant: true)
            }
            if let decided { continuation.resume(returning: decided) } else { deadlines.schedule(at: deadline) }
        }
    }

    /// A lease on `name` was granted here (by PostgreSQL or by a hand-off): it is the holder
    /// the queue waits behind. Called before the lease can expire or be released.
    func granted(_ name: String, leaseID: String, claimant: Bool) {
        state.withLock { state in
            var entry = state.entries[name] ?? Entry()
            entry.holderLeaseID = leaseID
            if claimant { entry.claimed = false }
            state.entries[name] = entry
        }
    }

    /// The PostgreSQL attempt of an acquirer of `name` did not get the lock (wait ran out,
    /// error). A claimant gives the claim to the next waiter.
    func missed(_ name: String, claimant: Bool) {
        guard claimant else { return }
        let next = state.withLock { state -> [(Waiter, Turn)] in
            state.entries[name]?.claimed = false
            return Self.passClaim(name, &state)
        }
        Self.resume(next)
    }

    /// The holder `leaseID` of `name` let go. With `handOff` (a release of a live lease) the
    /// next waiter is returned, the claim open in its name: hand it the lock, or send it to
    /// PostgreSQL with `toPostgres`. Otherwise (expiry, a lost session) the next waiter is sent
    /// to PostgreSQL at once, and nil returned.
    func vacate(_ name: String, leaseID: String, handOff: Bool) -> Waiter? {
        let (waiter, resumes) = state.withLock { state -> (Waiter?, [(Waiter, Turn)]) in
            guard var entry = state.entries[name], entry.holderLeaseID == leaseID else { return (nil, []) }
            entry.holderLeaseID = nil
            state.entries[name] = entry
            guard handOff, !entry.claimed else { return (nil, Self.passClaim(name, &state)) }
            var expired: [(Waiter, Turn)] = []
            let now = Date()
            while let first = state.entries[name]?.waiters.first {
                state.entries[name]?.waiters.removeFirst()
                if first.deadline > now {
                    state.entries[name]?.claimed = true
                    return (first, expired)
                }
                expired.append((first, .timedOut))
            }
            state.entries[name] = nil
            return (nil, expired)
        }
        Self.resume(resumes)
        return waiter
    }

    /// Sends a waiter `vacate` returned to PostgreSQL with what is left of its wait; it holds
    /// the claim.
    func toPostgres(_ waiter: Waiter) {
        waiter.continuation.resume(returning: Self.postgresTurn(waiter, now: Date()))
    }

    /// Ends every wait: the store is closing.
    func close() {
        let waiters = state.withLock { state -> [Waiter] in
            state.closed = true
            defer { state.entries.removeAll() }
            return state.entries.values.flatMap(\.waiters)
        }
        waiters.forEach { $0.continuation.resume(returning: .closed) }
        deadlines.cancel()
    }

    /// Waiters queued for `name` right now (for tests).
    func queued(_ name: String) -> Int {
        state.withLock { $0.entries[name]?.waiters.count ?? 0 }
    }

    /// With no holder and no claim on `name`: the first waiter whose wait has not run out
    /// takes the claim and goes to PostgreSQL; those whose wait ran out are told so; with no
    /// one left the entry goes. Returns the resumptions to make outside the lock.
    private static func passClaim(_ name: String, _ state: inout State) -> [(Waiter, Turn)] {
        guard let entry = state.entries[name], entry.holderLeaseID == nil, !entry.claimed else { return [] }
        var resumes: [(Waiter, Turn)] = []
        let now = Date()
        while let first = state.entries[name]?.waiters.first {
            state.entries[name]?.waiters.removeFirst()
            if first.deadline > now {
                state.entries[name]?.claimed = true
                resumes.append((first, postgresTurn(first, now: now)))
                return resumes
            }
            resumes.append((first, .timedOut))
        }
        state.entries[name] = nil
        return resumes
    }

    /// A waiter's turn in PostgreSQL, holding the claim, with what is left of its wait (one
    /// try if nothing is).
    private static func postgresTurn(_ waiter: Waiter, now: Date) -> Turn {
        let left = max(0, waiter.deadline.timeIntervalSince(now))
        return .postgres(wait: .milliseconds(Int64((left * 1000).rounded(.up))), claimant: true)
    }

    private static func resume(_ resumes: [(Waiter, Turn)]) {
        for (waiter, turn) in resumes { waiter.continuation.resume(returning: turn) }
    }

    /// Tells the waiters whose wait ran out; returns the next deadline.
    private func expireWaiters() -> Date? {
        let now = Date()
        let (due, next) = state.withLock { state -> ([Waiter], Date?) in
            var due: [Waiter] = []
            var next: Date?
            for name in Array(state.entries.keys) {
                state.entries[name]?.waiters.removeAll { waiter in
                    if waiter.deadline <= now {
                        due.append(waiter)
                        return true
                    }
                    if next.map({ waiter.deadline < $0 }) ?? true { next = waiter.deadline }
                    return false
                }
            }
            return (due, next)
        }
        due.forEach { $0.continuation.resume(returning: .timedOut) }
        return next
    }
}
