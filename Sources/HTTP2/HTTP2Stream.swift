/// One request stream of an HTTP/2 connection: its request header fields and the calls that
/// answer it. The calls may come from any thread (a handler's task); they run in order on the
/// connection's loop. Calls on a stream that is already gone do nothing.
public final class HTTP2Stream: Sendable {
    public let id: Int32
    /// The request's header fields in arrival order, pseudo-headers (":method", ":path", …)
    /// included, names lower-case as HTTP/2 requires.
    public let fields: [(name: String, value: String)]
    private let connection: HTTP2Connection

    init(id: Int32, fields: [(name: String, value: String)], connection: HTTP2Connection) {
        self.id = id
        self.fields = fields
        self.connection = connection
    }

    /// The first value of field `name`.
    public func field(_ name: String) -> String? {
        fields.first { $0.name == name }?.value
    }

    public var method: String? { field(":method") }
    public var path: String? { field(":path") }

    /// Sends the response header block; with `endStream` it is the whole response (gRPC's
    /// trailers-only answer).
    public func sendHeaders(status: Int, fields: [(name: String, value: String)], endStream: Bool = false) {
        let id = self.id
        connection.perform { $0.sendHeaders(stream: id, status: status, fields: fields, endStream: endStream) }
    }

    /// Queues body bytes after the header block; flow control decides when they leave.
    public func sendData(_ bytes: [UInt8]) {
        let id = self.id
        connection.perform { $0.sendData(stream: id, bytes) }
    }

    /// Ends the response once queued data is out: with trailers, in a trailing header block.
    public func finish(trailers: [(name: String, value: String)]) {
        let id = self.id
        connection.perform { $0.finish(stream: id, trailers: trailers) }
    }

    /// Resets the stream (RST_STREAM) with an HTTP/2 error code, e.g. 0x8 CANCEL.
    public func reset(errorCode: UInt32) {
        let id = self.id
        connection.perform { $0.reset(stream: id, errorCode: errorCode) }
    }
}
