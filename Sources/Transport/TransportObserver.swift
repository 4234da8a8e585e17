/// Connection and TLS events for metrics and logging, called on the loops' threads:
/// implementations must be quick and must not block.
public protocol TransportObserver: Sendable {
    func connectionOpened(listener: String)
    func connectionClosed(listener: String)
    /// A connection was refused at accept; `reason` is e.g. "max_connections".
    func connectionRejected(listener: String, reason: String)
    /// A TLS listener's certificate files changed: `error` is nil when the new context is in
    /// use, otherwise why it was refused (the previous context stays in use).
    func tlsContextReloaded(listener: String, error: TLSError?)
}

extension TransportObserver {
    /// Default: reloads are not reported.
    public func tlsContextReloaded(listener: String, error: TLSError?) {}
}
