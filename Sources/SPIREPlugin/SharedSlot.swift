import Core
import Crypto
import Foundation

/// The shared keycoord key a `JWT-Signer-*` slot was handed, as the key file records it:
/// the kid, the backend and its reference (what signing needs) and the public key, never
/// private material.
struct SharedSlot: Codable, Sendable, Equatable {
    var kid: String
    var keyType: KeyType
    var backend: String
    var backendRef: String
    /// DER SubjectPublicKeyInfo, base64 in the file.
    let publicKey: [UInt8]
    /// When keycoord retires the key from signing; SPIRE must have moved on by then.
    var notAfter: Date
    var assignedAt: Date
    /// Hex SHA-256 of the DER SubjectPublicKeyInfo, like the local keys' fingerprints;
    /// worked out once, as every SignData answer carries it. Not stored in the file.
    let fingerprint: String

    enum CodingKeys: String, CodingKey {
        case kid, backend
        case keyType = "key_type", backendRef = "backend_ref", publicKey = "public_key", notAfter = "not_after"
        case assignedAt = "assigned_at"
    }

    init(key: ControlAPIClient.Key, backendRef: String, assignedAt: Date) {
        kid = key.kid
        keyType = key.keyType
        backend = key.backend
        self.backendRef = backendRef
        publicKey = key.publicKey
        notAfter = key.notAfter
        self.assignedAt = assignedAt
        fingerprint = Self.fingerprint(key.publicKey)
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        kid = try container.decode(String.self, forKey: .kid)
        keyType = try container.decode(KeyType.self, forKey: .keyType)
        backend = try container.decode(String.self, forKey: .backend)
        backendRef = try container.decode(String.self, forKey: .backendRef)
        guard let der = PEM.decodeBase64(try container.decode(String.self, forKey: .publicKey)) else {
            throw DecodingError.dataCorruptedError(forKey: .publicKey, in: container, debugDescription: "not base64")
        }
        publicKey = der
        fingerprint = Self.fingerprint(der)
        notAfter = Date(timeIntervalSince1970: try container.decode(Double.self, forKey: .notAfter))
        assignedAt = Date(timeIntervalSince1970: try container.decode(Double.self, forKey: .assignedAt))
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(kid, forKey: .kid)
        try container.encode(keyType, forKey: .keyType)
        try container.encode(backend, forKey: .backend)
        try container.encode(backendRef, forKey: .backendRef)
        try container.encode(PEM.base64(publicKey), forKey: .publicKey)
        try container.encode(notAfter.timeIntervalSince1970, forKey: .notAfter)
        try container.encode(assignedAt.timeIntervalSince1970, forKey: .assignedAt)
    }

    private static func fingerprint(_ publicKey: [UInt8]) -> String { Hex.encode(Digest.sha256(publicKey)) }
}
