/// A complete HTTP response: status, headers (names lowercased) and body.
public struct HTTPClientResponse: Sendable, Equatable {
    public var status: Int
    /// Header fields with lowercased names.
    public var headers: [String: String]
    public var body: [UInt8]

    public init(status: Int, headers: [String: String], body: [UInt8]) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A header value by name, case-insensitively.
    public func header(_ name: String) -> String? { headers[name.lowercased()] }

    public var isSuccess: Bool { (200..<300).contains(status) }

    /// The body as text for error messages, cut to a length safe to log.
    public var bodySnippet: String {
        let text = String(decoding: body.prefix(512), as: UTF8.self)
        return body.count > 512 ? text + "…" : text
    }
}
