import HTTPTypes
import Synchronization

/// Maps method and path to a handler. Templates are literal segments and `{name}` segments
/// ("/v1/locks/{name}"); a literal segment wins over a parameter. Unknown path → 404,
/// known path with another method → 405 with `Allow`, HEAD is served by the GET handler.
/// Routes are added during setup under a lock; each event loop keeps a snapshot of the
/// table and refreshes it only when the version changes, so lookups take no lock (a lock
/// shared by the loops could stall one loop whenever its holder is preempted).
public final class Router: Sendable {
    fileprivate enum Segment: Equatable {
        case literal(String)
        case parameter(String)
    }

    fileprivate struct Route {
        var template: String
        var segments: [Segment]
        var handlers: [(method: HTTPRequest.Method, handler: HTTPHandler)]
        var literalCount: Int {
            segments.reduce(0) { count, segment in
                if case .literal = segment { return count + 1 }
                return count
            }
        }
    }

    /// An immutable view of the routes, as the loops cache it.
    struct Table {
        fileprivate var routes: [Route] = []
        /// Templates without parameters, by path, as indices into `routes`.
        fileprivate var literal: [String: Int] = [:]
        /// Every (method, template) pair in registration order.
        fileprivate var registered: [(method: HTTPRequest.Method, template: String)] = []

        /// Finds the handler for a request; `segments` computes the decoded path segments
        /// only when no literal route matches.
        func match(method: HTTPRequest.Method, path: String, segments: () -> [String]?) -> Match {
            if let index = literal[path] {
                return Router.select(method, in: routes[index], parameters: [:])
            }
            guard let requestSegments = segments() else { return .notFound }
            for route in routes where route.segments.count == requestSegments.count {
                var parameters: [String: String] = [:]
                var matched = true
                for (segment, value) in zip(route.segments, requestSegments) {
                    switch segment {
                    case .literal(let literal):
                        if literal != value { matched = false }
                    case .parameter(let name):
                        if value.isEmpty { matched = false } else { parameters[name] = value }
                    }
                    if !matched { break }
                }
                if matched { return Router.select(method, in: route, parameters: parameters) }
            }
            return .notFound
        }

        /// Routes `request` for either protocol, filling in its route template and path
        /// parameters when a route matched.
        func route(_ request: inout HTTPServerRequest) -> Routed {
            let target = request.target
            switch match(method: request.method, path: request.path, segments: {
                var target = target
                return target.withUTF8 { RequestTarget.pathSegments(UnsafeRawBufferPointer($0)) }
            }) {
            case .found(let handler, let template, let parameters):
                request.routeTemplate = template
                request.pathParameters = parameters
                return .handler(handler)
            case .methodNotAllowed(let allow, let template):
                request.routeTemplate = template
                var response = Problem.response(status: .methodNotAllowed, type: "method-not-allowed",
                                                title: "Method Not Allowed",
                                                detail: "\(request.method.rawValue) is not allowed on \(template).")
                response.headerFields[.allow] = allow.map(\.rawValue).joined(separator: ", ")
                return .answer(response)
            case .notFound:
                return .answer(Problem.response(status: .notFound, type: "not-found", title: "Not Found",
                                                detail: "No resource at \(request.path)."))
            }
        }
    }

    /// What a request gets from the table: its handler, or the router's own answer.
    enum Routed {
        case handler(HTTPHandler)
        /// 404 for an unknown path, 405 with `Allow` for a known path and another method.
        case answer(HTTPServerResponse)
    }

    /// The outcome of a lookup.
    enum Match {
        case found(HTTPHandler, template: String, parameters: [String: String])
        case methodNotAllowed(allow: [HTTPRequest.Method], template: String)
        case notFound
    }

    private let table = Mutex(Table())
    /// Bumped on every change, so cached snapshots know when to refresh.
    let version = Atomic<Int>(0)

    public init() {}

    /// Registers `handler` for `method` on `pathTemplate`; a second registration of the same
    /// pair replaces the first.
    public func add(_ method: HTTPRequest.Method, _ pathTemplate: String, _ handler: HTTPHandler) {
        let segments: [Segment] = pathTemplate.split(separator: "/", omittingEmptySubsequences: false)
            .dropFirst()
            .map { part in
                if part.hasPrefix("{") && part.hasSuffix("}") && part.count > 2 {
                    return .parameter(String(part.dropFirst().dropLast()))
                }
                return .literal(String(part))
            }
        table.withLock { table in
            if !table.registered.contains(where: { $0.method == method && $0.template == pathTemplate }) {
                table.registered.append((method, pathTemplate))
            }
            if let index = table.routes.firstIndex(where: { $0.segments == segments }) {
                table.routes[index].handlers.removeAll { $0.method == method }
                table.routes[index].handlers.append((method, handler))
                return
            }
            table.routes.append(Route(template: pathTemplate, segments: segments, handlers: [(method, handler)]))
            table.routes.sort { $0.literalCount > $1.literalCount }
            table.literal = [:]
            for (index, route) in table.routes.enumerated() where route.literalCount == route.segments.count {
                table.literal[route.template] = index
            }
        }
        version.wrappingAdd(1, ordering: .releasing)
    }

    /// The current table and its version.
    func snapshot() -> (version: Int, table: Table) {
        table.withLock { table in (version.load(ordering: .acquiring), table) }
    }

    /// Every registered (method, template) pair, in registration order.
    public var routes: [(method: HTTPRequest.Method, template: String)] {
        table.withLock { $0.registered }
    }

    /// Finds the handler for a request, from the current table (tests; loops use snapshots).
    func match(method: HTTPRequest.Method, path: String, segments: () -> [String]?) -> Match {
        snapshot().table.match(method: method, path: path, segments: segments)
    }

    fileprivate static func select(_ method: HTTPRequest.Method, in route: Route, parameters: [String: String]) -> Match {
        if let entry = route.handlers.first(where: { $0.method == method }) {
            return .found(entry.handler, template: route.template, parameters: parameters)
        }
        if method == .head, let entry = route.handlers.first(where: { $0.method == .get }) {
            return .found(entry.handler, template: route.template, parameters: parameters)
        }
        var allow = route.handlers.map(\.method)
        if allow.contains(.get) && !allow.contains(.head) { allow.append(.head) }
        return .methodNotAllowed(allow: allow, template: route.template)
    }
}
