import Core
import Crypto
import Foundation

/// A public key as a publishing server may send it: PEM (`PUBLIC KEY`), base64 DER
/// SubjectPublicKeyInfo, or a JWK object.
enum PublicKeyInput {
    static func parse(_ value: Any) throws -> PublicKey {
        do {
            if let jwk = value as? [String: Any] {
                return try JWK.parsePublicKey(jwk)
            }
            guard let text = value as? String, !text.isEmpty, text.utf8.count <= 16_384 else {
                throw APIError.badRequest("public_key must be a PEM string, base64 DER or a JWK object")
            }
            if text.contains("-----BEGIN") { return try PublicKey(pem: text) }
            guard let der = PEM.decodeBase64(text.filter { !$0.isWhitespace }) else {
                throw APIError.badRequest("public_key is neither PEM nor base64 DER")
            }
            return try PublicKey(der: der)
        } catch let error as CryptoError {
            throw CoordinationError.invalid("public_key: \(error.message)")
        }
    }
}
