import Transport

/// How a listener speaks HTTP/2: the factory of its connections, for `ListenerSocket`.
public enum HTTP2Listener {
    /// Connections that serve every request stream through `handler`. Clients start with the
    /// HTTP/2 preface (prior knowledge: h2c on plaintext and unix sockets).
    public static func connections(handler: any HTTP2StreamHandler, limits: HTTP2Limits) -> ConnectionFactory {
        { loop, transport, listener, _, acceptedAt in
            HTTP2Connection(loop: loop, transport: transport, listener: listener, handler: handler,
                            limits: limits, acceptedAt: acceptedAt)
        }
    }
}
