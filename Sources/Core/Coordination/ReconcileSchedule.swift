import Foundation

/// Remembers when this instance last reconciled, so `tick()` lists the backend at most
/// once per interval.
final class ReconcileSchedule: @unchecked Sendable {
    // Guarded by `lock`; @unchecked because NSLock-protected state is not visible to the compiler.
    private let lock = NSLock()
    private var last: Date?

    /// True (and records `now`) when a reconciliation is due.
    func due(now: Date, interval: Duration) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        if let last, now.timeIntervalSince(last) < interval.timeInterval, now >= last { return false }
        last = now
        return true
    }
}
