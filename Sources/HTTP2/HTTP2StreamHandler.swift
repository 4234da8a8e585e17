/// What an HTTP/2 listener does with each request stream: called on the connection's loop
/// thread once the request's header block is complete, it returns the receiver of the
/// stream's body. Answers go through the `HTTP2Stream`, from any thread.
public protocol HTTP2StreamHandler: Sendable {
    func open(_ stream: HTTP2Stream) -> any HTTP2StreamReceiver
}

/// The request side of one stream, as the loop delivers it (loop thread only).
public protocol HTTP2StreamReceiver: AnyObject {
    /// One DATA frame's payload; valid only during the call.
    func received(_ bytes: UnsafeRawBufferPointer)
    /// The client ended its side (END_STREAM).
    func receivedEnd()
    /// The stream is gone before we finished it: the client reset it, or the connection
    /// closed. Nothing sent on it arrives any more.
    func cancelled()
}
