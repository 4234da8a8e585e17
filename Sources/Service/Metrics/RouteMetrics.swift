import HTTPTypes
import Prometheus

/// The request series of one (listener, method, route): its duration histogram and a
/// counter per status, each made once. A request finds its status counter by walking a
/// short list that only grows (one node per status the route has answered), with plain
/// loads: no lock, no label array, no dictionary.
final class RouteMetrics: Sendable {
    let listener: String
    let method: HTTPRequest.Method
    /// The router's template, or "unmatched".
    let route: String
    let duration: DurationHistogram
    /// The next route of the `RouteTable`.
    let next = OnceReference<RouteMetrics>()
    private let registry: PrometheusCollectorRegistry
    private let statuses = OnceReference<StatusCounter>()

    /// One status's counter, in a list of the statuses this route answered.
    private final class StatusCounter: Sendable {
        let status: Int
        let counter: Counter
        let next = OnceReference<StatusCounter>()

        init(status: Int, counter: Counter) {
            self.status = status
            self.counter = counter
        }
    }

    init(registry: PrometheusCollectorRegistry, listener: String, method: HTTPRequest.Method, route: String) {
        self.registry = registry
        self.listener = listener
        self.method = method
        self.route = route
        duration = registry.durationHistogram(
            ServiceMetrics.requestDuration, labels: [("listener", listener), ("route", route)],
            buckets: ServiceMetrics.latencyBuckets, help: ServiceMetrics.requestDurationHelp)
    }

    func matches(listener: String, method: HTTPRequest.Method, route: String) -> Bool {
        self.route == route && self.method == method && self.listener == listener
    }

    /// The counter of `status`, made on the route's first answer with it. Two loops adding
    /// the same status at once may both append a node; the registry hands both the same
    /// counter, so nothing is counted twice or lost.
    func counter(status: Int) -> Counter {
        var node = statuses.load()
        if node == nil { node = statuses.storeIfNil(makeNode(status)) }
        while let current = node {
            if current.status == status { return current.counter }
            node = current.next.load() ?? current.next.storeIfNil(makeNode(status))
        }
        preconditionFailure("a status list ends only after a node is appended")
    }

    private func makeNode(_ status: Int) -> StatusCounter {
        StatusCounter(status: status, counter: registry.counter(
            ServiceMetrics.requestsTotal,
            labels: [("listener", listener), ("route", route), ("method", method.rawValue), ("status", String(status))],
            help: ServiceMetrics.requestsHelp))
    }
}
