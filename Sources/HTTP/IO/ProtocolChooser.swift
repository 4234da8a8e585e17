#if canImport(Glibc)
import Glibc
#endif
import CTransportShims
import HTTP2
import Transport

/// The first connection of every socket on a listener that speaks HTTP/1.1 and HTTP/2: it
/// looks at the connection before any protocol reads it, hands the socket to the protocol's
/// own connection (`EventLoop.replace`), and lets that one read the bytes it only peeked.
///
/// - TLS: the handshake decides. ALPN "h2" is HTTP/2; "http/1.1", or no ALPN at all, is
///   HTTP/1.1 (RFC 9113 §3.3: HTTP/2 over TLS is negotiated, never sniffed).
/// - Plaintext: the client preface decides (RFC 9113 §3.3, prior knowledge: h2c). A
///   connection whose first bytes begin "PRI" as the preface does is HTTP/2 (libnghttp2
///   checks the rest of the preface and closes on a mismatch); anything else is HTTP/1.1,
///   whose parser refuses what is not a request. The "Upgrade: h2c" dance of RFC 7540 is
///   not offered (RFC 9113 deprecated it).
final class ProtocolChooser: LoopConnection {
    unowned let loop: EventLoop
    let listener: ListenerSocket
    let fileDescriptor: Int32
    private let transport: any ConnectionTransport
    private let remoteAddress: String
    private let acceptedAt: UInt64
    private let context: ServerContext
    private let router: Router
    private let http2: HTTP2Options
    private var registered = EPOLLIN.rawValue
    private var isClosed = false
    private(set) var deadline: UInt64
    /// Fewer bytes than "PRI" arrived, all matching the preface: look again at the next sweep
    /// instead of spinning on a socket that stays readable.
    private var waitingForMore = false

    /// HTTP/2's preface (RFC 9113 §3.4) as far as it tells HTTP/1.1 apart: no method starts "PRI".
    private static let prefaceStart: [UInt8] = Array("PRI".utf8)

    struct HTTP2Options {
        let handler: RouterStreamHandler
        let limits: HTTP2Limits
    }

    init(loop: EventLoop, transport: any ConnectionTransport, listener: ListenerSocket, context: ServerContext,
         router: Router, http2: HTTP2Options, remoteAddress: String, acceptedAt: UInt64) {
        self.loop = loop
        self.transport = transport
        self.fileDescriptor = transport.fileDescriptor
        self.listener = listener
        self.context = context
        self.router = router
        self.http2 = http2
        self.remoteAddress = remoteAddress
        self.acceptedAt = acceptedAt
        deadline = acceptedAt + (transport.handshakePending ? context.limits.tlsHandshakeTimeout : context.limits.headerTimeout).nanoseconds
    }

    func handle(events: UInt32) {
        guard !isClosed else { return }
        let window = UnsafeMutableRawBufferPointer(rebasing: loop.readBuffer[0..<Self.prefaceStart.count])
        let result = transport.peek(into: window)
        if transport.handshakePending {
            if case .wouldBlock = result { return watch(EPOLLIN.rawValue | transport.extraInterest) }
            return close()
        }
        if let negotiated = transport.applicationProtocol {
            return choose(http2: negotiated == "h2")
        }
        if transport.isSecure { return choose(http2: false) }
        switch result {
        case .bytes(let count) where count > 0:
            let seen = UnsafeRawBufferPointer(rebasing: window[0..<count])
            guard seen.elementsEqual(Self.prefaceStart.prefix(count)) else { return choose(http2: false) }
            if count >= Self.prefaceStart.count { return choose(http2: true) }
            if events & (EPOLLHUP.rawValue | EPOLLERR.rawValue) != 0 { return close() }
            waitingForMore = true
            deadline = min(deadline, EventLoop.now())
            watch(0)
        case .bytes, .wouldBlock:
            watch(EPOLLIN.rawValue | transport.extraInterest)
        case .closed, .failed:
            close()
        }
    }

    private func watch(_ events: UInt32) {
        guard events != registered else { return }
        registered = events
        loop.setInterest(fileDescriptor, events: events)
    }

    private func choose(http2 speaksHTTP2: Bool) {
        let next: any LoopConnection
        if speaksHTTP2 {
            next = HTTP2Listener.connection(loop: loop, transport: transport, listener: listener, handler: http2.handler,
                                            limits: http2.limits, remoteAddress: remoteAddress, acceptedAt: acceptedAt)
        } else {
            next = Connection(loop: loop, transport: transport, listener: listener, context: context, router: router,
                              remoteAddress: remoteAddress, acceptedAt: acceptedAt)
        }
        isClosed = true
        loop.replace(self, with: next)
        watch(EPOLLIN.rawValue)
        // TLS may hold the peeked record inside OpenSSL, out of epoll's sight: read it now.
        next.handle(events: EPOLLIN.rawValue)
    }

    func deadlineReached() {
        guard !isClosed else { return }
        if waitingForMore, EventLoop.now() < acceptedAt + context.limits.headerTimeout.nanoseconds {
            waitingForMore = false
            deadline = acceptedAt + context.limits.headerTimeout.nanoseconds
            return handle(events: EPOLLIN.rawValue)
        }
        close()
    }

    func shutdownRequested() {
        close()
    }

    func close() {
        guard !isClosed else { return }
        isClosed = true
        deadline = UInt64.max
        loop.remove(self)
        transport.close()
    }
}
