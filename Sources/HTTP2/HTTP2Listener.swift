import Transport

/// How a listener speaks HTTP/2: the factory of its connections, for `ListenerSocket`.
public enum HTTP2Listener {
    /// The connection for a socket whose protocol was chosen as HTTP/2 after accept (ALPN
    /// "h2", or the client preface on a plaintext listener that also speaks HTTP/1.1). The
    /// caller puts it in the loop (`EventLoop.replace`) and hands it the first readiness event.
    public static func connection(loop: EventLoop, transport: any ConnectionTransport, listener: ListenerSocket,
                                  handler: any HTTP2StreamHandler, limits: HTTP2Limits, remoteAddress: String,
                                  acceptedAt: UInt64) -> any LoopConnection {
        HTTP2Connection(loop: loop, transport: transport, listener: listener, handler: handler, limits: limits,
                        remoteAddress: remoteAddress, acceptedAt: acceptedAt)
    }

    /// Connections that serve every request stream through `handler`. Clients start with the
    /// HTTP/2 preface (prior knowledge: h2c on plaintext and unix sockets).
    public static func connections(handler: any HTTP2StreamHandler, limits: HTTP2Limits) -> ConnectionFactory {
        { loop, transport, listener, remoteAddress, acceptedAt in
            HTTP2Connection(loop: loop, transport: transport, listener: listener, handler: handler,
                            limits: limits, remoteAddress: remoteAddress, acceptedAt: acceptedAt)
        }
    }
}
