import Core
import Crypto

/// Turns a signature as a backend's signer returns it into the encoding `KeyBackend.sign`
/// was asked for (JOSE r‖s or DER for ECDSA; RSA PKCS #1 v1.5 and PSS bytes have one form),
/// checking its size on the way. AWS KMS, GCP Cloud KMS and OpenSSL give ECDSA signatures
/// in DER, Azure Key Vault gives r‖s: asking for the signer's own encoding converts nothing.
public enum BackendSignature {
    /// `signature` (in the signer's `native` encoding) in `wanted`; `.backendFailure`
    /// naming `source` when it cannot be a `keyType` signature (a key of another type
    /// behind the reference, a truncated answer).
    public static func convert(_ signature: [UInt8], from native: SignatureEncoding, to wanted: SignatureEncoding,
                               keyType: KeyType, source: String) throws -> [UInt8] {
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
            switch native {
            case .jose:
                guard signature.count == 2 * size else {
                    throw CoordinationError.backendFailure(BackendError(
                        .failed, "\(source) returned a \(signature.count)-byte \(keyType.alg) signature; r‖s needs \(2 * size)"))
                }
                return wanted == .jose ? signature : try ECDSASignature.der(fromRaw: signature)
            case .der:
                do {
                    if wanted == .der {
                        try ECDSASignature.checkDER(signature, coordinateSize: size)
                        return signature
                    }
                    return try ECDSASignature.raw(fromDER: signature, coordinateSize: size)
                } catch {
                    throw CoordinationError.backendFailure(BackendError(
                        .failed, "\(source) returned no \(keyType.alg) DER signature (is the key \(keyType.rawValue)?): \(error)"))
                }
            }
        }
    }
}
