/// One parsed request head, as byte ranges into the buffer it was parsed from, plus the
/// framing facts the connection needs. Reused across requests so the field list keeps its
/// capacity.
struct RequestHead {
    /// One header field line: name and value (OWS trimmed) as ranges into the buffer.
    struct Field {
        var name: Range<Int>
        var value: Range<Int>
    }

    /// How the request body is delimited (RFC 9112 §6.3).
    enum BodyFraming: Equatable {
        case none
        case contentLength(Int)
        case chunked
    }

    var method: Range<Int> = 0..<0
    var target: Range<Int> = 0..<0
    var versionMajor = 1
    var versionMinor = 1
    var fields: [Field] = []
    var framing: BodyFraming = .none
    /// `Connection: close` was sent.
    var connectionClose = false
    /// `Connection: keep-alive` was sent (matters for HTTP/1.0).
    var connectionKeepAlive = false
    /// `Expect: 100-continue` was sent by an HTTP/1.1 client.
    var expectContinue = false

    /// Whether the connection may carry another request after this one (RFC 9112 §9.3).
    var keepAlive: Bool {
        if connectionClose { return false }
        if versionMinor == 0 { return connectionKeepAlive }
        return true
    }

    mutating func reset() {
        method = 0..<0
        target = 0..<0
        versionMajor = 1
        versionMinor = 1
        fields.removeAll(keepingCapacity: true)
        framing = .none
        connectionClose = false
        connectionKeepAlive = false
        expectContinue = false
    }
}
