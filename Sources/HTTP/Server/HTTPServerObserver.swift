import HTTPTypes

/// Hooks for metrics and logging, called on the server's I/O threads: implementations must
/// be quick and must not block.
public protocol HTTPServerObserver: Sendable {
    /// A response was queued for a request; `duration` runs from the complete request head.
    /// `routeTemplate` is nil for requests no route matched or the parser refused.
    func requestCompleted(listener: String, method: HTTPRequest.Method, routeTemplate: String?, status: Int, duration: Duration)
    func connectionOpened(listener: String)
    func connectionClosed(listener: String)
    /// A connection was refused at accept; `reason` is e.g. "max_connections".
    func connectionRejected(listener: String, reason: String)
    /// A TLS listener's certificate files changed: `error` is nil when the new context is in
    /// use, otherwise why it was refused (the previous context stays in use).
    func tlsContextReloaded(listener: String, error: TLSError?)
}

extension HTTPServerObserver {
    /// Default: reloads are not reported.
    public func tlsContextReloaded(listener: String, error: TLSError?) {}
}
