import HTTP
import HTTPTypes

/// The request series of one event loop on one listener (`HTTPRequestRecorder`): the
/// routes it answered, as a list that only grows. A request walks it with plain loads and
/// compares strings that are, in the common case, the router's own template storage (an
/// identity check), and counts with atomics on cache lines no other core writes.
final class RequestSeriesShard: HTTPRequestRecorder {
    let listener: String
    private let bounds: [UInt64]
    private let head = OnceReference<RouteSeries>()

    init(listener: String, bounds: [UInt64]) {
        self.listener = listener
        self.bounds = bounds
    }

    func requestCompleted(method: HTTPRequest.Method, routeTemplate: String?, status: Int, nanoseconds: UInt64) {
        series(method: method, route: routeTemplate ?? "unmatched").record(status: status, nanoseconds: nanoseconds)
    }

    /// Every route this shard has counted, in the order first seen.
    var routes: [RouteSeries] {
        var all: [RouteSeries] = []
        var node = head.load()
        while let current = node {
            all.append(current)
            node = current.next.load()
        }
        return all
    }

    private func series(method: HTTPRequest.Method, route: String) -> RouteSeries {
        var node = head.load()
        if node == nil { node = head.storeIfNil(make(method, route)) }
        while let current = node {
            if current.matches(method: method, route: route) { return current }
            node = current.next.load() ?? current.next.storeIfNil(make(method, route))
        }
        preconditionFailure("a route list ends only after a node is appended")
    }

    private func make(_ method: HTTPRequest.Method, _ route: String) -> RouteSeries {
        RouteSeries(method: method, route: route, bounds: bounds)
    }
}
