import COpenSSL

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

    /// The ALPN protocol list we offer, in wire form: one length-prefixed name.
    private static let alpnHTTP11 = ALPNList()

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
        SSL_CTX_set_alpn_select_cb(ctx, selectALPN, alpnHTTP11.arg)
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

/// ALPN: choose http/1.1 when the client offers it; refuse the handshake when it offers
/// only protocols we do not speak (RFC 7301 §3.2, no_application_protocol).
private func selectALPN(_ ssl: OpaquePointer?, _ out: UnsafeMutablePointer<UnsafePointer<UInt8>?>?,
                        _ outLength: UnsafeMutablePointer<UInt8>?, _ offered: UnsafePointer<UInt8>?,
                        _ offeredLength: UInt32, _ arg: UnsafeMutableRawPointer?) -> Int32 {
    guard let arg, let out, let outLength else { return SSL_TLSEXT_ERR_NOACK }
    let ours = arg.assumingMemoryBound(to: UInt8.self)
    var selected: UnsafeMutablePointer<UInt8>?
    let result = SSL_select_next_proto(&selected, outLength, ours, UInt32(ALPNList.wire.count), offered, offeredLength)
    guard result == OPENSSL_NPN_NEGOTIATED, let selected else { return SSL_TLSEXT_ERR_ALERT_FATAL }
    out.pointee = UnsafePointer(selected)
    return SSL_TLSEXT_ERR_OK
}

/// The ALPN list in wire form, allocated once for the process (OpenSSL keeps pointers into it).
private final class ALPNList: @unchecked Sendable {
    // @unchecked: written once in init, read-only afterwards.
    static let wire: [UInt8] = [8] + Array("http/1.1".utf8)
    let arg: UnsafeMutableRawPointer

    init() {
        let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: Self.wire.count)
        buffer.initialize(from: Self.wire, count: Self.wire.count)
        arg = UnsafeMutableRawPointer(buffer)
    }
}
