import Dispatch
import Foundation
import Synchronization

/// Wakes `waitForChange` callers when the listener reports a new registry sequence. It also
/// remembers the highest sequence seen per trust domain, so a notification that arrives
/// between a caller's read of the sequence and its registration here is not missed.
final class PGChangeHub: Sendable {
    private struct Waiter {
        var trustDomain: String
        var after: UInt64
        var continuation: CheckedContinuation<UInt64?, Never>
    }

    private struct State {
        var waiters: [Int: Waiter] = [:]
        var nextID = 0
        var latest: [String: UInt64] = [:]
    }

    private let state = Mutex(State())

    /// Returns a sequence > `after` as soon as one is notified, or nil at `deadline` or when
    /// the listener reconnected (notifications may have been lost: re-read from the table).
    func wait(trustDomain: String, after: UInt64, deadline: Date) async -> UInt64? {
        let id = state.withLock { state -> Int in
            state.nextID += 1
            return state.nextID
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<UInt64?, Never>) in
                let known = state.withLock { state -> UInt64? in
                    if let latest = state.latest[trustDomain], latest > after { return latest }
                    state.waiters[id] = Waiter(trustDomain: trustDomain, after: after, continuation: continuation)
                    return nil
                }
                if let known {
                    continuation.resume(returning: known)
                    return
                }
                let delay = max(0, deadline.timeIntervalSinceNow)
                DispatchQueue.global().asyncAfter(deadline: .now() + delay) { [self] in resume(id, with: nil) }
            }
        } onCancel: {
            resume(id, with: nil)
        }
    }

    /// A committed change of `trustDomain` reached sequence `sequence`.
    func notify(trustDomain: String, sequence: UInt64) {
        let woken = state.withLock { state -> [CheckedContinuation<UInt64?, Never>] in
            state.latest[trustDomain] = max(state.latest[trustDomain] ?? 0, sequence)
            let ids = state.waiters.filter { $0.value.trustDomain == trustDomain && $0.value.after < sequence }.map(\.key)
            return ids.compactMap { state.waiters.removeValue(forKey: $0)?.continuation }
        }
        woken.forEach { $0.resume(returning: sequence) }
    }

    /// Notifications may have been lost (the listener reconnected): wake every waiter so it
    /// re-reads the sequence from the database.
    func resyncAll() {
        let woken = state.withLock { state -> [CheckedContinuation<UInt64?, Never>] in
            let all = state.waiters.values.map(\.continuation)
            state.waiters.removeAll()
            return all
        }
        woken.forEach { $0.resume(returning: nil) }
    }

    private func resume(_ id: Int, with value: UInt64?) {
        let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
        waiter?.continuation.resume(returning: value)
    }
}
