import COpenSSL
import Synchronization

/// One immutable OpenSSL `SSL_CTX` built from a `TLSConfiguration`'s files. Reloading builds
/// a new one; connections hold a reference to the `SSL_CTX` through their `SSL` (OpenSSL
/// counts it), so freeing an old context never affects an established connection.
final class TLSServerContext: @unchecked Sendable {
    // @unchecked: the SSL_CTX is fully configured in init and only read afterwards
    // (SSL_new is thread-safe on a context nobody modifies).
    let pointer: OpaquePointer

    /// TLS 1.2 suites: ECDHE key exchange with AEAD ciphers only. TLS 1.3 suites are all
    /// AEAD; OpenSSL's defaults for them stand.
    static let tls12Ciphers = [
        "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
    ].joined(separator: ":")

    init(_ configuration: TLSConfiguration) throws {
        ERR_clear_error()
        guard let ctx = SSL_CTX_new(TLS_server_method()) else { throw TLSError.openSSL("SSL_CTX_new failed") }
        do {
            try Self.configure(ctx, configuration)
        } catch {
            SSL_CTX_free(ctx)
            throw error
        }
        pointer = ctx
    }

    deinit {
        SSL_CTX_free(pointer)
    }

    private static func configure(_ ctx: OpaquePointer, _ configuration: TLSConfiguration) throws {
        guard kc_ssl_ctx_set_min_tls12(ctx) == 1 else { throw TLSError.openSSL("cannot set the minimum TLS version") }
        kc_ssl_ctx_harden(ctx)
        guard SSL_CTX_set_cipher_list(ctx, tls12Ciphers) == 1 else { throw TLSError.openSSL("cannot set the TLS 1.2 cipher suites") }
        let certificate = configuration.certificateChainFile
        guard SSL_CTX_use_certificate_chain_file(ctx, certificate) == 1 else {
            throw TLSError.openSSL("cannot load the certificate chain \(certificate)")
        }
        let key = configuration.privateKeyFile
        guard SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) == 1 else {
            throw TLSError.openSSL("cannot load the private key \(key)")
        }
        guard SSL_CTX_check_private_key(ctx) == 1 else {
            throw TLSError.openSSL("the private key \(key) does not match the certificate \(certificate)")
        }
        // Session resumption with client certificates needs a context id, else OpenSSL
        // refuses resumed sessions.
        let sessionContext: [UInt8] = Array("keycoord".utf8)
        _ = SSL_CTX_set_session_id_context(ctx, sessionContext, UInt32(sessionContext.count))
        SSL_CTX_set_alpn_select_cb(ctx, selectALPN, ALPNList.shared(configuration.applicationProtocols))
        switch configuration.clientAuth {
        case .none:
            SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nil)
        case .optional, .required:
            guard let caFile = configuration.clientCAFile, !caFile.isEmpty else {
                throw TLSError("client authentication needs a client CA file")
            }
            guard SSL_CTX_load_verify_locations(ctx, caFile, nil) == 1 else {
                throw TLSError.openSSL("cannot load the client CA bundle \(caFile)")
            }
            guard let names = SSL_load_client_CA_file(caFile) else {
                throw TLSError.openSSL("the client CA bundle \(caFile) holds no certificate")
            }
            SSL_CTX_set_client_CA_list(ctx, names)
            var mode = SSL_VERIFY_PEER
            if configuration.clientAuth == .required { mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT }
            SSL_CTX_set_verify(ctx, mode, nil)
        }
        ERR_clear_error()
    }
}

/// ALPN: choose our most preferred protocol that the client offers; refuse the handshake
/// when it offers only protocols we do not speak (RFC 7301 §3.2, no_application_protocol).
/// `arg` is an `ALPNList.shared` buffer: a length byte, then the wire list.
private func selectALPN(_ ssl: OpaquePointer?, _ out: UnsafeMutablePointer<UnsafePointer<UInt8>?>?,
                        _ outLength: UnsafeMutablePointer<UInt8>?, _ offered: UnsafePointer<UInt8>?,
                        _ offeredLength: UInt32, _ arg: UnsafeMutableRawPointer?) -> Int32 {
    guard let arg, let out, let outLength, let offered else { return SSL_TLSEXT_ERR_NOACK }
    let ours = UnsafeRawBufferPointer(start: arg + 2, count: Int(arg.load(fromByteOffset: 0, as: UInt16.self)))
    let theirs = UnsafeBufferPointer(start: offered, count: Int(offeredLength))
    var index = 0
    while index < ours.count {
        let length = Int(ours[index])
        let name = ours[(index + 1)..<(index + 1 + length)]
        var offset = 0
        while offset < theirs.count {
            let theirLength = Int(theirs[offset])
            guard offset + 1 + theirLength <= theirs.count else { break }
            if theirLength == length, theirs[(offset + 1)..<(offset + 1 + length)].elementsEqual(name) {
                out.pointee = offered + offset + 1
                outLength.pointee = UInt8(length)
                return SSL_TLSEXT_ERR_OK
            }
            offset += 1 + theirLength
        }
        index += 1 + length
    }
    return SSL_TLSEXT_ERR_ALERT_FATAL
}

/// ALPN lists in wire form, one allocation per distinct list for the process: OpenSSL keeps
/// the pointer in every context built with it, and a context outlives its reloader while
/// connections still use it, so the bytes are never freed.
private enum ALPNList {
    private static let cache = Mutex<[[String]: UInt]>([:])

    /// A buffer holding the wire list's length (2 bytes) and the wire list.
    static func shared(_ protocols: [String]) -> UnsafeMutableRawPointer {
        let address = cache.withLock { cache in
            if let address = cache[protocols] { return address }
            var wire: [UInt8] = []
            for name in protocols where !name.isEmpty && name.utf8.count < 256 {
                wire.append(UInt8(name.utf8.count))
                wire.append(contentsOf: name.utf8)
            }
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: wire.count + 2, alignment: 2)
            buffer.storeBytes(of: UInt16(wire.count), as: UInt16.self)
            (buffer + 2).copyMemory(from: wire, byteCount: wire.count)
            let address = UInt(bitPattern: buffer)
            cache[protocols] = address
            return address
        }
        return UnsafeMutableRawPointer(bitPattern: address)!
    }
}
