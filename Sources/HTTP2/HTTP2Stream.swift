import Transport

/// One request stream of an HTTP/2 connection: its request header fields and the calls that
/// answer it. The calls may come from any thread (a handler's task); they run in order on the
/// connection's loop. Calls on a stream that is already gone do nothing.
public final class HTTP2Stream: Sendable {
    public let id: Int32
    /// The request's header fields in arrival order, pseudo-headers (":method", ":path", …)
    /// included, names lower-case as HTTP/2 requires.
    public let fields: [(name: String, value: String)]
    /// The request's header list outgrew `HTTP2Limits.maxHeaderListBytes`: `fields` holds
    /// only those before the limit, and the handler must refuse the request.
    public let headerListTooLarge: Bool
    private let connection: HTTP2Connection

    init(id: Int32, fields: [(name: String, value: String)], headerListTooLarge: Bool, connection: HTTP2Connection) {
        self.id = id
        self.fields = fields
        self.headerListTooLarge = headerListTooLarge
        self.tlsPeer = connection.tlsPeer
        self.connection = connection
    }

    /// The first value of field `name`.
    public func field(_ name: String) -> String? {
        fields.first { $0.name == name }?.value
    }

    /// The peer as "ip:port" ("[ip]:port" for IPv6), or "unix".
    public var remoteAddress: String { connection.remoteAddress }
    /// The name of the listener that accepted the connection.
    public var listenerName: String { connection.listener.name }
    /// The verified client certificate of a mutual-TLS connection.
    public let tlsPeer: TLSPeer?
    /// The loop the connection lives on: handlers that only wait on sockets may run there.
    public var loop: EventLoop { connection.loop }

    public var method: String? { field(":method") }
    public var path: String? { field(":path") }

    /// Sends the response header block; with `endStream` it is the whole response (gRPC's
    /// trailers-only answer).
    public func sendHeaders(status: Int, fields: [(name: String, value: String)], endStream: Bool = false) {
        let id = self.id
        connection.perform { $0.sendHeaders(stream: id, status: status, fields: fields, endStream: endStream) }
    }

    /// Sends a whole response: the header block, `body` (nothing for an empty one), the
    /// `trailers` in a trailing header block (none when empty) and the end of the stream, in
    /// one hand-over to the loop.
    public func respond(status: Int, fields: [(name: String, value: String)], body: [UInt8],
                        trailers: [(name: String, value: String)] = []) {
        let id = self.id
        connection.perform { $0.respond(stream: id, status: status, fields: fields, body: body, trailers: trailers) }
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
