import Core
import Crypto
import Foundation

/// A `public_key` member as a publishing server may send it: a string (PEM `PUBLIC KEY`
/// or base64 DER) or a JWK object; Core's `PublicKeyInput` does the parsing.
enum PublicKeyMember {
    static func parse(_ value: Any) throws -> PublicKey {
        if let jwk = value as? [String: Any] {
            return try PublicKeyInput.parse(Array(try JSONEncoding.encode(jwk).utf8))
        }
        guard let text = value as? String, !text.isEmpty else {
            throw APIError.badRequest("public_key must be a PEM string, base64 DER or a JWK object")
        }
        guard text.utf8.count <= 16_384 else { throw APIError.badRequest("public_key is longer than 16384 bytes") }
        return try PublicKeyInput.parse(text)
    }
}
