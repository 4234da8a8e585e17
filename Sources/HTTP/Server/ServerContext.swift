import Synchronization

/// What every event loop of one server shares: limits, the observer, and the counters that
/// span loops (open connections, the shutdown flag).
final class ServerContext: Sendable {
    let limits: ServerLimits
    let observer: (any HTTPServerObserver)?
    let connectionCount = Atomic<Int>(0)
    let shuttingDown = Atomic<Bool>(false)
    /// TLS connections whose handshake has not completed.
    let tlsHandshakes = Atomic<Int>(0)
    private let acceptSequence = Atomic<Int>(0)
    /// How long a closing connection keeps reading (and discarding) after its last response,
    /// so the peer receives that response instead of a reset.
    let drainNanoseconds: UInt64
    /// How often each loop checks its connections' deadlines.
    let sweepNanoseconds: UInt64

    init(limits: ServerLimits, observer: (any HTTPServerObserver)?) {
        self.limits = limits
        self.observer = observer
        drainNanoseconds = min(1_000_000_000, max(limits.headerTimeout.nanoseconds, 50_000_000))
        let shortest = [limits.headerTimeout, limits.idleTimeout, limits.bodyTimeout, limits.writeTimeout,
                        limits.tlsHandshakeTimeout]
            .map(\.nanoseconds).min() ?? 1_000_000_000
        sweepNanoseconds = min(max(shortest / 4, 5_000_000), 250_000_000)
    }

    var isShuttingDown: Bool { shuttingDown.load(ordering: .relaxed) }

    /// The loop the next accepted connection goes to, round-robin.
    func nextLoopIndex(count: Int) -> Int {
        (acceptSequence.wrappingAdd(1, ordering: .relaxed).oldValue & Int.max) % count
    }
}
