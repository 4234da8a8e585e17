import Crypto
import Foundation
@testable import Backends

/// AWS KMS in memory, behind the AWS backend's operations protocol: real OpenSSL keys,
/// DER signatures over a `DIGEST` message, tags, aliases, pending deletion, and KMS error
/// codes. `omitCreationDate` makes DescribeKey answer without `CreationDate`, as the
/// backend must tolerate.
final class InMemoryAWSKMS: AWSKMSOperations, @unchecked Sendable {
    private struct Key {
        var metadata: AWSKMSAPI.KeyMetadata
        var privateKey: PrivateKey
        var tags: [String: String]
    }

    private let lock = NSLock()
    private var keys: [String: Key] = [:]
    private var aliases: [String: String] = [:]
    var omitCreationDate = false

    func createKey(_ request: AWSKMSAPI.CreateKeyRequest) async throws -> AWSKMSAPI.KeyMetadata {
        let algorithm: KeyAlgorithm
        switch request.KeySpec {
        case "ECC_NIST_P256": algorithm = .ecP256
        case "ECC_NIST_P384": algorithm = .ecP384
        case "RSA_2048": algorithm = .rsa(bits: 2048)
        case "RSA_4096": algorithm = .rsa(bits: 4096)
        default: throw Self.error("CreateKey", "ValidationException", "unsupported KeySpec \(request.KeySpec)")
        }
        let privateKey = try PrivateKey.generate(algorithm)
        return locked {
            let id = UUID().uuidString.lowercased()
            let metadata = AWSKMSAPI.KeyMetadata(KeyId: id, Arn: "arn:aws:kms:us-east-1:111122223333:key/\(id)",
                                                 CreationDate: Date().timeIntervalSince1970, Enabled: true, KeyState: "Enabled",
                                                 KeySpec: request.KeySpec, KeyUsage: request.KeyUsage)
            keys[id] = Key(metadata: metadata, privateKey: privateKey,
                           tags: Dictionary(request.Tags.map { ($0.TagKey, $0.TagValue) }) { $1 })
            return metadata
        }
    }

    func describeKey(keyID: String) async throws -> AWSKMSAPI.KeyMetadata {
        try locked {
            var metadata = try key(keyID, "DescribeKey").metadata
            if omitCreationDate { metadata.CreationDate = nil }
            return metadata
        }
    }

    func getPublicKey(keyID: String) async throws -> AWSKMSAPI.GetPublicKeyResponse {
        try locked {
            let entry = try enabled(keyID, "GetPublicKey")
            return AWSKMSAPI.GetPublicKeyResponse(KeyId: entry.metadata.Arn, PublicKey: PEM.base64(entry.privateKey.publicKey.der),
                                                  KeySpec: entry.metadata.KeySpec)
        }
    }

    func sign(_ request: AWSKMSAPI.SignRequest) async throws -> AWSKMSAPI.SignResponse {
        let entry = try locked { try enabled(request.KeyId, "Sign") }
        guard request.MessageType == "DIGEST", let digest = PEM.decodeBase64(request.Message) else {
            throw Self.error("Sign", "ValidationException", "this in-memory KMS signs DIGEST messages only")
        }
        let hash: HashAlgorithm = request.SigningAlgorithm.hasSuffix("384") ? .sha384 : .sha256
        guard digest.count == hash.size else {
            throw Self.error("Sign", "ValidationException", "Digest is invalid length for algorithm \(request.SigningAlgorithm).")
        }
        return AWSKMSAPI.SignResponse(Signature: PEM.base64(try entry.privateKey.sign(digest: digest, hash: hash)))
    }

    func tagResource(keyID: String, tags: [AWSKMSAPI.Tag]) async throws {
        try locked {
            let id = try key(keyID, "TagResource").metadata.KeyId
            for tag in tags { keys[id]?.tags[tag.TagKey] = tag.TagValue }
        }
    }

    func listResourceTags(keyID: String, marker: String?) async throws -> AWSKMSAPI.ListResourceTagsResponse {
        try locked {
            let tags = try key(keyID, "ListResourceTags").tags.sorted { $0.key < $1.key }
            return AWSKMSAPI.ListResourceTagsResponse(Tags: tags.map { AWSKMSAPI.Tag(TagKey: $0.key, TagValue: $0.value) },
                                                      NextMarker: nil, Truncated: false)
        }
    }

    func createAlias(name: String, targetKeyID: String) async throws {
        try locked {
            guard aliases[name] == nil else { throw Self.error("CreateAlias", "AlreadyExistsException", "\(name) exists") }
            aliases[name] = try key(targetKeyID, "CreateAlias").metadata.KeyId
        }
    }

    func updateAlias(name: String, targetKeyID: String) async throws {
        try locked {
            guard aliases[name] != nil else { throw Self.error("UpdateAlias", "NotFoundException", "\(name) not found") }
            aliases[name] = try key(targetKeyID, "UpdateAlias").metadata.KeyId
        }
    }

    func listKeys(marker: String?) async throws -> AWSKMSAPI.ListKeysResponse {
        locked {
            // Pages of two, so the backend's paging is exercised.
            let all = keys.values.map(\.metadata).sorted { $0.KeyId < $1.KeyId }
            let start = marker.flatMap(Int.init) ?? 0
            let page = all.dropFirst(start).prefix(2)
            let truncated = start + page.count < all.count
            return AWSKMSAPI.ListKeysResponse(Keys: page.map { .init(KeyId: $0.KeyId, KeyArn: $0.Arn) },
                                              NextMarker: truncated ? String(start + page.count) : nil, Truncated: truncated)
        }
    }

    func scheduleKeyDeletion(keyID: String, pendingWindowInDays: Int) async throws {
        try locked {
            let id = try key(keyID, "ScheduleKeyDeletion").metadata.KeyId
            guard keys[id]?.metadata.KeyState == "Enabled" else {
                throw Self.error("ScheduleKeyDeletion", "KMSInvalidStateException", "\(keyID) is pending deletion")
            }
            keys[id]?.metadata.KeyState = "PendingDeletion"
            keys[id]?.metadata.Enabled = false
        }
    }

    /// A key by id or ARN.
    private func key(_ ref: String, _ operation: String) throws -> Key {
        guard let entry = keys[AWSKMSBackend.keyID(ref)] else {
            throw Self.error(operation, "NotFoundException", "Key '\(ref)' does not exist")
        }
        return entry
    }

    private func enabled(_ ref: String, _ operation: String) throws -> Key {
        let entry = try key(ref, operation)
        guard entry.metadata.KeyState == "Enabled" else {
            throw Self.error(operation, "KMSInvalidStateException", "\(ref) is \(entry.metadata.KeyState ?? "?")")
        }
        return entry
    }

    private static func error(_ operation: String, _ code: String, _ message: String) -> AWSServiceError {
        AWSServiceError(service: "KMS", operation: operation, status: 400, code: code, message: message)
    }

    private func locked<R>(_ body: () throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }
}
