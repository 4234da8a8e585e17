import HTTPTypes

/// Immutable, fully rendered status line, header fields and body, for content that changes
/// rarely and is served often (the JWKS). Build one per content change and swap it in; the
/// server writes it with one `writev` next to its cached `Date` line, copying nothing.
/// `Content-Length` is rendered here; `Date` and `Connection` are added per response.
public final class PrerenderedResponse: @unchecked Sendable {
    // @unchecked: the two buffers are written once in init and only read afterwards.
    public let status: HTTPResponse.Status
    public let body: [UInt8]
    /// Status line and fields up to and including the `Content-Length` line's CRLF.
    let head: UnsafeMutableRawBufferPointer
    let bodyBytes: UnsafeMutableRawBufferPointer
    /// The same head as an HTTP/2 field list (lower-case names, `content-length` included),
    /// so an HTTP/2 answer renders nothing either.
    let http2Fields: [(name: String, value: String)]

    public init(status: HTTPResponse.Status, headerFields: HTTPFields, body: [UInt8]) {
        self.status = status
        self.body = body
        var rendered: [UInt8] = []
        ResponseRenderer.appendStatusLineAndFields(status: status, headerFields: headerFields,
                                                    contentLength: body.count, to: &rendered)
        head = .allocate(byteCount: rendered.count, alignment: 1)
        head.copyBytes(from: rendered)
        bodyBytes = .allocate(byteCount: max(body.count, 1), alignment: 1)
        bodyBytes.copyBytes(from: body)
        http2Fields = ResponseRenderer.http2Fields(status: status, headerFields: headerFields, contentLength: body.count)
    }

    deinit {
        head.deallocate()
        bodyBytes.deallocate()
    }
}
