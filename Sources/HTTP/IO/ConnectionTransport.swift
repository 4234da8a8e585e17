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
