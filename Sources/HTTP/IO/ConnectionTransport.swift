#if canImport(Glibc)
import Glibc
#endif
import CHTTPShims

/// The outcome of one transport read or write.
enum TransportResult {
    case bytes(Int)
    case wouldBlock
    /// The peer closed its side (read returned 0).
    case closed
    case failed(Int32)
}

/// Byte I/O of one accepted connection, below HTTP. The plain socket implementation is the
/// only one today; a TLS transport (OpenSSL over the same non-blocking fd) implements the
/// same four calls, so the connection state machine does not change when TLS arrives.
protocol ConnectionTransport: AnyObject {
    var fileDescriptor: Int32 { get }
    func read(into buffer: UnsafeMutableRawBufferPointer) -> TransportResult
    /// Writes as much of the vectors as the socket takes now (one system call).
    func write(_ vectors: UnsafeMutableBufferPointer<iovec>) -> TransportResult
    /// Ends our sending side (FIN) while still reading, so a final response is not lost to a reset.
    func shutdownWrite()
    func close()
}

/// A non-blocking stream socket. Writes use `sendmsg` with `MSG_NOSIGNAL` so a peer that went
/// away yields EPIPE instead of killing the process with SIGPIPE.
final class SocketTransport: ConnectionTransport {
    let fileDescriptor: Int32
    private var isClosed = false

    init(fileDescriptor: Int32) {
        self.fileDescriptor = fileDescriptor
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) -> TransportResult {
        while true {
            let count = recv(fileDescriptor, buffer.baseAddress, buffer.count, 0)
            if count > 0 { return .bytes(count) }
            if count == 0 { return .closed }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return .wouldBlock
            default: return .failed(errno)
            }
        }
    }

    func write(_ vectors: UnsafeMutableBufferPointer<iovec>) -> TransportResult {
        var message = msghdr()
        message.msg_iov = vectors.baseAddress
        message.msg_iovlen = vectors.count
        while true {
            let count = sendmsg(fileDescriptor, &message, Int32(MSG_NOSIGNAL))
            if count >= 0 { return .bytes(count) }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return .wouldBlock
            default: return .failed(errno)
            }
        }
    }

    func shutdownWrite() {
        _ = shutdown(fileDescriptor, Int32(SHUT_WR))
    }

    func close() {
        guard !isClosed else { return }
        isClosed = true
        _ = Glibc.close(fileDescriptor)
    }
}
