import Crypto

/// The JWT signing key types SPIRE supports, by SPIRE's own names.
public enum KeyType: String, CaseIterable, Codable, Sendable, Comparable {
    case ecP256 = "ec-p256"
    case ecP384 = "ec-p384"
    case rsa2048 = "rsa-2048"
    case rsa4096 = "rsa-4096"

    /// The JOSE `alg` a JWT signed with this key carries.
    public var alg: String {
        switch self {
        case .ecP256: return "ES256"
        case .ecP384: return "ES384"
        case .rsa2048, .rsa4096: return "RS256"
        }
    }

    /// The hash the JOSE algorithm signs over.
    public var hash: HashAlgorithm {
        switch self {
        case .ecP384: return .sha384
        case .ecP256, .rsa2048, .rsa4096: return .sha256
        }
    }

    /// The family relying parties count keys by (AWS IAM: 100 RSA + 100 EC).
    public var family: KeyFamily {
        switch self {
        case .ecP256, .ecP384: return .ec
        case .rsa2048, .rsa4096: return .rsa
        }
    }

    public var algorithm: KeyAlgorithm {
        switch self {
        case .ecP256: return .ecP256
        case .ecP384: return .ecP384
        case .rsa2048: return .rsa(bits: 2048)
        case .rsa4096: return .rsa(bits: 4096)
        }
    }

    /// The key type of a parsed public key, or nil for keys SPIRE would not mint.
    public init?(_ algorithm: KeyAlgorithm) {
        switch algorithm {
        case .ecP256: self = .ecP256
        case .ecP384: self = .ecP384
        case .rsa(2048): self = .rsa2048
        case .rsa(4096): self = .rsa4096
        default: return nil
        }
    }

    public static func < (lhs: KeyType, rhs: KeyType) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

/// Key families as relying parties count them.
public enum KeyFamily: String, Codable, Sendable {
    case ec = "EC"
    case rsa = "RSA"
}
