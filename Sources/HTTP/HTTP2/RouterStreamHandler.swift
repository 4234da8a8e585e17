import HTTP2
import HTTPTypes
import Transport

/// Serves HTTP/2 request streams from the same `Router` as the listener's HTTP/1.1
/// connections: one stream becomes the `HTTPServerRequest` a handler already knows, and the
/// handler's `HTTPServerResponse` becomes the stream's answer. Handlers, metrics (the server's
/// observer), body limit and problem answers are therefore the same for both protocols.
final class RouterStreamHandler: HTTP2StreamHandler {
    private let router: Router
    private let context: ServerContext

    init(router: Router, context: ServerContext) {
        self.router = router
        self.context = context
    }

    func open(_ stream: HTTP2Stream) -> any HTTP2StreamReceiver {
        let exchange = RouterStream(stream: stream, router: router, context: context,
                                    loopState: stream.loop.local { HTTPLoopState() })
        exchange.begin()
        return exchange
    }
}
