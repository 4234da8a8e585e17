#if canImport(Glibc)
import Glibc
#endif
import CTransportShims
import COpenSSL

/// TLS over one accepted non-blocking socket, behind the same transport calls as a plain
/// socket, so a protocol's connection state machine is unchanged.
///
/// OpenSSL reads and writes the socket itself through `SocketBIO` rather than through
/// memory BIOs: no second copy of every byte and no buffers to shuttle between the loop and
/// OpenSSL; EAGAIN surfaces as SSL_ERROR_WANT_READ / WANT_WRITE, which map to `.wouldBlock`
/// plus `extraInterest` when OpenSSL needs the opposite direction (a handshake flight, a
/// TLS 1.3 key update). Read-ahead stays off, so one `SSL_read` takes exactly one record
/// from the socket and, given `minimumReadSize` bytes of room, returns all of its plaintext:
/// nothing is left inside OpenSSL that level-triggered epoll would not report.
///
/// The handshake runs inside the first reads. Until it completes the connection counts
/// against `TransportLimits.maxTLSHandshakes` and is closed after `tlsHandshakeTimeout`.
final class TLSTransport: ConnectionTransport {
    let fileDescriptor: Int32
    private let ssl: OpaquePointer
    private let context: TransportContext
    private var established = false
    private var isClosed = false
    private var blockedOn: UInt32 = 0
    /// Coalesces the output vectors so a response becomes one record, not one per vector.
    private var scratch: UnsafeMutableRawBufferPointer?
    private(set) var tlsPeer: TLSPeer?
    private(set) var applicationProtocol: String?

    /// Largest plaintext of one TLS record (RFC 8446 §5.1).
    static let recordPlaintext = 16 * 1024

    /// Takes ownership of `fileDescriptor` only on success; nil if OpenSSL cannot allocate.
    /// The caller has already counted the connection in `context.tlsHandshakes`.
    init?(fileDescriptor: Int32, tls: TLSServerContext, context: TransportContext) {
        guard let ssl = SSL_new(tls.pointer) else {
            ERR_clear_error()
            return nil
        }
        guard let bio = SocketBIO.make(fileDescriptor: fileDescriptor) else {
            SSL_free(ssl)
            ERR_clear_error()
            return nil
        }
        SSL_set_bio(ssl, bio, bio)
        SSL_set_accept_state(ssl)
        self.ssl = ssl
        self.fileDescriptor = fileDescriptor
        self.context = context
    }

    deinit {
        scratch?.deallocate()
    }

    var extraInterest: UInt32 { blockedOn }
    var minimumReadSize: Int { Self.recordPlaintext }
    var handshakePending: Bool { !established }
    var isSecure: Bool { true }

    func read(into buffer: UnsafeMutableRawBufferPointer) -> TransportResult {
        blockedOn = 0
        if !established {
            let result = handshake()
            guard case .bytes = result else { return result }
        }
        var total = 0
        // Stop once less than a record fits: the rest stays in the kernel, where epoll sees it.
        while total == 0 || buffer.count - total >= Self.recordPlaintext {
            var count = 0
            if SSL_read_ex(ssl, buffer.baseAddress.map { $0 + total }, buffer.count - total, &count) == 1 {
                total += count
                continue
            }
            let outcome = failure(SSL_get_error(ssl, 0), wanting: EPOLLIN.rawValue)
            return total > 0 ? .bytes(total) : outcome
        }
        return .bytes(total)
    }

    func peek(into buffer: UnsafeMutableRawBufferPointer) -> TransportResult {
        blockedOn = 0
        if !established {
            let result = handshake()
            guard case .bytes = result else { return result }
        }
        var count = 0
        if SSL_peek_ex(ssl, buffer.baseAddress, buffer.count, &count) == 1 { return .bytes(count) }
        return failure(SSL_get_error(ssl, 0), wanting: EPOLLIN.rawValue)
    }

    func write(_ vectors: UnsafeMutableBufferPointer<iovec>) -> TransportResult {
        blockedOn = 0
        guard established else { return .wouldBlock }
        let chunk = coalesce(vectors)
        var written = 0
        if SSL_write_ex(ssl, chunk.baseAddress, chunk.count, &written) == 1 { return .bytes(written) }
        return failure(SSL_get_error(ssl, 0), wanting: EPOLLOUT.rawValue)
    }

    /// Sends close_notify (best effort) and FIN.
    func shutdownWrite() {
        if established {
            _ = SSL_shutdown(ssl)
            ERR_clear_error()
        }
        _ = shutdown(fileDescriptor, Int32(SHUT_WR))
    }

    func close() {
        guard !isClosed else { return }
        isClosed = true
        if !established { context.tlsHandshakes.wrappingSubtract(1, ordering: .relaxed) }
        SSL_free(ssl)
        scratch?.deallocate()
        scratch = nil
        _ = Glibc.close(fileDescriptor)
    }

    // MARK: Helpers

    /// Advances the handshake; `.bytes(0)` once it is complete.
    private func handshake() -> TransportResult {
        let status = SSL_do_handshake(ssl)
        guard status == 1 else { return failure(SSL_get_error(ssl, status), wanting: EPOLLIN.rawValue) }
        established = true
        context.tlsHandshakes.wrappingSubtract(1, ordering: .relaxed)
        tlsPeer = Self.verifiedPeer(ssl)
        applicationProtocol = Self.selectedProtocol(ssl)
        return .bytes(0)
    }

    /// Maps an OpenSSL error to a transport result, remembering which readiness OpenSSL waits for.
    private func failure(_ code: Int32, wanting natural: UInt32) -> TransportResult {
        switch code {
        case SSL_ERROR_WANT_READ:
            if natural != EPOLLIN.rawValue { blockedOn = EPOLLIN.rawValue }
            return .wouldBlock
        case SSL_ERROR_WANT_WRITE:
            if natural != EPOLLOUT.rawValue { blockedOn = EPOLLOUT.rawValue }
            return .wouldBlock
        case SSL_ERROR_ZERO_RETURN:
            ERR_clear_error()
            return .closed
        case SSL_ERROR_SYSCALL:
            let code = errno
            ERR_clear_error()
            return code == 0 ? .closed : .failed(code)
        default:
            // Garbage, a refused certificate, an unsupported version: the peer gets OpenSSL's
            // alert (when one applies) and the connection closes.
            ERR_clear_error()
            return .failed(EPROTO)
        }
    }

    private func coalesce(_ vectors: UnsafeMutableBufferPointer<iovec>) -> UnsafeRawBufferPointer {
        if vectors.count == 1 || vectors[0].iov_len >= Self.recordPlaintext {
            return UnsafeRawBufferPointer(start: vectors[0].iov_base, count: vectors[0].iov_len)
        }
        let buffer = scratch ?? .allocate(byteCount: Self.recordPlaintext, alignment: 16)
        scratch = buffer
        var count = 0
        for vector in vectors {
            guard let base = vector.iov_base, count < buffer.count else { break }
            let take = min(vector.iov_len, buffer.count - count)
            UnsafeMutableRawBufferPointer(rebasing: buffer[count..<(count + take)])
                .copyMemory(from: UnsafeRawBufferPointer(start: base, count: take))
            count += take
        }
        return UnsafeRawBufferPointer(rebasing: buffer[0..<count])
    }

    private static func selectedProtocol(_ ssl: OpaquePointer) -> String? {
        var name: UnsafePointer<UInt8>?
        var length: UInt32 = 0
        SSL_get0_alpn_selected(ssl, &name, &length)
        guard let name, length > 0 else { return nil }
        return String(decoding: UnsafeBufferPointer(start: name, count: Int(length)), as: UTF8.self)
    }

    /// The client certificate, if one was sent and verified against the client CAs.
    private static func verifiedPeer(_ ssl: OpaquePointer) -> TLSPeer? {
        guard let certificate = SSL_get0_peer_certificate(ssl), SSL_get_verify_result(ssl) == X509_V_OK else { return nil }
        var uris: [String] = []
        if let raw = X509_get_ext_d2i(certificate, NID_subject_alt_name, nil, nil) {
            let names = OpaquePointer(raw)
            for index in 0..<OPENSSL_sk_num(names) {
                guard let element = OPENSSL_sk_value(names, index) else { continue }
                let name = element.assumingMemoryBound(to: GENERAL_NAME.self)
                guard name.pointee.type == GEN_URI, let uri = name.pointee.d.uniformResourceIdentifier,
                      let data = ASN1_STRING_get0_data(uri) else { continue }
                let length = Int(ASN1_STRING_length(uri))
                uris.append(String(decoding: UnsafeBufferPointer(start: data, count: length), as: UTF8.self))
            }
            GENERAL_NAMES_free(names)
        }
        var subject = ""
        if let name = X509_get_subject_name(certificate), let line = X509_NAME_oneline(name, nil, 0) {
            subject = String(cString: line)
            CRYPTO_free(line, #fileID, #line)
        }
        ERR_clear_error()
        return TLSPeer(uriSANs: uris, subject: subject)
    }
}
