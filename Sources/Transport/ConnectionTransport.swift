#if canImport(Glibc)
import Glibc
#endif
import CTransportShims

/// The outcome of one transport read or write.
public enum TransportResult {
    case bytes(Int)
    case wouldBlock
    /// The peer closed its side (read returned 0).
    case closed
    case failed(Int32)
}

/// Byte I/O of one accepted connection, below every protocol: a plain socket (`SocketTransport`) or
/// TLS over the same non-blocking socket (`TLSTransport`); a protocol's connection state
/// machine is the same for both.
public protocol ConnectionTransport: AnyObject {
    var fileDescriptor: Int32 { get }
    /// Readiness the transport waits for beyond what the connection asked for, after its last
    /// `.wouldBlock`: TLS may need the socket writable to go on reading (handshake) or
    /// readable to go on writing. Zero for a plain socket.
    var extraInterest: UInt32 { get }
    /// The least room a `read` buffer must have (TLS: one record's plaintext).
    var minimumReadSize: Int { get }
    /// True while a TLS handshake is in progress; the connection's first deadline is then
    /// the handshake timeout.
    var handshakePending: Bool { get }
    /// The verified client certificate of a mutual-TLS connection.
    var tlsPeer: TLSPeer? { get }
    /// The protocol the client and server agreed on in the TLS handshake (ALPN, e.g. "h2"),
    /// nil for a plain socket, before the handshake, or when the client offered none.
    var applicationProtocol: String? { get }
    /// True for TLS: a protocol chooser then goes by ALPN alone, never by sniffing bytes.
    var isSecure: Bool { get }
    func read(into buffer: UnsafeMutableRawBufferPointer) -> TransportResult
    /// Reads without consuming (MSG_PEEK; for TLS, after the handshake, `SSL_peek`): a
    /// protocol chooser looks at a connection's first bytes and leaves them for the protocol.
    /// TLS may then hold the peeked record inside OpenSSL, where epoll does not see it, so
    /// whoever peeks must read next without waiting for readiness.
    func peek(into buffer: UnsafeMutableRawBufferPointer) -> TransportResult
    /// Writes as much of the vectors as the socket takes now (one system call).
    func write(_ vectors: UnsafeMutableBufferPointer<iovec>) -> TransportResult
    /// Ends our sending side (FIN) while still reading, so a final response is not lost to a reset.
    func shutdownWrite()
    func close()
}
