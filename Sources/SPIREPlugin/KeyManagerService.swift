import Crypto
import Foundation
import GRPC
import PluginProtos

/// SPIRE's KeyManager v1 over the plugin's local key store. Key ids `JWT-Signer-*` are the
/// trust domain's shared JWT keys, which come from the keycoord sidecar (docs/spire.md);
/// this build does not reach the sidecar yet, so it refuses them rather than minting a
/// per-server JWT key that would break the one-JWKS promise.
final class KeyManagerService: Sendable {
    private let store: @Sendable () throws -> LocalKeyStore

    /// `store` is the configured store; it throws FAILED_PRECONDITION before Configure.
    init(store: @escaping @Sendable () throws -> LocalKeyStore) {
        self.store = store
    }

    static let service = "spire.plugin.server.keymanager.v1.KeyManager"

    var methods: [String: GRPCMethod] {
        [
            "/\(Self.service)/GenerateKey": ProtobufMethod.unary { [self] (request: Spire_Plugin_Server_Keymanager_V1_GenerateKeyRequest) in
                try generate(request)
            },
            "/\(Self.service)/GetPublicKey": ProtobufMethod.unary { [self] (request: Spire_Plugin_Server_Keymanager_V1_GetPublicKeyRequest) in
                guard let key = try store().key(request.keyID) else {
                    throw GRPCStatus(.notFound, "no key \"\(request.keyID)\"")
                }
                var response = Spire_Plugin_Server_Keymanager_V1_GetPublicKeyResponse()
                response.publicKey = Self.publicKey(id: request.keyID, key)
                return response
            },
            "/\(Self.service)/GetPublicKeys": ProtobufMethod.unary { [self] (_: Spire_Plugin_Server_Keymanager_V1_GetPublicKeysRequest) in
                var response = Spire_Plugin_Server_Keymanager_V1_GetPublicKeysResponse()
                response.publicKeys = try store().all.map { Self.publicKey(id: $0.id, $0.key) }
                return response
            },
            "/\(Self.service)/SignData": ProtobufMethod.unary { [self] (request: Spire_Plugin_Server_Keymanager_V1_SignDataRequest) in
                try sign(request)
            },
        ]
    }

    private func generate(_ request: Spire_Plugin_Server_Keymanager_V1_GenerateKeyRequest) throws -> Spire_Plugin_Server_Keymanager_V1_GenerateKeyResponse {
        guard !request.keyID.isEmpty else { throw GRPCStatus(.invalidArgument, "key_id is required") }
        guard LocalKeyStore.algorithm(request.keyType) != nil else {
            throw GRPCStatus(.invalidArgument, "key_type \(request.keyType) is not supported")
        }
        guard !request.keyID.hasPrefix("JWT-Signer-") else {
            throw GRPCStatus(.failedPrecondition, "\(request.keyID) is a shared JWT key, which the keycoord sidecar provides; this plugin build cannot reach the sidecar yet")
        }
        let store = try store()
        let key: LocalKeyStore.StoredKey
        do {
            key = try store.generate(id: request.keyID, type: request.keyType)
        } catch {
            throw GRPCStatus(.internal, "cannot store key \(request.keyID): \(error)")
        }
        var response = Spire_Plugin_Server_Keymanager_V1_GenerateKeyResponse()
        response.publicKey = Self.publicKey(id: request.keyID, key)
        return response
    }

    private func sign(_ request: Spire_Plugin_Server_Keymanager_V1_SignDataRequest) throws -> Spire_Plugin_Server_Keymanager_V1_SignDataResponse {
        guard let key = try store().key(request.keyID) else { throw GRPCStatus(.notFound, "no key \"\(request.keyID)\"") }
        let hash: HashAlgorithm
        switch request.signerOpts {
        case .hashAlgorithm(let algorithm)?:
            hash = try Self.hash(algorithm)
        case .pssOptions?:
            throw GRPCStatus(.invalidArgument, "RSA-PSS signing is not supported by this plugin build")
        case nil:
            throw GRPCStatus(.invalidArgument, "signer_opts is required")
        }
        guard request.data.count == hash.size else {
            throw GRPCStatus(.invalidArgument, "data is \(request.data.count) bytes, not a \(hash) digest of \(hash.size)")
        }
        var response = Spire_Plugin_Server_Keymanager_V1_SignDataResponse()
        do {
            response.signature = Data(try key.privateKey.sign(digest: Array(request.data), hash: hash))
        } catch {
            throw GRPCStatus(.internal, "signing with \(request.keyID) failed: \(error)")
        }
        response.keyFingerprint = key.fingerprint
        return response
    }

    private static func hash(_ algorithm: Spire_Plugin_Server_Keymanager_V1_HashAlgorithm) throws -> HashAlgorithm {
        switch algorithm {
        case .sha256: return .sha256
        case .sha384: return .sha384
        case .sha512: return .sha512
        default: throw GRPCStatus(.invalidArgument, "hash_algorithm \(algorithm) is not supported")
        }
    }

    private static func publicKey(id: String, _ key: LocalKeyStore.StoredKey) -> Spire_Plugin_Server_Keymanager_V1_PublicKey {
        var publicKey = Spire_Plugin_Server_Keymanager_V1_PublicKey()
        publicKey.id = id
        publicKey.type = key.type
        publicKey.pkixData = Data(key.privateKey.publicKey.der)
        publicKey.fingerprint = key.fingerprint
        return publicKey
    }
}
