#if canImport(Glibc)
import Glibc
#endif
import CTransportShims

/// A non-blocking stream socket. Writes use `sendmsg` with `MSG_NOSIGNAL` so a peer that went
/// away yields EPIPE instead of killing the process with SIGPIPE.
final class SocketTransport: ConnectionTransport {
    let fileDescriptor: Int32
    private var isClosed = false

    init(fileDescriptor: Int32) {
        self.fileDescriptor = fileDescriptor
    }

    var extraInterest: UInt32 { 0 }
    var minimumReadSize: Int { 4096 }
    var handshakePending: Bool { false }
    var tlsPeer: TLSPeer? { nil }
    var applicationProtocol: String? { nil }
    var isSecure: Bool { false }

    func read(into buffer: UnsafeMutableRawBufferPointer) -> TransportResult {
        receive(into: buffer, flags: 0)
    }

    func peek(into buffer: UnsafeMutableRawBufferPointer) -> TransportResult {
        receive(into: buffer, flags: Int32(MSG_PEEK))
    }

    private func receive(into buffer: UnsafeMutableRawBufferPointer, flags: Int32) -> TransportResult {
        while true {
            let count = recv(fileDescriptor, buffer.baseAddress, buffer.count, flags)
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
