import HTTPTypes
import Prometheus

/// Every (listener, method, route) requests have named, as a list that only grows: a
/// request walks it with plain loads and compares strings that are, in the common case,
/// the router's own template storage (an identity check), so the request path takes no
/// lock and allocates nothing once its route has been seen.
final class RouteTable: Sendable {
    private let registry: PrometheusCollectorRegistry
    private let head = OnceReference<RouteMetrics>()

    init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
    }

    func route(listener: String, method: HTTPRequest.Method, template: String?) -> RouteMetrics {
        let route = template ?? "unmatched"
        var node = head.load()
        if node == nil { node = head.storeIfNil(make(listener, method, route)) }
        while let current = node {
            if current.matches(listener: listener, method: method, route: route) { return current }
            node = current.next.load() ?? current.next.storeIfNil(make(listener, method, route))
        }
        preconditionFailure("a route list ends only after a node is appended")
    }

    private func make(_ listener: String, _ method: HTTPRequest.Method, _ route: String) -> RouteMetrics {
        RouteMetrics(registry: registry, listener: listener, method: method, route: route)
    }
}
