import Core
import Crypto
import Foundation
import GRPC
import Logging
import PluginProtos

/// SPIRE's KeyManager v1. Key ids `JWT-Signer-*` are the trust domain's shared JWT keys:
/// GenerateKey asks the sidecar which keycoord key the slot gets (`SlotAssignment`) and
/// records it; SignData signs through the key's backend without the sidecar. Every other
/// id is a per-server key of the local key store.
final class KeyManagerService: Sendable {
    private let state: @Sendable () throws -> PluginState.Configured
    private let logger: Logger

    /// `state` is the configuration; it throws FAILED_PRECONDITION before Configure.
    init(state: @escaping @Sendable () throws -> PluginState.Configured, logger: Logger) {
        self.state = state
        self.logger = logger
    }

    static let service = "spire.plugin.server.keymanager.v1.KeyManager"
    static let sharedPrefix = "JWT-Signer-"

    typealias PublicKeyMessage = Spire_Plugin_Server_Keymanager_V1_PublicKey

    var methods: [String: GRPCMethod] {
        [
            "/\(Self.service)/GenerateKey": ProtobufMethod.unary { [self] (request: Spire_Plugin_Server_Keymanager_V1_GenerateKeyRequest) in
                var response = Spire_Plugin_Server_Keymanager_V1_GenerateKeyResponse()
                response.publicKey = try await generate(request)
                return response
            },
            "/\(Self.service)/GetPublicKey": ProtobufMethod.unary { [self] (request: Spire_Plugin_Server_Keymanager_V1_GetPublicKeyRequest) in
                let store = try state().store
                var response = Spire_Plugin_Server_Keymanager_V1_GetPublicKeyResponse()
                if let slot = store.slot(request.keyID) {
                    response.publicKey = Self.publicKey(id: request.keyID, slot)
                } else if let key = store.key(request.keyID) {
                    response.publicKey = Self.publicKey(id: request.keyID, key)
                } else {
                    throw GRPCStatus(.notFound, "no key \"\(request.keyID)\"")
                }
                return response
            },
            "/\(Self.service)/GetPublicKeys": ProtobufMethod.unary { [self] (_: Spire_Plugin_Server_Keymanager_V1_GetPublicKeysRequest) in
                let store = try state().store
                var response = Spire_Plugin_Server_Keymanager_V1_GetPublicKeysResponse()
                response.publicKeys = (store.all.map { Self.publicKey(id: $0.id, $0.key) }
                    + store.slots.map { Self.publicKey(id: $0.id, $0.slot) }).sorted { $0.id < $1.id }
                return response
            },
            "/\(Self.service)/SignData": ProtobufMethod.unary { [self] (request: Spire_Plugin_Server_Keymanager_V1_SignDataRequest) in
                try await sign(request)
            },
        ]
    }

    private func generate(_ request: Spire_Plugin_Server_Keymanager_V1_GenerateKeyRequest) async throws -> PublicKeyMessage {
        guard !request.keyID.isEmpty else { throw GRPCStatus(.invalidArgument, "key_id is required") }
        guard LocalKeyStore.algorithm(request.keyType) != nil else {
            throw GRPCStatus(.invalidArgument, "key_type \(request.keyType) is not supported")
        }
        let configured = try state()
        if request.keyID.hasPrefix(Self.sharedPrefix) {
            return try await generateShared(request, configured)
        }
        let key: LocalKeyStore.StoredKey
        do {
            key = try configured.store.generate(id: request.keyID, type: request.keyType)
        } catch {
            throw GRPCStatus(.internal, "cannot store key \(request.keyID): \(error)")
        }
        return Self.publicKey(id: request.keyID, key)
    }

    /// Hands the slot a key keycoord already publishes; mints nothing.
    private func generateShared(_ request: Spire_Plugin_Server_Keymanager_V1_GenerateKeyRequest,
                                _ configured: PluginState.Configured) async throws -> PublicKeyMessage {
        guard let keyType = Self.keyType(request.keyType) else {
            throw GRPCStatus(.invalidArgument, "key_type \(request.keyType) has no keycoord key type")
        }
        let ensured = try await configured.control.ensure(keyType)
        // ensure never answers a tainted current key; the next one is confirmed separately.
        var nextIsUsable = false
        if let next = ensured.next {
            let record = try await configured.control.key(kid: next.kid)
            nextIsUsable = !record.tainted && record.state == "published"
        }
        let others = configured.store.slots.filter { $0.id != request.keyID }.map(\.slot)
        let chosen = SlotAssignment.choose(current: ensured.current, next: ensured.next, nextIsUsable: nextIsUsable,
                                           otherSlots: others)
        guard chosen.keyType == keyType else {
            throw GRPCStatus(.unavailable, "the keycoord sidecar answered a \(chosen.keyType.rawValue) key for \(keyType.rawValue)")
        }
        guard let ref = chosen.backendRef, !ref.isEmpty else {
            throw GRPCStatus(.failedPrecondition, "keycoord key \(chosen.kid) is external (no backend reference); the plugin cannot sign with it")
        }
        let slot: SharedSlot
        do {
            slot = try configured.store.assignSlot(request.keyID) { _ in SharedSlot(key: chosen, backendRef: ref, assignedAt: Date()) }
        } catch {
            throw GRPCStatus(.internal, "cannot record slot \(request.keyID): \(error)")
        }
        // SPIRE signs with a slot's key for about 5/6 of its ca_ttl after GenerateKey
        // (docs/spire.md, "The slot mapping"); past not_after the key is on its way out.
        if let ttl = configured.config.spireJWTKeyTTL, Date().addingTimeInterval(ttl * 5 / 6) > slot.notAfter {
            logger.warning("shared JWT key leaves keycoord's schedule before this server stops signing with it; keycoord's key-ttl should be at least 5 times SPIRE's ca_ttl",
                           metadata: ["slot": "\(request.keyID)", "kid": "\(slot.kid)", "not_after": "\(slot.notAfter)",
                                      "jwt_key_ttl_seconds": "\(Int(ttl))"])
        }
        logger.info("shared JWT key assigned", metadata: ["slot": "\(request.keyID)", "kid": "\(slot.kid)",
                                                         "backend": "\(slot.backend)", "key_type": "\(keyType.rawValue)"])
        return Self.publicKey(id: request.keyID, slot)
    }

    private func sign(_ request: Spire_Plugin_Server_Keymanager_V1_SignDataRequest) async throws -> Spire_Plugin_Server_Keymanager_V1_SignDataResponse {
        let configured = try state()
        let store = configured.store
        let scheme = try Self.scheme(request.signerOpts)
        guard request.data.count == scheme.hash.size else {
            throw GRPCStatus(.invalidArgument, "data is \(request.data.count) bytes, not a \(scheme.hash) digest of \(scheme.hash.size)")
        }
        var response = Spire_Plugin_Server_Keymanager_V1_SignDataResponse()
        if let slot = store.slot(request.keyID) {
            response.signature = Data(try await configured.signer.sign(slot, digest: Array(request.data), scheme: scheme))
            response.keyFingerprint = slot.fingerprint
            return response
        }
        guard let key = store.key(request.keyID) else { throw GRPCStatus(.notFound, "no key \"\(request.keyID)\"") }
        // The digest size is checked above: what remains is PSS asked of an EC key, or a salt too long.
        do {
            response.signature = Data(try key.privateKey.sign(digest: Array(request.data), scheme: scheme))
        } catch {
            throw GRPCStatus(.invalidArgument, "signing with \(request.keyID) failed: \(error)")
        }
        response.keyFingerprint = key.fingerprint
        return response
    }

    /// SPIRE's signer options: a hash alone, or PSS with Go's salt-length convention.
    private static func scheme(_ options: Spire_Plugin_Server_Keymanager_V1_SignDataRequest.OneOf_SignerOpts?) throws -> SignatureScheme {
        switch options {
        case .hashAlgorithm(let algorithm)?:
            return SignatureScheme(hash: try hash(algorithm))
        case .pssOptions(let pss)?:
            guard let salt = SignatureScheme.SaltLength(goValue: Int(pss.saltLength)) else {
                throw GRPCStatus(.invalidArgument, "pss_options.salt_length \(pss.saltLength) is not 0 (auto), -1 (equals hash) or a byte count")
            }
            return SignatureScheme(hash: try hash(pss.hashAlgorithm), pss: salt)
        case nil:
            throw GRPCStatus(.invalidArgument, "signer_opts is required")
        }
    }

    private static func hash(_ algorithm: Spire_Plugin_Server_Keymanager_V1_HashAlgorithm) throws -> HashAlgorithm {
        switch algorithm {
        case .sha256: return .sha256
        case .sha384: return .sha384
        case .sha512: return .sha512
        default: throw GRPCStatus(.invalidArgument, "hash_algorithm \(algorithm) is not supported")
        }
    }

    static func keyType(_ type: Spire_Plugin_Server_Keymanager_V1_KeyType) -> KeyType? {
        switch type {
        case .ecP256: return .ecP256
        case .ecP384: return .ecP384
        case .rsa2048: return .rsa2048
        case .rsa4096: return .rsa4096
        default: return nil
        }
    }

    static func spireType(_ type: KeyType) -> Spire_Plugin_Server_Keymanager_V1_KeyType {
        switch type {
        case .ecP256: return .ecP256
        case .ecP384: return .ecP384
        case .rsa2048: return .rsa2048
        case .rsa4096: return .rsa4096
        }
    }

    private static func publicKey(id: String, _ key: LocalKeyStore.StoredKey) -> PublicKeyMessage {
        var publicKey = PublicKeyMessage()
        publicKey.id = id
        publicKey.type = key.type
        publicKey.pkixData = Data(key.privateKey.publicKey.der)
        publicKey.fingerprint = key.fingerprint
        return publicKey
    }

    private static func publicKey(id: String, _ slot: SharedSlot) -> PublicKeyMessage {
        var publicKey = PublicKeyMessage()
        publicKey.id = id
        publicKey.type = spireType(slot.keyType)
        publicKey.pkixData = Data(slot.publicKey)
        publicKey.fingerprint = slot.fingerprint
        return publicKey
    }
}
