import Foundation

/// A clock tests move by hand, so key lifetimes of hours run in microseconds.
final class ManualClock: @unchecked Sendable {
    // Guarded by `lock`.
    private let lock = NSLock()
    private var current: Date

    init(_ start: Date = Date(timeIntervalSince1970: 1_800_000_000)) {
        current = start
    }

    var now: Date {
        lock.lock()
        defer { lock.unlock() }
        return current
    }

    func advance(by seconds: TimeInterval) {
        lock.lock()
        current = current.addingTimeInterval(seconds)
        lock.unlock()
    }

    /// The clock as the `@Sendable () -> Date` closures Core takes.
    var function: @Sendable () -> Date { { [self] in self.now } }
}
