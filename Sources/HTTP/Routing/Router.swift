import HTTPTypes
import Synchronization

/// Maps method and path to a handler. Templates are literal segments and `{name}` segments
/// ("/v1/locks/{name}"); a literal segment wins over a parameter. Unknown path → 404,
/// known path with another method → 405 with `Allow`, HEAD is served by the GET handler.
/// Routes are added during setup; lookups take an uncontended lock.
public final class Router: Sendable {
    private enum Segment: Equatable {
        case literal(String)
        case parameter(String)
    }

    private struct Route {
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

    private struct Table {
        var routes: [Route] = []
        /// Templates without parameters, by path, as indices into `routes`.
        var literal: [String: Int] = [:]
        /// Every (method, template) pair in registration order.
        var registered: [(method: HTTPRequest.Method, template: String)] = []
    }

    /// The outcome of a lookup.
    enum Match {
        case found(HTTPHandler, template: String, parameters: [String: String])
        case methodNotAllowed(allow: [HTTPRequest.Method], template: String)
        case notFound
    }

    private let table = Mutex(Table())

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
    }

    /// Every registered (method, template) pair, in registration order.
    public var routes: [(method: HTTPRequest.Method, template: String)] {
        table.withLock { $0.registered }
    }

    /// Finds the handler for a request; `segments` computes the decoded path segments only
    /// when no literal route matches.
    func match(method: HTTPRequest.Method, path: String, segments: () -> [String]?) -> Match {
        table.withLock { table in
            if let index = table.literal[path] {
                return Self.select(method, in: table.routes[index], parameters: [:])
            }
            guard let requestSegments = segments() else { return .notFound }
            for route in table.routes where route.segments.count == requestSegments.count {
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
                if matched { return Self.select(method, in: route, parameters: parameters) }
            }
            return .notFound
        }
    }

    private static func select(_ method: HTTPRequest.Method, in route: Route, parameters: [String: String]) -> Match {
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
