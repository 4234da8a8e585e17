import Core
import Crypto
import Foundation

/// Records and keys for Core tests.
enum Fixtures {
    static let trustDomain = "example.org"

    static func record(_ key: PublicKey, kid: String? = nil, state: KeyState = .active, notAfter: Date,
                       tainted: Bool = false, backend: String = "external", ref: String? = nil,
                       createdAt: Date? = nil) throws -> KeyRecord {
        let type = try PublicKeyInput.keyType(of: key)
        let created = createdAt ?? notAfter.addingTimeInterval(-86400)
        return KeyRecord(trustDomain: trustDomain, kid: kid ?? KidFormat.spire.kid(for: key), keyType: type,
                         publicKey: key.der, backend: backend, backendRef: ref, createdAt: created,
                         publishedAt: created, notAfter: notAfter, activatedAt: state == .active ? created : nil,
                         state: state, tainted: tainted, createdBy: "test")
    }

    static func base64(_ bytes: [UInt8]) -> String { PEM.base64(bytes) }
}
