import HTTP2

/// Writes a call's response messages: the response header block goes out before the first.
/// Callable from any thread; writes after the call ended are dropped.
public final class GRPCResponseWriter: Sendable {
    private let stream: HTTP2Stream
    private let call: GRPCCall

    init(stream: HTTP2Stream, call: GRPCCall) {
        self.stream = stream
        self.call = call
    }

    public func send(_ message: [UInt8]) {
        guard call.beginResponse() else { return }
        stream.sendData(GRPCMessageReader.frame(message))
    }
}
