import Transport

/// Every bound the server enforces, in one value. Defaults are safe for a public listener;
/// the status code a client gets when it crosses a limit is named with each field.
public struct ServerLimits: Sendable {
    /// Longest request line (method, target, version). Default 8 KiB; beyond it: 414.
    public var maxRequestLineBytes: Int
    /// Largest header section, field lines and their CRLFs. Default 16 KiB; beyond it: 431.
    public var maxHeaderBytes: Int
    /// Most header fields in one request. Default 100; beyond it: 431.
    public var maxHeaderCount: Int
    /// Largest request body after transfer decoding. Default 64 KiB; beyond it: 413.
    public var maxBodyBytes: Int
    /// Time a client has to send a complete header section, counted from the connection's
    /// accept or from the first byte of a later request. Default 10 s; then 408 and close.
    public var headerTimeout: Duration
    /// Time a keep-alive connection may sit between requests. Default 60 s; then it is
    /// closed without a response.
    public var idleTimeout: Duration
    /// Time a client has to send the whole body once the head arrived. Default 30 s; then 408.
    public var bodyTimeout: Duration
    /// Time a response may wait for the client to read it. Default 30 s; then the
    /// connection is closed.
    public var writeTimeout: Duration
    /// Open connections across all listeners. Default 10,000; a connection beyond it is
    /// accepted and closed at once, so the backlog never fills and existing clients keep going.
    public var maxConnections: Int
    /// Requests queued on one connection while earlier responses are pending (pipelining).
    /// Default 64; when reached, the server stops reading from that connection until
    /// responses drain.
    public var maxPipelinedRequests: Int
    /// How long `HTTPServer.shutdown()` lets in-flight requests finish before closing every
    /// connection. Default 10 s.
    public var shutdownGrace: Duration
    /// Time a TLS client has to complete its handshake, counted from accept. Default 10 s;
    /// then the connection is closed.
    public var tlsHandshakeTimeout: Duration
    /// TLS handshakes in progress across all listeners. Default 1,024; a TLS connection
    /// beyond it is accepted and closed at once, so slow or garbage clients cannot hold
    /// the slots (and CPU) that real clients need.
    public var maxTLSHandshakes: Int

    /// The documented defaults.
    public init() {
        maxRequestLineBytes = 8 * 1024
        maxHeaderBytes = 16 * 1024
        maxHeaderCount = 100
        maxBodyBytes = 64 * 1024
        headerTimeout = .seconds(10)
        idleTimeout = .seconds(60)
        bodyTimeout = .seconds(30)
        writeTimeout = .seconds(30)
        maxConnections = 10_000
        maxPipelinedRequests = 64
        shutdownGrace = .seconds(10)
        tlsHandshakeTimeout = .seconds(10)
        maxTLSHandshakes = 1024
    }

    /// The bounds the event loops enforce below HTTP.
    var transportLimits: TransportLimits {
        TransportLimits(maxConnections: maxConnections, maxTLSHandshakes: maxTLSHandshakes,
                        tlsHandshakeTimeout: tlsHandshakeTimeout)
    }

    var parserLimits: RequestHeadParser.Limits {
        RequestHeadParser.Limits(maxRequestLineBytes: maxRequestLineBytes, maxHeaderBytes: maxHeaderBytes,
                                 maxHeaderCount: maxHeaderCount, maxBodyBytes: maxBodyBytes)
    }
}
