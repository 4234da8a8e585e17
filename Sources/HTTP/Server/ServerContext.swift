import Synchronization
import Transport

/// What every HTTP connection of one server shares: the HTTP limits, the observer, and the
/// transport's context (open connections, the shutdown flag) that its event loops share.
final class ServerContext: Sendable {
    let limits: ServerLimits
    let observer: (any HTTPServerObserver)?
    let transport: TransportContext
    /// How long a closing connection keeps reading (and discarding) after its last response,
    /// so the peer receives that response instead of a reset.
    let drainNanoseconds: UInt64

    init(limits: ServerLimits, observer: (any HTTPServerObserver)?) {
        self.limits = limits
        self.observer = observer
        drainNanoseconds = min(1_000_000_000, max(limits.headerTimeout.nanoseconds, 50_000_000))
        // The loops' sweep checks deadlines a few times per shortest timeout.
        let shortest = [limits.headerTimeout, limits.idleTimeout, limits.bodyTimeout, limits.writeTimeout,
                        limits.tlsHandshakeTimeout]
            .map(\.nanoseconds).min() ?? 1_000_000_000
        transport = TransportContext(limits: limits.transportLimits, observer: observer,
                                     sweepNanoseconds: min(max(shortest / 4, 5_000_000), 250_000_000))
    }

    var isShuttingDown: Bool { transport.isShuttingDown }
}
