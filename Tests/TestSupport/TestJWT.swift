import Crypto
import Foundation

/// Builds compact JWS tokens the way a SPIRE server signs JWT-SVIDs, for end-to-end
/// checks against the served JWKS.
public enum TestJWT {
    /// Signing input `base64url(header).base64url(claims)` for an alg/kid pair.
    public static func signingInput(alg: String, kid: String, claims: [String: Any]) throws -> String {
        let header = try JSONSerialization.data(withJSONObject: ["alg": alg, "kid": kid, "typ": "JWT"], options: [.sortedKeys])
        let payload = try JSONSerialization.data(withJSONObject: claims, options: [.sortedKeys])
        return Base64URL.encode(Array(header)) + "." + Base64URL.encode(Array(payload))
    }

    /// Signs with a private key in hand (a disk backend key file).
    public static func sign(alg: String, kid: String, claims: [String: Any], key: PrivateKey) throws -> String {
        let input = try signingInput(alg: alg, kid: kid, claims: claims)
        let hash: HashAlgorithm = alg == "ES384" ? .sha384 : .sha256
        var signature = try key.sign(digest: Digest.hash(hash, Array(input.utf8)), hash: hash)
        if let size = key.algorithm.coordinateSize {
            signature = try ECDSASignature.raw(fromDER: signature, coordinateSize: size)
        }
        return input + "." + Base64URL.encode(signature)
    }

    public static func claims(subject: String = "spiffe://example.org/workload", audience: String = "test") -> [String: Any] {
        let now = Int(Date().timeIntervalSince1970)
        return ["sub": subject, "aud": audience, "iat": now, "exp": now + 300]
    }
}
