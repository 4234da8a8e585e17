/// The asymmetric key kinds the crypto layer can generate and parse.
public enum KeyAlgorithm: Sendable, Hashable, CustomStringConvertible {
    case ecP256
    case ecP384
    case ecP521
    case rsa(bits: Int)

    /// OpenSSL's group name for EC curves.
    var groupName: String? {
        switch self {
        case .ecP256: return "P-256"
        case .ecP384: return "P-384"
        case .ecP521: return "P-521"
        case .rsa: return nil
        }
    }

    /// Byte length of one EC coordinate (and of r or s in a JOSE signature).
    public var coordinateSize: Int? {
        switch self {
        case .ecP256: return 32
        case .ecP384: return 48
        case .ecP521: return 66
        case .rsa: return nil
        }
    }

    /// The JOSE curve name (`crv`), for EC keys.
    public var joseCurve: String? {
        switch self {
        case .ecP256: return "P-256"
        case .ecP384: return "P-384"
        case .ecP521: return "P-521"
        case .rsa: return nil
        }
    }

    static func curve(named name: String) -> KeyAlgorithm? {
        switch name.lowercased() {
        case "p-256", "prime256v1", "secp256r1": return .ecP256
        case "p-384", "secp384r1": return .ecP384
        case "p-521", "secp521r1": return .ecP521
        default: return nil
        }
    }

    public static func joseCurve(_ crv: String) -> KeyAlgorithm? {
        switch crv {
        case "P-256": return .ecP256
        case "P-384": return .ecP384
        case "P-521": return .ecP521
        default: return nil
        }
    }

    public var description: String {
        switch self {
        case .ecP256: return "EC P-256"
        case .ecP384: return "EC P-384"
        case .ecP521: return "EC P-521"
        case .rsa(let bits): return "RSA \(bits)"
        }
    }
}
