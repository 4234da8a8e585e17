import Crypto

/// How keycoord derives a key id from a public key. Every format is deterministic, so the
/// same key gets the same kid on every server and every restart.
public enum KidFormat: String, Sendable, Codable, CaseIterable {
    /// SPIRE's kid (PR 6537): lowercase hex of SHA-1 over the SPKI `subjectPublicKey` bits
    /// (RFC 5280 §4.2.1.2 method 1). The default, so SPIRE servers and keycoord agree.
    case spire
    /// SPIRE in FIPS mode: the first 20 bytes of SHA-256 over the same bits, in hex.
    case spireFIPS = "spire-fips"
    /// The RFC 7638 JWK thumbprint (base64url SHA-256), the JOSE-native choice.
    case rfc7638

    /// The kid of `key` in this format.
    public func kid(for key: PublicKey) -> String {
        switch self {
        case .spire:
            return Self.evenLength(Hex.encode(Digest.sha1(key.subjectPublicKeyBits)))
        case .spireFIPS:
            return Self.evenLength(Hex.encode(Digest.sha256(key.subjectPublicKeyBits).prefix(20)))
        case .rfc7638:
            return JWK.thumbprint(of: key)
        }
    }

    /// SPIRE's `x509util.SubjectKeyIDToString` prints the digest bytes with `%x` (two
    /// digits per byte) and pads an odd result with a leading "0"; for a 20-byte digest
    /// the padding never applies, and this keeps that contract explicit.
    private static func evenLength(_ hex: String) -> String {
        hex.utf8.count % 2 == 0 ? hex : "0" + hex
    }
}
