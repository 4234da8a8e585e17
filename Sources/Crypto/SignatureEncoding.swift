/// How an ECDSA signature is laid out; RSA signatures have one form and pass either way.
/// JOSE (JWS) wants r‖s, X.509 verifiers and SPIRE's `SignData` want DER, and each signer
/// produces one of them natively (OpenSSL, AWS KMS and Cloud KMS DER, Azure Key Vault r‖s),
/// so asking for the native one costs no conversion.
public enum SignatureEncoding: Sendable, Equatable {
    /// Fixed-width r‖s (RFC 7518 §3.4).
    case jose
    /// A DER `ECDSA-Sig-Value` (RFC 3279 §2.2.3).
    case der
}
