import Core
import FileSupport

/// The files of one disk key, derived from or checked against a backend reference.
///
/// A reference is the absolute path `<root>/<trust-domain>/<key-type>-<32 hex>.pem`.
/// Parsing accepts exactly that shape (no `..`, no extra components, no other names),
/// so a reference handed in from outside can never address a file elsewhere.
struct DiskKeyLocation: Sendable, Equatable {
    let root: String
    let trustDomain: String
    let keyType: KeyType
    let id: String

    init(root: String, trustDomain: String, keyType: KeyType, id: String) {
        self.root = root
        self.trustDomain = trustDomain
        self.keyType = keyType
        self.id = id
    }

    /// Parses `ref`, or returns nil when it is not a key file of this backend's directory.
    init?(ref: String, root: String) {
        let prefix = root.hasSuffix("/") ? root : root + "/"
        guard ref.hasPrefix(prefix) else { return nil }
        let parts = ref.dropFirst(prefix.count).split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, SafeName.isTrustDomain(String(parts[0])) else { return nil }
        guard let (keyType, id) = Self.parseFileName(String(parts[1]), suffix: ".pem") else { return nil }
        self.init(root: root, trustDomain: String(parts[0]), keyType: keyType, id: id)
    }

    var folder: String { "\(root)/\(trustDomain)" }
    var baseName: String { "\(keyType.rawValue)-\(id)" }
    /// The PKCS #8 PEM private key; also the backend reference.
    var keyPath: String { "\(folder)/\(baseName).pem" }
    /// The JSON metadata sidecar.
    var metadataPath: String { "\(folder)/\(baseName).json" }

    /// Splits `<key-type>-<32 lowercase hex><suffix>`; nil for any other name.
    static func parseFileName(_ name: String, suffix: String) -> (KeyType, String)? {
        guard name.hasSuffix(suffix) else { return nil }
        let stem = name.dropLast(suffix.count)
        guard stem.count > 33 else { return nil }
        let id = stem.suffix(32)
        let separator = stem.dropLast(32).last
        guard separator == "-", id.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }),
              let keyType = KeyType(rawValue: String(stem.dropLast(33)))
        else { return nil }
        return (keyType, String(id))
    }
}
