/// The bounds of one HTTP/2 listener, with their documented defaults. libnghttp2 enforces the
/// protocol-level ones (it answers with the RFC 9113 error code); the connection enforces
/// the timeouts and the header list size.
public struct HTTP2Limits: Sendable, Equatable {
    /// Streams a client may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS). Default
    /// 100; libnghttp2 refuses a stream beyond it with RST_STREAM(REFUSED_STREAM), and
    /// GOAWAY(PROTOCOL_ERROR) for a client that keeps opening streams past it.
    public var maxConcurrentStreams: Int
    /// Largest header list of one request, HPACK-decoded, counted as RFC 9113 §6.5.2 does
    /// (name + value + 32 per field) and announced as SETTINGS_MAX_HEADER_LIST_SIZE. Default
    /// 16 KiB; a larger one is answered by the stream's handler (HTTP: 431, gRPC:
    /// RESOURCE_EXHAUSTED) without the fields beyond the limit being kept.
    public var maxHeaderListBytes: Int
    /// Largest frame payload we accept (SETTINGS_MAX_FRAME_SIZE, 16 KiB to 16 MiB − 1).
    /// Default 16 KiB, the protocol's minimum; a larger frame is GOAWAY(FRAME_SIZE_ERROR).
    public var maxFrameBytes: Int
    /// The receive window of each stream (SETTINGS_INITIAL_WINDOW_SIZE). Default 65,535
    /// (the protocol's); data beyond it is GOAWAY(FLOW_CONTROL_ERROR). Windows are
    /// re-opened as the handler consumes the data.
    public var streamWindowBytes: Int
    /// The receive window of the whole connection. Default 1 MiB.
    public var connectionWindowBytes: Int
    /// RST_STREAM frames a client may send in a burst before the connection is torn down
    /// (the "rapid reset" attack, CVE-2023-44487: open a stream, reset it, repeat, so the
    /// server starts work it never gets to finish). Default 200, refilled at
    /// `resetsPerSecond`; past it, GOAWAY and close.
    public var maxResetBurst: Int
    /// How fast the reset allowance refills. Default 33 per second.
    public var resetsPerSecond: Int
    /// CONTINUATION frames allowed after one HEADERS frame. Default 8; beyond it the
    /// connection is closed (the CONTINUATION flood, CVE-2024-27316).
    public var maxContinuationFrames: Int
    /// Time a connection may sit with no stream open, counted from its last stream's end (or
    /// the accept): PING and SETTINGS frames do not extend it. Default 60 s; then
    /// GOAWAY(NO_ERROR) and close.
    public var idleTimeout: Duration
    /// Time a client has to send a stream's whole request (header block and body), counted
    /// from its HEADERS frame. Default 30 s; then the stream is reset with CANCEL, so a
    /// client cannot hold stream slots by never finishing its requests.
    public var requestTimeout: Duration
    /// Time written bytes may wait for the client to read them. Default 30 s; then close.
    public var writeTimeout: Duration

    public init(maxConcurrentStreams: Int = 100, maxHeaderListBytes: Int = 16 * 1024,
                maxFrameBytes: Int = 16 * 1024, streamWindowBytes: Int = 65_535,
                connectionWindowBytes: Int = 1024 * 1024, maxResetBurst: Int = 200, resetsPerSecond: Int = 33,
                maxContinuationFrames: Int = 8,
                idleTimeout: Duration = .seconds(60), requestTimeout: Duration = .seconds(30),
                writeTimeout: Duration = .seconds(30)) {
        self.maxConcurrentStreams = maxConcurrentStreams
        self.maxHeaderListBytes = maxHeaderListBytes
        self.maxFrameBytes = maxFrameBytes
        self.streamWindowBytes = streamWindowBytes
        self.connectionWindowBytes = connectionWindowBytes
        self.maxResetBurst = maxResetBurst
        self.resetsPerSecond = resetsPerSecond
        self.maxContinuationFrames = maxContinuationFrames
        self.idleTimeout = idleTimeout
        self.requestTimeout = requestTimeout
        self.writeTimeout = writeTimeout
    }

    /// The largest frame payload HTTP/2 allows (RFC 9113 §6.5.2).
    public static let frameBytesRange = (16 * 1024)...(16 * 1024 * 1024 - 1)
    /// The largest flow-control window HTTP/2 allows (RFC 9113 §6.9.1).
    public static let windowBytesRange = 1...Int(Int32.max)
}
