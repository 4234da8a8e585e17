import HTTPTypes
import Transport

/// A request as a handler sees it: parsed, framed and fully read (body included).
public struct HTTPServerRequest: Sendable {
    public var method: HTTPRequest.Method
    /// The request-target exactly as received.
    public var target: String
    /// The percent-decoded path, without the query.
    public var path: String
    /// The decoded query items, in order ("+" decodes to a space).
    public var query: [(name: String, value: String)]
    public var headerFields: HTTPFields
    /// The body after transfer decoding; empty if none was sent.
    public var body: [UInt8]
    public var version: (major: Int, minor: Int)
    /// The peer as "ip:port" ("[ip]:port" for IPv6), or "unix".
    public var remoteAddress: String
    /// Values of the `{name}` segments of the matched route template, percent-decoded.
    public var pathParameters: [String: String]
    /// The template of the matched route, e.g. "/v1/keys/{kid}"; nil when no route matched.
    public var routeTemplate: String?
    /// The name the listener that accepted the connection was given (e.g. "public").
    public var localListener: String
    /// The verified client certificate on a mutual-TLS listener; nil on plaintext, without
    /// a client certificate, or with client authentication off.
    public var tlsPeer: TLSPeer?

    public init(method: HTTPRequest.Method, target: String, path: String,
                query: [(name: String, value: String)] = [], headerFields: HTTPFields = [:],
                body: [UInt8] = [], version: (major: Int, minor: Int) = (1, 1),
                remoteAddress: String = "unix", pathParameters: [String: String] = [:],
                routeTemplate: String? = nil, localListener: String = "",
                tlsPeer: TLSPeer? = nil) {
        self.method = method
        self.target = target
        self.path = path
        self.query = query
        self.headerFields = headerFields
        self.body = body
        self.version = version
        self.remoteAddress = remoteAddress
        self.pathParameters = pathParameters
        self.routeTemplate = routeTemplate
        self.localListener = localListener
        self.tlsPeer = tlsPeer
    }

    /// The first query item with this name.
    public func queryValue(_ name: String) -> String? {
        query.first(where: { $0.name == name })?.value
    }
}
