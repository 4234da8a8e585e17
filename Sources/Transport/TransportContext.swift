import Synchronization

/// What every event loop of one server shares: the transport's limits and observer, and the
/// counters that span loops (open connections, TLS handshakes, the shutdown flag).
public final class TransportContext: Sendable {
    public let limits: TransportLimits
    public let observer: (any TransportObserver)?
    public let connectionCount = Atomic<Int>(0)
    public let shuttingDown = Atomic<Bool>(false)
    /// TLS connections whose handshake has not completed.
    let tlsHandshakes = Atomic<Int>(0)
    private let acceptSequence = Atomic<Int>(0)
    /// How often each loop checks its connections' deadlines: the protocol above knows its
    /// timeouts, so it chooses.
    public let sweepNanoseconds: UInt64

    public init(limits: TransportLimits, observer: (any TransportObserver)?, sweepNanoseconds: UInt64) {
        self.limits = limits
        self.observer = observer
        self.sweepNanoseconds = sweepNanoseconds
    }

    public var isShuttingDown: Bool { shuttingDown.load(ordering: .relaxed) }

    /// The loop the next accepted connection goes to, round-robin.
    func nextLoopIndex(count: Int) -> Int {
        (acceptSequence.wrappingAdd(1, ordering: .relaxed).oldValue & Int.max) % count
    }
}
