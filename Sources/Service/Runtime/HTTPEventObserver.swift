import HTTP
import HTTPTypes
import Logging
import Transport

/// The HTTP server's observer: everything goes to the metrics, and TLS reloads are also
/// logged, since a refused certificate rotation needs an operator before the old
/// certificate expires.
final class HTTPEventObserver: HTTPServerObserver {
    private let metrics: ServiceMetrics
    private let logger: Logger

    init(metrics: ServiceMetrics, logger: Logger) {
        self.metrics = metrics
        self.logger = logger
    }

    func requestCompleted(listener: String, method: HTTPRequest.Method, routeTemplate: String?, status: Int, duration: Duration) {
        metrics.requestCompleted(listener: listener, method: method, routeTemplate: routeTemplate, status: status, duration: duration)
    }

    func requestRecorder(listener: String) -> any HTTPRequestRecorder { metrics.requestRecorder(listener: listener) }

    func connectionOpened(listener: String) { metrics.connectionOpened(listener: listener) }
    func connectionClosed(listener: String) { metrics.connectionClosed(listener: listener) }
    func connectionRejected(listener: String, reason: String) { metrics.connectionRejected(listener: listener, reason: reason) }

    func tlsContextReloaded(listener: String, error: TLSError?) {
        metrics.tlsContextReloaded(listener: listener, error: error)
        if let error {
            logger.error("TLS certificate reload refused; still serving the previous certificate",
                         metadata: ["listener": .string(listener), "error": .string(error.description)])
        } else {
            logger.notice("TLS certificate reloaded", metadata: ["listener": .string(listener)])
        }
    }
}
