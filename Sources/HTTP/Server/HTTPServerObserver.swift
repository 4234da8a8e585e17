import HTTPTypes
import Transport

/// Hooks for metrics and logging, called on the server's I/O threads: implementations must
/// be quick and must not block. Connection events come from the transport below.
public protocol HTTPServerObserver: TransportObserver {
    /// A response was queued for a request; `duration` runs from the read that completed the
    /// request head.
    /// `routeTemplate` is nil for requests no route matched or the parser refused.
    func requestCompleted(listener: String, method: HTTPRequest.Method, routeTemplate: String?, status: Int, duration: Duration)

    /// Where one event loop reports the requests it answers on `listener`. The server asks
    /// once per loop and listener and then calls the recorder only from that loop's thread,
    /// so an observer can keep a shard per loop that no other core writes. The default
    /// forwards to `requestCompleted(listener:…)`.
    func requestRecorder(listener: String) -> any HTTPRequestRecorder
}

extension HTTPServerObserver {
    public func requestRecorder(listener: String) -> any HTTPRequestRecorder {
        ForwardingRequestRecorder(observer: self, listener: listener)
    }
}

/// One event loop's reports of answered requests on one listener (`HTTPServerObserver`).
public protocol HTTPRequestRecorder: AnyObject, Sendable {
    /// As `HTTPServerObserver.requestCompleted`, with the duration in nanoseconds of the
    /// monotonic clock (`EventLoop.now()`): the loops' own clock, with no conversion on the
    /// request path.
    func requestCompleted(method: HTTPRequest.Method, routeTemplate: String?, status: Int, nanoseconds: UInt64)
}

/// The default recorder: every report goes to the observer itself.
private final class ForwardingRequestRecorder: HTTPRequestRecorder {
    let observer: any HTTPServerObserver
    let listener: String

    init(observer: any HTTPServerObserver, listener: String) {
        self.observer = observer
        self.listener = listener
    }

    func requestCompleted(method: HTTPRequest.Method, routeTemplate: String?, status: Int, nanoseconds: UInt64) {
        observer.requestCompleted(listener: listener, method: method, routeTemplate: routeTemplate, status: status,
                                  duration: .nanoseconds(Int64(clamping: nanoseconds)))
    }
}
