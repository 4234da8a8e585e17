import Dispatch
import Foundation
import Synchronization

/// One timer for all of a store's leases, armed for the earliest expiry. Acquire moves it
/// only when the new lease expires before the armed time, which with one TTL is never: the
/// lock path pays no timer work, where a timer task per lease cost a task start and a
/// cancellation wakeup per lock cycle.
final class PGExpiryTimer: Sendable {
    // nonisolated(unsafe): a Dispatch source is thread-safe; Dispatch does not say so in types.
    nonisolated(unsafe) private let timer: DispatchSourceTimer
    /// The time the timer is armed for; nil when disarmed.
    private let armed = Mutex<Date?>(nil)

    init() {
        timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "keycoord.pg.lease-expiry"))
        // Resumed at once, disarmed: Dispatch traps when a source is released suspended,
        // which a store whose start failed would do.
        timer.schedule(deadline: .distantFuture)
        timer.resume()
    }

    deinit {
        timer.cancel()
    }

    /// Sets what the timer runs: `handler` ends what is due and returns the next expiry.
    func start(_ handler: @escaping @Sendable () -> Date?) {
        timer.setEventHandler { [weak self] in
            self?.armed.withLock { $0 = nil }
            if let next = handler() { self?.schedule(at: next) }
        }
    }

    /// Makes sure the timer fires no later than `date`.
    func schedule(at date: Date) {
        armed.withLock { armed in
            if let current = armed, current <= date { return }
            armed = date
            let delay = max(0, date.timeIntervalSinceNow)
            timer.schedule(deadline: .now() + .nanoseconds(Int(delay * 1e9) + 1_000_000), leeway: .milliseconds(10))
        }
    }

    func cancel() {
        timer.cancel()
    }
}
