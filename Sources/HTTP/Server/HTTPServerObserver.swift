import HTTPTypes
import Transport

/// Hooks for metrics and logging, called on the server's I/O threads: implementations must
/// be quick and must not block. Connection events come from the transport below.
public protocol HTTPServerObserver: TransportObserver {
    /// A response was queued for a request; `duration` runs from the complete request head.
    /// `routeTemplate` is nil for requests no route matched or the parser refused.
    func requestCompleted(listener: String, method: HTTPRequest.Method, routeTemplate: String?, status: Int, duration: Duration)
}
