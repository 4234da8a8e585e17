/// TLS settings of one listener: where its certificate, key and (for mutual TLS) trusted
/// client CAs are. The files are re-read when they change (see `TLSContextReloader`), so
/// certificate rotation by cert-manager or spiffe-helper needs no restart.
public struct TLSConfiguration: Sendable, Equatable {
    /// Whether the server asks for, and requires, a client certificate.
    public enum ClientAuth: String, Sendable, Equatable {
        /// No client certificate is requested.
        case none
        /// A certificate is requested; if one is sent it must verify against `clientCAFile`.
        case optional
        /// The handshake fails without a client certificate that verifies.
        case required
    }

    /// PEM file: the server certificate followed by its intermediates.
    public var certificateChainFile: String
    /// PEM file: the private key of the certificate.
    public var privateKeyFile: String
    /// PEM bundle of CAs that client certificates must chain to; needed unless `clientAuth` is `.none`.
    public var clientCAFile: String?
    public var clientAuth: ClientAuth
    /// The application protocols offered in ALPN, most preferred first (the server's
    /// preference decides, RFC 7301 §3.2). A client that offers none of them is refused with
    /// the no_application_protocol alert; one that offers no ALPN at all speaks HTTP/1.1.
    public var applicationProtocols: [String]

    public init(certificateChainFile: String, privateKeyFile: String, clientCAFile: String? = nil,
                clientAuth: ClientAuth = .none, applicationProtocols: [String] = ["http/1.1"]) {
        self.certificateChainFile = certificateChainFile
        self.privateKeyFile = privateKeyFile
        self.clientCAFile = clientCAFile
        self.clientAuth = clientAuth
        self.applicationProtocols = applicationProtocols
    }

    /// The files whose change triggers a reload.
    var watchedFiles: [String] {
        [certificateChainFile, privateKeyFile] + (clientCAFile.map { [$0] } ?? [])
    }
}
