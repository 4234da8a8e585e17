import HTTP2

/// gRPC over HTTP/2 (the PROTOCOL-HTTP2 framing): routes each request stream by its path
/// ("/package.Service/Method") to a `GRPCMethod`, and owns what every call shares —
/// message framing and its size limit, `grpc-timeout` deadlines, cancellation when the
/// client resets the stream, and the status trailers.
///
/// Requests that are not gRPC (not POST, or a content type other than application/grpc)
/// get HTTP 415 as the protocol asks; an unknown path is status UNIMPLEMENTED.
public final class GRPCServer: HTTP2StreamHandler {
    private let methods: [String: GRPCMethod]
    /// Largest request message accepted. Default 4 MiB (gRPC's own default); a larger one
    /// ends the call with RESOURCE_EXHAUSTED before its body is buffered.
    public let maxReceiveMessageBytes: Int

    /// `methods` by full path, e.g. "/grpc.health.v1.Health/Check".
    public init(methods: [String: GRPCMethod], maxReceiveMessageBytes: Int = 4 * 1024 * 1024) {
        self.methods = methods
        self.maxReceiveMessageBytes = maxReceiveMessageBytes
    }

    public func open(_ stream: HTTP2Stream) -> any HTTP2StreamReceiver {
        guard !stream.headerListTooLarge else {
            let call = GRPCCall(stream: stream, maxMessageBytes: maxReceiveMessageBytes)
            call.end(GRPCStatus(.resourceExhausted, "the request's header list exceeds the server's limit"))
            return call
        }
        guard stream.method == "POST", let type = stream.field("content-type"),
              type == "application/grpc" || type.hasPrefix("application/grpc+") || type.hasPrefix("application/grpc;") else {
            stream.sendHeaders(status: 415, fields: [(name: "content-type", value: "text/plain")], endStream: true)
            return DiscardingReceiver()
        }
        let call = GRPCCall(stream: stream, maxMessageBytes: maxReceiveMessageBytes)
        guard let path = stream.path, let method = methods[path] else {
            call.end(GRPCStatus(.unimplemented, "unknown method \(stream.path ?? "")"))
            return call
        }
        var deadline: Duration?
        if let timeout = stream.field("grpc-timeout") {
            guard let parsed = GRPCTimeout.parse(timeout) else {
                call.end(GRPCStatus(.internal, "malformed grpc-timeout \"\(timeout)\""))
                return call
            }
            deadline = parsed
        }
        call.start(method, deadline: deadline)
        return call
    }
}

/// The receiver of a refused request: its body is read and dropped.
private final class DiscardingReceiver: HTTP2StreamReceiver {
    func received(_ bytes: UnsafeRawBufferPointer) {}
    func receivedEnd() {}
    func cancelled() {}
}
