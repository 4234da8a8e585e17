import Crypto
import Foundation
import JSON

/// A public JSON Web Key (RFC 7517/7518) of an EC or RSA signing key.
///
/// Encoding follows what relying parties expect: base64url without padding, EC
/// coordinates at full length (leading zeros kept), RSA `n`/`e` in minimal octets, and a
/// fixed member order so the JWKS bytes are deterministic. Parsing is strict: anything
/// that is not a well-formed public EC or RSA key is refused with
/// `CoordinationError.invalid`.
public struct JWK: Sendable, Equatable {
    /// The key material, decoded.
    public enum Material: Sendable, Equatable {
        case ec(crv: String, x: [UInt8], y: [UInt8])
        case rsa(n: [UInt8], e: [UInt8])
    }

    public var material: Material
    public var kid: String?
    public var alg: String?
    public var use: String?

    /// Members that only private (or symmetric) keys carry; a JWK holding one is refused
    /// so that private material never enters the registry.
    static let privateMembers: Set<String> = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"]

    public init(material: Material, kid: String? = nil, alg: String? = nil, use: String? = nil) {
        self.material = material
        self.kid = kid
        self.alg = alg
        self.use = use
    }

    /// The JWK of `publicKey`, as keycoord serves it (`use` is always `sig`).
    public init(publicKey: PublicKey, kid: String?, alg: String?) {
        switch publicKey.parameters {
        case .ec(let curve, let x, let y):
            material = .ec(crv: curve.joseCurve ?? curve.description, x: x, y: y)
        case .rsa(let n, let e):
            material = .rsa(n: Self.minimal(n), e: Self.minimal(e))
        }
        self.kid = kid
        self.alg = alg
        self.use = "sig"
    }

    /// `kty` as RFC 7518 names it.
    public var kty: String {
        switch material {
        case .ec: return "EC"
        case .rsa: return "RSA"
        }
    }

    /// Compact JSON with members in a fixed order: kty, use, kid, alg, then crv/x/y or n/e.
    public var json: String {
        var members: [(String, String)] = [("kty", JSONText.quoted(kty))]
        if let use { members.append(("use", JSONText.quoted(use))) }
        if let kid { members.append(("kid", JSONText.quoted(kid))) }
        if let alg { members.append(("alg", JSONText.quoted(alg))) }
        switch material {
        case .ec(let crv, let x, let y):
            members += [("crv", JSONText.quoted(crv)), ("x", JSONText.quoted(Base64URL.encode(x))),
                        ("y", JSONText.quoted(Base64URL.encode(y)))]
        case .rsa(let n, let e):
            members += [("n", JSONText.quoted(Base64URL.encode(n))), ("e", JSONText.quoted(Base64URL.encode(e)))]
        }
        return JSONText.object(members)
    }

    /// The public key this JWK describes; EC points must lie on the curve, and an `alg`
    /// member must be the one a SPIRE key of that type signs with.
    public func publicKey() throws -> PublicKey {
        let key: PublicKey
        do {
            switch material {
            case .ec(let crv, let x, let y):
                guard let curve = KeyAlgorithm.joseCurve(crv) else {
                    throw CoordinationError.invalid("JWK crv \(crv) is not supported (use P-256 or P-384)")
                }
                key = try PublicKey.ec(curve: curve, x: x, y: y)
            case .rsa(let n, let e):
                key = try PublicKey.rsa(n: n, e: e)
            }
        } catch let error as CryptoError {
            throw CoordinationError.invalid("JWK is not a valid \(kty) public key: \(error.message)")
        }
        if let alg, let type = KeyType(key.algorithm), type.alg != alg {
            throw CoordinationError.invalid("JWK alg \(alg) does not match its \(key.algorithm) key (expected \(type.alg))")
        }
        return key
    }

    /// Parses one JWK from JSON text.
    public static func parse(_ json: [UInt8]) throws -> JWK {
        let value: Any
        do {
            value = try JSONSerialization.jsonObject(with: Data(json), options: [])
        } catch {
            throw CoordinationError.invalid("JWK is not valid JSON")
        }
        guard let object = value as? [String: Any] else {
            throw CoordinationError.invalid("JWK must be a JSON object")
        }
        return try parse(object: object)
    }

    /// Parses one JWK already decoded by `JSONSerialization` (e.g. a member of a request body).
    public static func parse(object: [String: Any]) throws -> JWK {
        if let member = privateMembers.first(where: { object[$0] != nil }) {
            throw CoordinationError.invalid("JWK holds private key material (member \"\(member)\"); send the public key only")
        }
        let kty = try string(object, "kty", required: true)
        let kid = try string(object, "kid", required: false)
        let alg = try string(object, "alg", required: false)
        let use = try string(object, "use", required: false)
        if let use, use != "sig" {
            throw CoordinationError.invalid("JWK use must be \"sig\", not \"\(use)\"")
        }
        switch kty {
        case "EC":
            let crv = try string(object, "crv", required: true) ?? ""
            guard let curve = KeyAlgorithm.joseCurve(crv), let size = curve.coordinateSize else {
                throw CoordinationError.invalid("JWK crv \"\(crv)\" is not supported (use P-256 or P-384; P-521 parses but is not a SPIRE key type)")
            }
            let x = try bytes(object, "x")
            let y = try bytes(object, "y")
            guard x.count == size, y.count == size else {
                throw CoordinationError.invalid("JWK \(crv) coordinates must be \(size) bytes each (got x \(x.count), y \(y.count))")
            }
            return JWK(material: .ec(crv: crv, x: x, y: y), kid: kid, alg: alg, use: use)
        case "RSA":
            let n = try bytes(object, "n")
            let e = try bytes(object, "e")
            guard n.first != 0, e.first != 0 else {
                throw CoordinationError.invalid("JWK RSA n and e must use the minimum number of octets (no leading zero)")
            }
            return JWK(material: .rsa(n: n, e: e), kid: kid, alg: alg, use: use)
        default:
            throw CoordinationError.invalid("JWK kty \"\(kty ?? "")\" is not supported (use EC or RSA)")
        }
    }

    /// The RFC 7638 thumbprint: base64url SHA-256 over the required members in
    /// lexicographic order (`crv`,`kty`,`x`,`y` or `e`,`kty`,`n`), no whitespace.
    public static func thumbprint(of key: PublicKey) -> String {
        let jwk = JWK(publicKey: key, kid: nil, alg: nil)
        let canonical: String
        switch jwk.material {
        case .ec(let crv, let x, let y):
            canonical = JSONText.object([("crv", JSONText.quoted(crv)), ("kty", "\"EC\""),
                                         ("x", JSONText.quoted(Base64URL.encode(x))),
                                         ("y", JSONText.quoted(Base64URL.encode(y)))])
        case .rsa(let n, let e):
            canonical = JSONText.object([("e", JSONText.quoted(Base64URL.encode(e))), ("kty", "\"RSA\""),
                                         ("n", JSONText.quoted(Base64URL.encode(n)))])
        }
        return Base64URL.encode(Digest.sha256(Array(canonical.utf8)))
    }

    private static func string(_ object: [String: Any], _ name: String, required: Bool) throws -> String? {
        guard let value = object[name] else {
            if required { throw CoordinationError.invalid("JWK is missing \"\(name)\"") }
            return nil
        }
        guard let text = value as? String else {
            throw CoordinationError.invalid("JWK member \"\(name)\" must be a string")
        }
        return text
    }

    private static func bytes(_ object: [String: Any], _ name: String) throws -> [UInt8] {
        let text = try string(object, name, required: true) ?? ""
        guard let decoded = Base64URL.decode(text), !decoded.isEmpty else {
            throw CoordinationError.invalid("JWK member \"\(name)\" is not non-empty base64url without padding")
        }
        return decoded
    }

    private static func minimal(_ bytes: [UInt8]) -> [UInt8] {
        let trimmed = Array(bytes.drop(while: { $0 == 0 }))
        return trimmed.isEmpty ? [0] : trimmed
    }
}
