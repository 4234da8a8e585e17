/// The bounds of one HTTP/2 listener, with their documented defaults.
public struct HTTP2Limits: Sendable {
    /// Streams a client may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS). Default
    /// 100; libnghttp2 refuses a stream beyond it with RST_STREAM(REFUSED_STREAM).
    public var maxConcurrentStreams: Int
    /// Largest header list of one request, HPACK-decoded (SETTINGS_MAX_HEADER_LIST_SIZE).
    /// Default 16 KiB; a larger one resets the stream.
    public var maxHeaderListBytes: Int
    /// Time a connection may sit with no stream open and nothing read. Default 60 s; then
    /// GOAWAY and close.
    public var idleTimeout: Duration
    /// Time written bytes may wait for the client to read them. Default 30 s; then close.
    public var writeTimeout: Duration

    public init(maxConcurrentStreams: Int = 100, maxHeaderListBytes: Int = 16 * 1024,
                idleTimeout: Duration = .seconds(60), writeTimeout: Duration = .seconds(30)) {
        self.maxConcurrentStreams = maxConcurrentStreams
        self.maxHeaderListBytes = maxHeaderListBytes
        self.idleTimeout = idleTimeout
        self.writeTimeout = writeTimeout
    }
}
