#if canImport(Glibc)
import Glibc
#endif
import CTransportShims
import COpenSSL

/// An OpenSSL BIO over a non-blocking socket that writes with `MSG_NOSIGNAL`.
///
/// OpenSSL's own socket BIO writes with `write(2)`, which raises SIGPIPE when the peer has
/// gone; this server never relies on SIGPIPE being ignored (see `SocketTransport`), so TLS
/// gets the same `send` flags through this small BIO. EAGAIN becomes OpenSSL's retry flags,
/// which `SSL_get_error` reports as WANT_READ / WANT_WRITE.
enum SocketBIO {
    private final class Method: @unchecked Sendable {
        // @unchecked: the BIO_METHOD is built once and never modified afterwards.
        let pointer: OpaquePointer?

        init() {
            let method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "keycoord-socket")
            if let method {
                BIO_meth_set_write(method, socketWrite)
                BIO_meth_set_read(method, socketRead)
                BIO_meth_set_ctrl(method, socketControl)
                BIO_meth_set_create(method, socketCreate)
            }
            pointer = method
        }
    }

    private static let method = Method()

    /// A BIO for `fileDescriptor`; nil if OpenSSL is out of memory. The BIO does not own
    /// the descriptor: the transport closes it.
    static func make(fileDescriptor: Int32) -> OpaquePointer? {
        guard let method = method.pointer, let bio = BIO_new(method) else { return nil }
        // fd + 1 so that descriptor 0 is not stored as a null pointer.
        BIO_set_data(bio, UnsafeMutableRawPointer(bitPattern: Int(fileDescriptor) + 1))
        return bio
    }

    fileprivate static func descriptor(_ bio: OpaquePointer?) -> Int32 {
        Int32(Int(bitPattern: BIO_get_data(bio)) - 1)
    }
}

private func socketCreate(_ bio: OpaquePointer?) -> Int32 {
    BIO_set_init(bio, 1)
    return 1
}

private func socketWrite(_ bio: OpaquePointer?, _ data: UnsafePointer<CChar>?, _ length: Int32) -> Int32 {
    kc_bio_clear_retry(bio)
    let fd = SocketBIO.descriptor(bio)
    while true {
        let count = send(fd, data, Int(length), Int32(MSG_NOSIGNAL))
        if count >= 0 { return Int32(count) }
        switch errno {
        case EINTR: continue
        case EAGAIN, EWOULDBLOCK:
            kc_bio_set_retry_write(bio)
            return -1
        default: return -1
        }
    }
}

private func socketRead(_ bio: OpaquePointer?, _ data: UnsafeMutablePointer<CChar>?, _ length: Int32) -> Int32 {
    kc_bio_clear_retry(bio)
    let fd = SocketBIO.descriptor(bio)
    while true {
        let count = recv(fd, data, Int(length), 0)
        if count >= 0 { return Int32(count) }
        switch errno {
        case EINTR: continue
        case EAGAIN, EWOULDBLOCK:
            kc_bio_set_retry_read(bio)
            return -1
        default: return -1
        }
    }
}

/// Only FLUSH matters (writes are unbuffered); every other control is unsupported.
private func socketControl(_ bio: OpaquePointer?, _ command: Int32, _ number: Int, _ pointer: UnsafeMutableRawPointer?) -> Int {
    command == BIO_CTRL_FLUSH ? 1 : 0
}
