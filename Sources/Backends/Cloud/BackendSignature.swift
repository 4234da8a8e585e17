import Core
import Crypto

/// Turns a signature as a backend returns it into the JOSE form `KeyBackend.sign`
/// promises (RFC 7518: r‖s for ECDSA, the PKCS #1 v1.5 bytes for RSA), checking its size
/// on the way. AWS KMS, GCP Cloud KMS and OpenSSL give ECDSA signatures in DER; Azure Key
/// Vault already gives r‖s.
public enum JOSESignature {
    public enum Encoding: Sendable {
        /// A DER `ECDSA-Sig-Value` (AWS KMS, Cloud KMS, OpenSSL).
        case der
        /// Fixed-width r‖s (Azure Key Vault).
        case raw
    }

    /// `signature` in JOSE form; `.backendFailure` naming `source` when it cannot be a
    /// `keyType` signature (a key of another type behind the reference, a truncated answer).
    public static func from(_ signature: [UInt8], encoding: Encoding, keyType: KeyType, source: String) throws -> [UInt8] {
        switch keyType.algorithm {
        case .rsa(let bits):
            guard signature.count == bits / 8 else {
                throw CoordinationError.backendFailure(BackendError(
                    .failed, "\(source) returned \(signature.count) bytes for an RSA-\(bits) signature (is the key \(keyType.rawValue)?)"))
            }
            return signature
        default:
            guard let size = keyType.algorithm.coordinateSize else {
                throw CoordinationError.invalid("\(keyType.rawValue) has no ECDSA coordinate size")
            }
            switch encoding {
            case .raw:
                guard signature.count == 2 * size else {
                    throw CoordinationError.backendFailure(BackendError(
                        .failed, "\(source) returned a \(signature.count)-byte \(keyType.alg) signature; r‖s needs \(2 * size)"))
                }
                return signature
            case .der:
                do {
                    return try ECDSASignature.raw(fromDER: signature, coordinateSize: size)
                } catch {
                    throw CoordinationError.backendFailure(BackendError(
                        .failed, "\(source) returned no \(keyType.alg) DER signature (is the key \(keyType.rawValue)?): \(error)"))
                }
            }
        }
    }

    /// The DER form of a JOSE ECDSA signature, for verifiers that take DER; RSA unchanged.
    public static func der(fromJOSE signature: [UInt8], keyType: KeyType) throws -> [UInt8] {
        guard keyType.algorithm.coordinateSize != nil else { return signature }
        return try ECDSASignature.der(fromRaw: signature)
    }
}
