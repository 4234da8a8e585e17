import Foundation
import HTTP2
import Synchronization
import Transport

/// keycoord's HTTP/1.1 and HTTP/1.0 server (RFC 9110/9112) on POSIX sockets.
///
/// Design, and why:
/// - Readiness comes from one `epoll` loop per core (`EventLoop`), not from Dispatch read
///   sources. A Dispatch read source re-arms with two `epoll_ctl` calls and an
///   `ioctl(FIONREAD)` for every read; with a level-triggered loop the keep-alive hot path is
///   one `recv` and one `sendmsg` per batch of requests. Measured with strace on the
///   benchmark: 1 recv + 1 sendmsg + 0.17 epoll_wait per request here, against 2 epoll_ctl
///   + 1 ioctl + 1.6 futex on top of recv/send for a Dispatch-source responder. In the least
///   loaded benchmark run this server did 1.29–1.50× nginx's req/s (16–256 connections) and
///   out-ran a no-parsing Dispatch probe in most comparisons; all runs, with the machine's
///   load, are in bench/RESULTS.md, "HTTP server (issue 2)".
/// - Loops accept and deal connections out round-robin, since `EPOLLEXCLUSIVE` alone let the
///   first loop to wake take a whole burst of connects.
/// - Dispatch and Swift concurrency stay the tools for everything that is not socket
///   readiness: `.async` handlers run in Tasks and hand their response back to the loop.
/// - Requests are parsed in place in the loop's read buffer; only an incomplete request is
///   copied to a per-connection buffer, so idle keep-alive connections cost no buffer.
/// - A `PrerenderedResponse` is written by reference next to a `Date` line rendered once per
///   second, so serving the JWKS copies no body bytes; pipelined responses leave in one
///   `sendmsg` (a vector write, `MSG_NOSIGNAL` so SIGPIPE never fires).
/// - The loops, sockets and TLS are the Transport module's (`EventLoop`, `ListenerSocket`,
///   `ConnectionTransport`): a plain socket or TLS on the same non-blocking socket, chosen per
///   listener; this module adds the HTTP/1.1 connection (`Connection`) each listener makes.
/// - Parsing is strict (see `HTTPParseError`): every ambiguity is answered with its status
///   and the connection is closed after a FIN and a short drain, so the client reads the answer.
///
/// Lifecycle: `listen` (binds now, so EADDRINUSE surfaces at startup), `start`, `shutdown`.
public final class HTTPServer: Sendable {
    private let context: ServerContext
    private let state = Mutex(State())

    private struct State {
        var listeners: [ListenerSocket] = []
        var loops: [EventLoop] = []
        var started = false
        var stopped = false
    }

    /// The limits this server enforces.
    public var limits: ServerLimits { context.limits }

    public init(limits: ServerLimits = ServerLimits(), observer: (any HTTPServerObserver)? = nil) {
        context = ServerContext(limits: limits, observer: observer)
    }

    /// Binds `address` now and returns the bound address (port 0 resolved). Connections on
    /// it are tagged with `name` and routed by `router`. Callable before or after `start()`.
    ///
    /// - Parameters:
    ///   - tls: serve TLS with these files (reloaded when they change); nil for plaintext.
    ///     Unusable files throw `TLSError` here.
    ///   - unixSocketMode: permission bits of a unix socket file (e.g. 0o660); nil leaves
    ///     the umask's. Ignored for TCP.
    ///   - http2: also serve HTTP/2 from the same router, within these limits: ALPN "h2"
    ///     (preferred over "http/1.1") under TLS, the client preface (h2c with prior
    ///     knowledge) on plaintext. nil: HTTP/1.1 only.
    @discardableResult
    public func listen(_ address: ListenAddress, name: String, router: Router, tls: TLSConfiguration? = nil,
                       unixSocketMode: mode_t? = nil, http2: HTTP2Limits? = nil) throws -> ListenAddress {
        let context = self.context
        guard let http2 else {
            return try addListener(address, name: name, tls: tls, unixSocketMode: unixSocketMode) {
                loop, transport, listener, remoteAddress, acceptedAt in
                Connection(loop: loop, transport: transport, listener: listener, context: context, router: router,
                           remoteAddress: remoteAddress, acceptedAt: acceptedAt)
            }
        }
        var secured = tls
        secured?.applicationProtocols = ["h2", "http/1.1"]
        let options = ProtocolChooser.HTTP2Options(handler: RouterStreamHandler(router: router, context: context), limits: http2)
        return try addListener(address, name: name, tls: secured, unixSocketMode: unixSocketMode) {
            loop, transport, listener, remoteAddress, acceptedAt in
            ProtocolChooser(loop: loop, transport: transport, listener: listener, context: context, router: router,
                            http2: options, remoteAddress: remoteAddress, acceptedAt: acceptedAt)
        }
    }

    /// Binds `address` for HTTP/2 with prior knowledge (h2c: the client starts with the
    /// HTTP/2 preface, as gRPC clients on a unix socket do); every request stream goes to
    /// `streams`. The transport limits are this server's; `http2` bounds the HTTP/2 side.
    @discardableResult
    public func listen(_ address: ListenAddress, name: String, streams: any HTTP2StreamHandler,
                       http2 limits: HTTP2Limits = HTTP2Limits(), unixSocketMode: mode_t? = nil) throws -> ListenAddress {
        try addListener(address, name: name, tls: nil, unixSocketMode: unixSocketMode,
                        makeConnection: HTTP2Listener.connections(handler: streams, limits: limits))
    }

    private func addListener(_ address: ListenAddress, name: String, tls: TLSConfiguration?, unixSocketMode: mode_t?,
                             makeConnection: @escaping ConnectionFactory) throws -> ListenAddress {
        let reloader = try tls.map { try TLSContextReloader(configuration: $0, listenerName: name, observer: context.observer) }
        let created = try makeLoopsIfNeeded()
        let listener = try ListenerSocket(address: address, name: name, tls: reloader, unixMode: unixSocketMode,
                                          makeConnection: makeConnection)
        let loops: [EventLoop] = state.withLock { state in
            if state.loops.isEmpty { state.loops = created }
            state.listeners.append(listener)
            return state.started ? state.loops : []
        }
        for loop in loops {
            loop.execute { loop.addListener(listener) }
        }
        return listener.address
    }

    /// The event loops are created by the first `listen` (one per active core), so that
    /// resource errors surface there, where the caller can handle them.
    private func makeLoopsIfNeeded() throws -> [EventLoop] {
        if state.withLock({ !$0.loops.isEmpty }) { return [] }
        let count = max(1, ProcessInfo.processInfo.activeProcessorCount)
        var loops: [EventLoop] = []
        for _ in 0..<count { loops.append(try EventLoop(context: context.transport)) }
        return loops
    }

    /// Starts the event loops (one per active core) accepting on every listener. Without a
    /// prior `listen` there is nothing to serve and this does nothing.
    public func start() {
        let started: (loops: [EventLoop], listeners: [ListenerSocket])? = state.withLock { state in
            guard !state.started, !state.stopped, !state.loops.isEmpty else { return nil }
            state.started = true
            return (state.loops, state.listeners)
        }
        guard let (loops, listeners) = started else { return }
        for loop in loops { loop.peers = loops }
        for (index, loop) in loops.enumerated() {
            for listener in listeners { loop.addListener(listener) }
            let thread = Thread { loop.run() }
            thread.name = "keycoord-http-\(index)"
            thread.start()
        }
    }

    /// Stops accepting, lets requests already received finish, closes idle connections, and
    /// returns when every connection is closed or `limits.shutdownGrace` has passed (then
    /// the remaining connections are closed). Safe to call more than once.
    public func shutdown() async {
        let (loops, listeners, first): ([EventLoop], [ListenerSocket], Bool) = state.withLock { state in
            let first = !state.stopped
            state.stopped = true
            return (state.started ? state.loops : [], state.listeners, first)
        }
        guard first else {
            await waitForLoops(loops)
            return
        }
        context.transport.shuttingDown.store(true, ordering: .sequentiallyConsistent)
        let done = Atomic<Int>(0)
        for loop in loops {
            loop.execute {
                loop.beginShutdown()
                done.wrappingAdd(1, ordering: .sequentiallyConsistent)
            }
        }
        let deadline = ContinuousClock.now + context.limits.shutdownGrace
        while done.load(ordering: .sequentiallyConsistent) < loops.count && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(2))
        }
        for listener in listeners { listener.close() }
        while context.transport.connectionCount.load(ordering: .relaxed) > 0 && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        for loop in loops { loop.execute { loop.stop() } }
        await waitForLoops(loops)
    }

    private func waitForLoops(_ loops: [EventLoop]) async {
        while loops.contains(where: { !$0.finished.load(ordering: .acquiring) }) {
            try? await Task.sleep(for: .milliseconds(2))
        }
    }

    /// Connections currently open across all listeners.
    public var connectionCount: Int {
        context.transport.connectionCount.load(ordering: .relaxed)
    }

    /// The addresses bound so far, by listener name.
    public var boundAddresses: [(name: String, address: ListenAddress)] {
        state.withLock { $0.listeners.map { (name: $0.name, address: $0.address) } }
    }
}
