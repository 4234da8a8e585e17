/// The bounds the event loops enforce below any protocol; a protocol's own limits value
/// (HTTP's `ServerLimits`) documents and sets them.
public struct TransportLimits: Sendable {
    /// Open connections across all listeners; one beyond it is accepted and closed at once.
    public var maxConnections: Int
    /// TLS handshakes in progress across all listeners; a TLS connection beyond it is
    /// accepted and closed at once.
    public var maxTLSHandshakes: Int
    /// Time a TLS client has to complete its handshake, counted from accept.
    public var tlsHandshakeTimeout: Duration

    public init(maxConnections: Int, maxTLSHandshakes: Int, tlsHandshakeTimeout: Duration) {
        self.maxConnections = maxConnections
        self.maxTLSHandshakes = maxTLSHandshakes
        self.tlsHandshakeTimeout = tlsHandshakeTimeout
    }
}

extension Duration {
    /// Whole nanoseconds, saturating; for deadlines on the monotonic clock.
    public var nanoseconds: UInt64 {
        let (seconds, attoseconds) = components
        if seconds < 0 { return 0 }
        let (product, overflow) = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return UInt64.max / 2 }
        return product + UInt64(attoseconds / 1_000_000_000)
    }
}
