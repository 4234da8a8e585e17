import HTTPTypes

/// A response a handler returns. The server adds `Content-Length`, `Date` and `Connection`
/// itself and ignores those fields (and `Transfer-Encoding`) if a handler sets them, because
/// framing is the server's business.
public struct HTTPServerResponse: Sendable {
    enum Payload: Sendable {
        case dynamic
        case prerendered(PrerenderedResponse)
    }

    public var status: HTTPResponse.Status
    public var headerFields: HTTPFields
    public var body: [UInt8]
    var payload: Payload

    public init(status: HTTPResponse.Status, headerFields: HTTPFields = [:], body: [UInt8] = []) {
        self.status = status
        self.headerFields = headerFields
        self.body = body
        self.payload = .dynamic
    }

    /// A response whose bytes were rendered once in advance; serving it copies nothing.
    public static func prerendered(_ response: PrerenderedResponse) -> HTTPServerResponse {
        var result = HTTPServerResponse(status: response.status)
        result.payload = .prerendered(response)
        return result
    }
}
