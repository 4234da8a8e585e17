/// The verified client certificate of a mutual-TLS connection, as handlers see it.
public struct TLSPeer: Sendable, Equatable {
    /// URI subject alternative names, in certificate order (a SPIFFE ID is one of these).
    public var uriSANs: [String]
    /// The subject distinguished name in OpenSSL's one-line form (`/O=.../CN=...`), for logs.
    public var subject: String

    public init(uriSANs: [String], subject: String) {
        self.uriSANs = uriSANs
        self.subject = subject
    }

    /// The URI SANs that are SPIFFE IDs; an X.509-SVID carries exactly one.
    public var spiffeIDs: [String] {
        uriSANs.filter { $0.hasPrefix("spiffe://") }
    }
}
